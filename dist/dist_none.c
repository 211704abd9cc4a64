/* dist/ in a build without MPI: every call fails with one clear message
 * (dist/dist.h), so a program that uses dist links and can tell its user. */
#include <stdlib.h>

#include "dist/dist.h"
#include "tensor/error.h"

static int unavailable(void) { return tg_error_set("dist: tapegrad was built without MPI"); }

int tg_dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return unavailable();
}
int tg_dist_finalize(void) { return unavailable(); }
int tg_dist_rank(void) { return unavailable(); }
int tg_dist_world_size(void) { return unavailable(); }
bool tg_dist_is_main(void) { return true; }
int tg_dist_barrier(void) { return unavailable(); }
int tg_dist_abort(int status)
{
    (void)status;
    return unavailable();
}

int tg_dist_launcher_size(void)
{
    const char *names[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        if (value && *value)
            return atoi(value);
    }
    return 0;
}

int tg_dist_check_model(const tg_model *model)
{
    (void)model;
    return unavailable();
}
int tg_dist_broadcast_model(tg_model *model)
{
    (void)model;
    return unavailable();
}
int tg_dist_broadcast_checkpoint(tg_checkpoint *ck)
{
    (void)ck;
    return unavailable();
}
int tg_dist_split(int64_t global, int64_t *first, int64_t *count)
{
    (void)global;
    (void)first;
    (void)count;
    return unavailable();
}
int tg_dist_average(double *values, int n)
{
    (void)values;
    (void)n;
    return unavailable();
}

tg_dist_ddp *tg_dist_ddp_new(tg_model *model, tg_dist_ddp_config config)
{
    (void)model;
    (void)config;
    unavailable();
    return NULL;
}
int tg_dist_ddp_backward(tg_dist_ddp *ddp, tg_tensor *loss)
{
    (void)ddp;
    (void)loss;
    return unavailable();
}
int tg_dist_ddp_wait(tg_dist_ddp *ddp)
{
    (void)ddp;
    return unavailable();
}
void tg_dist_ddp_set_sync(tg_dist_ddp *ddp, bool sync)
{
    (void)ddp;
    (void)sync;
}
void tg_dist_ddp_free(tg_dist_ddp *ddp) { (void)ddp; }
tg_dist_ddp_stats tg_dist_ddp_get_stats(const tg_dist_ddp *ddp)
{
    (void)ddp;
    return (tg_dist_ddp_stats){ 0 };
}
