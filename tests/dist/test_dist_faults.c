/*
 * tests/dist/test_dist_faults.c: examples/training_loop under mpirun with
 * --dist: what it refuses, and a rank killed mid-training.
 */
#define _DEFAULT_SOURCE /* mkdtemp, setenv, kill, usleep */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dist_run.h"

#define TRAINING_LOOP EXAMPLES_DIR "/training_loop"

static char dir[64];

static void setup(void)
{
    tg_test_setup();
    dist_run_environment();
    snprintf(dir, sizeof dir, "/tmp/tg_dist_faults_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_assert_eq(system(command), 0);
    tg_test_teardown();
}

TestSuite(dist_faults, .init = setup, .fini = teardown, .timeout = 120);

/* Runs `command` with its output in dir/log and asserts exit status 2 (or
 * the job ended by the launcher: any failure) and the message. */
static void assert_refused(const char *command, const char *message)
{
    char log[128];
    snprintf(log, sizeof log, "%s/log", dir);
    int status = dist_run("%s >/dev/null 2>%s", command, log);
    cr_assert_neq(status, 0, "%s succeeded", command);
    dist_assert_file_contains(log, message);
}

Test(dist_faults, the_dist_flag_without_mpirun)
{
    assert_refused(TRAINING_LOOP " --dist --out /tmp",
                   "training_loop: --dist needs mpirun: mpirun -np N training_loop --dist");
}

Test(dist_faults, mpirun_without_the_dist_flag)
{
    assert_refused(DIST_MPIRUN " -np 2 " TRAINING_LOOP " --out /tmp",
                   "started by mpirun as one of 2 processes without --dist");
}

Test(dist_faults, a_world_of_one_rank)
{
    assert_refused(DIST_MPIRUN " -np 1 " TRAINING_LOOP " --dist --out /tmp",
                   "training_loop: --dist with one rank: run it without --dist");
}

Test(dist_faults, a_rank_count_that_does_not_divide_the_batch)
{
    assert_refused(DIST_MPIRUN " -np 3 " TRAINING_LOOP " --dist --out /tmp",
                   "dist: 3 ranks do not divide a batch of 32 rows");
}

/* A hostfile naming a host that does not answer: ssh gives up after its
 * connect timeout and mpirun says it could not start its daemon there. */
Test(dist_faults, a_hostfile_naming_an_unreachable_host)
{
    char hosts[128], command[512];
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    FILE *f = fopen(hosts, "w");
    cr_assert_not_null(f);
    fprintf(f, "localhost slots=1\n10.255.255.1 slots=1\n"); /* a reserved, unrouted address */
    fclose(f);
    snprintf(command, sizeof command,
             DIST_MPIRUN " --hostfile %s --mca plm_rsh_args '-o ConnectTimeout=5 -o BatchMode=yes' "
                         "-np 2 " TRAINING_LOOP " --dist --out %s",
             hosts, dir);
    time_t start = time(NULL);
    assert_refused(command, "ORTE was unable to reliably start one or more daemons");
    cr_assert_leq(time(NULL) - start, 30, "took %lld s", (long long)(time(NULL) - start));
}

/* ---- A rank killed mid-training --------------------------------------------------- */

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The child of `parent` whose environment says it is MPI rank `rank`, or -1. */
static pid_t find_rank(pid_t parent, int rank)
{
    DIR *proc = opendir("/proc");
    cr_assert_not_null(proc);
    char wanted[64];
    snprintf(wanted, sizeof wanted, "OMPI_COMM_WORLD_RANK=%d", rank);
    pid_t found = -1;
    for (struct dirent *e; found < 0 && (e = readdir(proc));) {
        char path[300];
        int ppid = 0;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int fields = fscanf(f, "%*d %*s %*c %d", &ppid);
        fclose(f);
        if (fields != 1 || ppid != parent)
            continue;
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        static char env[1 << 16];
        size_t n = fread(env, 1, sizeof env - 1, f);
        fclose(f);
        for (size_t at = 0; at < n; at += strlen(env + at) + 1)
            if (strcmp(env + at, wanted) == 0)
                found = (pid_t)atoi(e->d_name);
    }
    closedir(proc);
    return found;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Asserts that the two checkpoints hold the same tensors, bit for bit. */
static void assert_same_checkpoint(const char *a, const char *b)
{
    tg_safetensors *fa = tg_safetensors_load(a), *fb = tg_safetensors_load(b);
    cr_assert(fa && fb, "%s", tg_error_message());
    cr_assert_eq(tg_safetensors_count(fa), tg_safetensors_count(fb));
    for (int i = 0; i < tg_safetensors_count(fa); i++) {
        const tg_tensor *ta = tg_safetensors_tensor(fa, i);
        const tg_tensor *tb = tg_safetensors_get(fb, tg_safetensors_name(fa, i));
        cr_assert(tb && ta->numel == tb->numel);
        cr_assert(memcmp(ta->data, tb->data, sizeof(float) * (size_t)ta->numel) == 0,
                  "%s differs", tg_safetensors_name(fa, i));
    }
    tg_safetensors_free(fa);
    tg_safetensors_free(fb);
}

enum { STEPS = 1000 };

Test(dist_faults, a_killed_rank_ends_the_job_and_the_last_checkpoint_resumes_it)
{
    char whole[128], cut[128], resumed[128], command[1024], log[128], ckpt[160];
    snprintf(whole, sizeof whole, "%s/whole", dir);
    snprintf(cut, sizeof cut, "%s/cut", dir);
    snprintf(resumed, sizeof resumed, "%s/resumed", dir);
    snprintf(log, sizeof log, "%s/killed.log", dir);
    snprintf(ckpt, sizeof ckpt, "%s/training_loop.ckpt", cut);
    cr_assert(mkdir(whole, 0700) == 0 && mkdir(cut, 0700) == 0 && mkdir(resumed, 0700) == 0);

    /* The run that is not interrupted. */
    cr_assert_eq(dist_run("%s -np 2 %s --dist --steps %d --out %s >/dev/null", DIST_MPIRUN,
                          TRAINING_LOOP, STEPS, whole), 0);

    /* The same run, saving every 50 steps; rank 1 is killed once rank 0
     * has saved. */
    snprintf(command, sizeof command, "exec %s -np 2 %s --dist --steps %d --checkpoint-every 50 "
             "--out %s >/dev/null 2>%s", DIST_MPIRUN, TRAINING_LOOP, STEPS, cut, log);
    pid_t mpirun = fork();
    cr_assert_geq(mpirun, 0);
    if (mpirun == 0) {
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    double start = seconds();
    while (!file_exists(ckpt) && seconds() - start < 60)
        usleep(10000);
    pid_t victim = find_rank(mpirun, 1);
    cr_assert_gt(victim, 0, "rank 1 not found (checkpoint %s)", file_exists(ckpt) ? "written" : "missing");
    cr_assert_eq(kill(victim, SIGKILL), 0);
    double killed = seconds();
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(mpirun, &status, WNOHANG)) == 0 && seconds() - killed < 30)
        usleep(20000);
    if (done == 0) {
        kill(mpirun, SIGKILL);
        waitpid(mpirun, &status, 0);
        cr_assert_fail("the job still ran 30 s after rank 1 was killed");
    }
    cr_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 0, "the job reported success");
    dist_assert_file_contains(log, "process rank 1");
    dist_assert_file_contains(log, "signal 9");

    /* The checkpoint is whole, and resuming from it ends where the
     * uninterrupted run ended. */
    tg_safetensors *saved = tg_safetensors_load(ckpt);
    cr_assert_not_null(saved, "%s", tg_error_message());
    int64_t step = atoll(tg_safetensors_metadata(saved, "step"));
    tg_safetensors_free(saved);
    cr_assert(step > 0 && step < STEPS && step % 50 == 0, "saved at step %lld", (long long)step);
    cr_assert_eq(dist_run("%s -np 2 %s --dist --steps %d --load %s --out %s >/dev/null", DIST_MPIRUN,
                          TRAINING_LOOP, STEPS, ckpt, resumed), 0);
    char a[160], b[160];
    snprintf(a, sizeof a, "%s/training_loop.ckpt", whole);
    snprintf(b, sizeof b, "%s/training_loop.ckpt", resumed);
    assert_same_checkpoint(a, b);
}
