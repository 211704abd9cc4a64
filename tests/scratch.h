/*
 * tests/scratch.h: a scratch directory for the files of a test, and whole
 * files read back, for the tests that write files (io, optim, plot,
 * reliability).
 *
 * Needs nftw and mkdtemp: define _XOPEN_SOURCE 700 (or _GNU_SOURCE) before
 * the first #include of the test program.
 */
#ifndef TG_TEST_SCRATCH_H
#define TG_TEST_SCRATCH_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

/* Makes a fresh directory from dir, a template ending in XXXXXX that is
 * rewritten in place with the directory's name. */
static inline void scratch_make(char *dir) { cr_assert_not_null(mkdtemp(dir), "mkdtemp %s failed", dir); }

static inline int scratch_remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

/* Removes dir and everything in it. */
static inline void scratch_remove(const char *dir) { nftw(dir, scratch_remove_entry, 8, FTW_DEPTH | FTW_PHYS); }

/* The path of `name` in dir, in one of a pool of buffers used in turn (a
 * test may hold a few at once). */
static inline const char *scratch_path(const char *dir, const char *name)
{
    static char pool[16][512];
    static int next;
    char *path = pool[next++ % 16];
    snprintf(path, 512, "%s/%s", dir, name);
    return path;
}

/* Number of entries in dir other than . and .. (to see leftover files). */
static inline int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The pid of a process that has ended (a save's temporary named after it
 * is stale). */
static inline pid_t dead_pid(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(0);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    return pid;
}

/* The whole file followed by a NUL (free it), or NULL when it cannot be
 * opened; *n, when n is not NULL, gets its size. */
static inline unsigned char *read_whole_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)size + 1);
    cr_assert_eq(fread(bytes, 1, (size_t)size, f), (size_t)size);
    bytes[size] = '\0';
    fclose(f);
    if (n)
        *n = (size_t)size;
    return bytes;
}

/* As read_whole_file, for a file the test expects to exist. */
static inline unsigned char *read_existing_file(const char *path, size_t *n)
{
    unsigned char *bytes = read_whole_file(path, n);
    cr_assert_not_null(bytes, "cannot open %s", path);
    return bytes;
}

#endif
