/*
 * tests/dist/dist_run.h: starting MPI jobs from the distributed tests.
 *
 * DIST_MPIRUN is mpirun with the options every test needs: more ranks
 * than cores (--oversubscribe) and no binding, so ranks share two cores.
 * Open MPI refuses to run as root unless told that it is on purpose (CI
 * runs as root): dist_run_environment says so. In a sanitizer build it
 * also turns LeakSanitizer off in the jobs it starts: Open MPI's plugins
 * leave allocations behind at exit, reported from unloaded modules that no
 * suppression can name (AddressSanitizer's other checks stay on).
 */
#ifndef TG_TEST_DIST_RUN_H
#define TG_TEST_DIST_RUN_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support.h"

#define DIST_MPIRUN MPIEXEC " --oversubscribe --bind-to none"

static inline void dist_run_environment(void)
{
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    const char *asan = getenv("ASAN_OPTIONS");
    char options[512];
    snprintf(options, sizeof options, "%s%sdetect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", options, 1);
}

/* Runs the command (printf-style) through the shell, stopped after 60 s;
 * its exit status, or -1 when it did not exit normally. */
__attribute__((format(printf, 1, 2))) static inline int dist_run(const char *format, ...)
{
    char command[2048] = "timeout -k 5 60 ";
    size_t used = strlen(command);
    va_list args;
    va_start(args, format);
    vsnprintf(command + used, sizeof command - used, format, args);
    va_end(args);
    int status = system(command);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Asserts that the text file at path contains fragment. */
static inline void dist_assert_file_contains(const char *path, const char *fragment)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cr_assert(strstr(text, fragment), "%s does not say \"%s\"; it says:\n%s", path, fragment, text);
}

#endif
