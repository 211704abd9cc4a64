/*
 * tests/fuzz/fuzz_main.c: the libFuzzer entry point of one target, chosen
 * when compiling with -DFUZZ_CHECK=fuzz_<target> (tests/fuzz/CMakeLists.txt
 * builds one program per target). A broken invariant aborts, which
 * libFuzzer reports as a crash and saves the input.
 */
#define _GNU_SOURCE /* fuzz_more.h: mkdtemp, mkfifo, symlink, nftw */

#include <stdio.h>
#include <stdlib.h>

#include "fuzz_checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *problem = FUZZ_CHECK(data, size);
    if (problem) {
        fprintf(stderr, "broken invariant: %s (last error: %s)\n", problem, tg_error_message());
        abort();
    }
    tg_graph_reset();
    return 0;
}
