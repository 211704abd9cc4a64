/*
 * tests/dist/test_dist_without_mpi.c: in a build without MPI, dist/ is
 * dist/dist_none.c, and every call says so instead of failing to link.
 * This program links that file itself (its definitions take the place of
 * the library's MPI ones), so an MPI build checks it too.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "../../dist/dist_none.c"

#include "support.h"

TestSuite(dist_without_mpi, .init = tg_test_setup, .fini = tg_test_teardown);

#define assert_unavailable(failed)                                                             \
    do {                                                                                       \
        cr_assert(failed);                                                                     \
        cr_assert_str_eq(tg_error_message(), "dist: tapegrad was built without MPI");          \
        tg_error_clear();                                                                      \
    } while (0)

Test(dist_without_mpi, a_dist_call_in_a_build_without_mpi_fails_clearly)
{
    assert_unavailable(tg_dist_init(NULL, NULL) != 0);
    assert_unavailable(tg_dist_rank() < 0);
    assert_unavailable(tg_dist_world_size() < 0);
    assert_unavailable(tg_dist_barrier() != 0);
    assert_unavailable(tg_dist_abort(3) != 0);
    tg_model *model = tg_model_new(1);
    assert_unavailable(tg_dist_broadcast_model(model) != 0);
    assert_unavailable(!tg_dist_ddp_new(model, (tg_dist_ddp_config){ 0 }));
    int64_t first, count;
    assert_unavailable(tg_dist_split(8, &first, &count) != 0);
    double loss = 1;
    assert_unavailable(tg_dist_average(&loss, 1) != 0);
    cr_assert_eq(loss, 1.0);
    cr_assert(tg_dist_is_main(), "the only process is the main one");
    tg_model_free(model);
}

Test(dist_without_mpi, the_launcher_is_seen_without_mpi)
{
    unsetenv("PMIX_SIZE");
    unsetenv("PMI_SIZE");
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    cr_assert_eq(tg_dist_launcher_size(), 4);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    cr_assert_eq(tg_dist_launcher_size(), 0);
}
