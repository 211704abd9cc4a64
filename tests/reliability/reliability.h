/*
 * tests/reliability/reliability.h: a scratch directory per test, removing
 * leftover temporaries, and running a piece of a test in a child process,
 * for the reliability tests.
 */
#ifndef TG_TEST_RELIABILITY_H
#define TG_TEST_RELIABILITY_H

#define _GNU_SOURCE /* unshare, mount namespaces */

#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch.h"

/* Each test runs in its own process with its own scratch directory. */
static char rel_dir[64];

static inline void rel_setup(void)
{
    tg_test_setup();
    /* Children are forked: no thread pool may exist in the parent. */
    tg_set_num_threads(1);
    strcpy(rel_dir, "/tmp/tg_reliability_XXXXXX");
    scratch_make(rel_dir);
}

static inline void rel_teardown(void)
{
    scratch_remove(rel_dir);
    tg_test_teardown(); /* also fails the test on a leak */
}

/* A path in the scratch directory (see scratch_path). */
static inline const char *rel_path(const char *name) { return scratch_path(rel_dir, name); }

/* Removes the temporaries (".tapegrad-<pid>-<hex>", tensor/file.h) that an
 * interrupted atomic write left in dir; returns how many there were. */
static inline int rel_remove_temporaries(const char *dir)
{
    char path[1024];
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, ".tapegrad-", 10) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            cr_assert_eq(unlink(path), 0, "cannot remove %s", path);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* What a child process reports back: a line of text per finding. */
typedef struct rel_report {
    char text[4096];
} rel_report;

/* Appends a printf-style line to a report. */
static inline void rel_note(rel_report *report, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void rel_note(rel_report *report, const char *fmt, ...)
{
    size_t used = strlen(report->text);
    va_list args;
    va_start(args, fmt);
    vsnprintf(report->text + used, sizeof report->text - used, fmt, args);
    va_end(args);
    used = strlen(report->text);
    if (used + 1 < sizeof report->text)
        strcpy(report->text + used, "\n");
}

/* Runs fn(report, arg) in a child process and returns what it reported;
 * asserts that the child exited normally. For what must not touch the
 * test process: resource limits, namespaces, dropped privileges. */
static inline rel_report rel_in_child(void (*fn)(rel_report *, void *), void *arg)
{
    rel_report *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(shared, MAP_FAILED);
    shared->text[0] = '\0';
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        fn(shared, arg);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    rel_report report = *shared;
    munmap(shared, sizeof *shared);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child process did not end normally (status 0x%x); it reported:\n%s", status,
              report.text);
    return report;
}

/* Asserts that a child's report holds the line `line`. */
#define rel_assert_reported(report, line)                                                       \
    cr_assert(strstr((report).text, line "\n") != NULL, "no line \"%s\" in the report:\n%s", \
              line, (report).text)

#endif
