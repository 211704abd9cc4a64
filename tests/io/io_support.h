/*
 * tests/io/io_support.h: a scratch directory per test, writing files and
 * the path of the committed fixtures, for the io tests.
 */
#ifndef TG_TEST_IO_SUPPORT_H
#define TG_TEST_IO_SUPPORT_H

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* nftw */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scratch.h"

/* Each test runs in its own process with its own scratch directory. */
static char io_dir[64];

static inline void io_setup(void)
{
    tg_test_setup();
    strcpy(io_dir, "/tmp/tg_io_test_XXXXXX");
    scratch_make(io_dir);
}

static inline void io_teardown(void)
{
    scratch_remove(io_dir);
    tg_test_teardown(); /* also fails the test on a leak */
}

/* A buffer for a path, from a small pool reused in turn. */
static inline char *io_path_buffer(void)
{
    static char pool[16][512];
    static int next;
    return pool[next++ % 16];
}

/* A path in the scratch directory. */
static inline const char *io_path(const char *name)
{
    char *path = io_path_buffer();
    snprintf(path, 512, "%s/%s", io_dir, name);
    return path;
}

/* The committed fixture tests/fixtures/io/<name>. */
static inline const char *io_fixture(const char *name)
{
    const char *here = __FILE__; /* .../tests/io/io_support.h */
    const char *slash = strrchr(here, '/');
    char *path = io_path_buffer();
    if (slash)
        snprintf(path, 512, "%.*s/../fixtures/io/%s", (int)(slash - here), here, name);
    else
        snprintf(path, 512, "../fixtures/io/%s", name);
    return path;
}

static inline void io_write(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static inline void io_write_text(const char *path, const char *text)
{
    io_write(path, text, strlen(text));
}

#endif
