/*
 * dist/dist_impl.h: what dist.c shares with ddp.c (internal).
 */
#ifndef TG_DIST_IMPL_H
#define TG_DIST_IMPL_H

/* -1 with "dist: <call> failed: <MPI's message for rc>". */
int tg_dist_mpi_error(const char *call, int rc);
/* 0 once tg_dist_init has run, else -1 with an error naming call. */
int tg_dist_need_started(const char *call);

#endif
