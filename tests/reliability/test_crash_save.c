/* Checkpoints survive the crashes of the program writing them: a training
 * run that saves after every step, killed with SIGKILL at 50 random
 * moments, always leaves a checkpoint that loads and equals a state the
 * run really had; and a save into a full disk or an unwritable directory
 * fails with a clear error and leaves the previous checkpoint intact. */
#include "reliability.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "recurrent_run.h"

TestSuite(crash_save, .init = rel_setup, .fini = rel_teardown, .timeout = 600);

/* MAX_STEPS is far more than 50 runs of at most 150 ms reach on a fast disk
 * (4,400 steps seen where fsync is quick), so a child never finishes by
 * itself. */
enum { SEED = 11, KILLS = 50, MAX_STEPS = 40000, FINAL_STEPS = 10 };

/* ---- Killed at random moments ------------------------------------------------------ */

/* The child: resumes from path when it exists, then trains and saves
 * after every step until `steps` steps are done. Exits 0 when done, else
 * with the stage that failed. */
static void train_and_save(const char *path, int64_t steps)
{
    recurrent_run r = run_new(SEED, RUN_LSTM);
    if (!r.model)
        _exit(2);
    if (access(path, F_OK) == 0 && run_load(&r, path) != 0)
        _exit(3);
    while (r.step < steps)
        if (run_step(&r) != 0 || run_save(&r, path) != 0)
            _exit(4);
    run_free(&r);
    tg_graph_release();
    _exit(0);
}

static pid_t start_training(const char *path, int64_t steps)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0)
        train_and_save(path, steps);
    return pid;
}

/* The digest of the uninterrupted run after each step, computed as far as
 * asked. */
typedef struct reference {
    recurrent_run run;
    uint64_t hash[MAX_STEPS + 1];
    int64_t known; /* hash[0..known] are computed */
} reference;

static uint64_t reference_hash(reference *ref, int64_t step)
{
    cr_assert_leq(step, MAX_STEPS, "the child got further than the test expects");
    while (ref->known < step) {
        cr_assert_eq(run_step(&ref->run), 0, "%s", tg_error_message());
        ref->hash[++ref->known] = run_hash(&ref->run);
    }
    return ref->hash[step];
}

/* Loads the checkpoint into a run started from another seed and returns
 * its step; asserts that it equals the uninterrupted run at that step.
 * The test thread's default generator (which a load sets) is kept for the
 * reference run. */
static int64_t check_checkpoint(const char *path, reference *ref)
{
    tg_rng default_rng = *tg_rng_default();
    recurrent_run loaded = run_new(SEED + 100, RUN_LSTM);
    cr_assert_eq(run_load(&loaded, path), 0, "the checkpoint does not load: %s",
                 tg_error_message());
    uint64_t hash = run_hash(&loaded);
    int64_t step = loaded.step;
    run_free(&loaded);
    *tg_rng_default() = default_rng;
    cr_assert_eq(hash, reference_hash(ref, step),
                 "the checkpoint of step %lld is not the state the run had", (long long)step);
    return step;
}

Test(crash_save, a_run_killed_at_50_random_moments_always_leaves_a_saved_state)
{
    static reference ref;
    ref.run = run_new(SEED, RUN_LSTM);
    cr_assert_not_null(ref.run.model, "%s", tg_error_message());
    ref.hash[0] = run_hash(&ref.run);
    const char *path = rel_path("run.ckpt");
    tg_rng moments = tg_rng_new(2024);
    int64_t reached = 0;
    int mid_write = 0;
    for (int kill_number = 0; kill_number < KILLS; kill_number++) {
        pid_t child = start_training(path, MAX_STEPS);
        /* 1 to 150 ms: within loading, a step, or a save (whose fsync takes
         * from 1 to 40 ms, depending on the disk) */
        usleep((useconds_t)(1000 + tg_rng_below(&moments, 149000)));
        cr_assert_eq(kill(child, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(child, &status, 0), child);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "kill %d: the child ended by itself (status 0x%x)", kill_number, status);
        /* A kill between the temporary's creation and the rename leaves it. */
        mid_write += rel_remove_temporaries(rel_dir) > 0;
        if (access(path, F_OK) != 0) {
            cr_assert_eq(reached, 0, "kill %d: the checkpoint disappeared", kill_number);
            continue;
        }
        int64_t step = check_checkpoint(path, &ref);
        cr_assert_geq(step, reached, "kill %d: the checkpoint went back from step %lld to %lld",
                      kill_number, (long long)reached, (long long)step);
        reached = step;
    }
    /* Resumed once more and left to finish: the end of the uninterrupted run. */
    int status;
    pid_t child = start_training(path, reached + FINAL_STEPS);
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the last run failed (status 0x%x)",
              status);
    cr_assert_eq(check_checkpoint(path, &ref), reached + FINAL_STEPS);
    cr_assert_gt(reached, 0, "no checkpoint was ever written");
    cr_assert_gt(mid_write, 0, "no kill landed inside a save: the test proves nothing");
    fprintf(stderr, "crash_save: %d kills survived, %d of them during a write; the run reached "
            "step %lld\n", KILLS, mid_write, (long long)reached);
    run_free(&ref.run);
}

/* ---- A full disk, an unwritable directory ---------------------------------------------- */

/* Gives this (child) process a mount namespace of its own, entering a new
 * user namespace first when it is not root. 0, or -1 when the system
 * allows neither. */
static int own_mount_namespace(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return -1;
        char map[64];
        int fd;
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        if ((fd = open("/proc/self/uid_map", O_WRONLY)) < 0 || write(fd, map, strlen(map)) < 0)
            return -1;
        close(fd);
        if ((fd = open("/proc/self/setgroups", O_WRONLY)) >= 0) {
            if (write(fd, "deny", 4) < 0)
                return -1;
            close(fd);
        }
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        if ((fd = open("/proc/self/gid_map", O_WRONLY)) < 0 || write(fd, map, strlen(map)) < 0)
            return -1;
        close(fd);
    }
    /* Nothing mounted here may show outside. */
    return mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

/* Writes into dir until the file system is full. */
static void fill_up(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/filler", dir);
    FILE *f = fopen(path, "wb");
    static const char block[4096];
    while (f && fwrite(block, 1, sizeof block, f) == sizeof block)
        ;
    if (f)
        fclose(f);
}

/* Saves a run's checkpoint to path expecting a failure, and reports the
 * error and whether the file at path is still the one before (bytes, and
 * it loads). */
static void save_must_fail(rel_report *report, recurrent_run *r, const char *path,
                           const char *what)
{
    size_t n_before = 0, n_after = 0;
    unsigned char *before = read_whole_file(path, &n_before);
    tg_error_clear();
    int rc = run_save(r, path);
    rel_note(report, "%s: save returned %d: %s", what, rc, tg_error_message());
    tg_error_clear();
    unsigned char *after = read_whole_file(path, &n_after);
    bool same = before && after && n_before == n_after && memcmp(before, after, n_after) == 0;
    recurrent_run other = run_new(SEED + 1, RUN_LSTM);
    rel_note(report, "%s: old checkpoint %s", what,
             same && run_load(&other, path) == 0 && other.step == 3 ? "intact" : "damaged");
    run_free(&other);
    free(before);
    free(after);
}

/* A run of 3 steps with its checkpoint in dir, then 2 more steps, so that
 * a new save would differ from the file. */
static recurrent_run run_with_checkpoint(rel_report *report, const char *path)
{
    recurrent_run r = run_new(SEED, RUN_LSTM);
    for (int i = 0; i < 3; i++)
        run_step(&r);
    if (run_save(&r, path) != 0)
        rel_note(report, "the first save failed: %s", tg_error_message());
    for (int i = 0; i < 2; i++)
        run_step(&r);
    return r;
}

/* In a 64 KiB tmpfs of its own: the disk filled up, then the file system
 * made read-only. Without mount rights (no namespaces), a file size limit
 * (RLIMIT_FSIZE, EFBIG) stands in for the full disk. */
static void full_and_read_only_disk(rel_report *report, void *arg)
{
    (void)arg;
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/disk", rel_dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    mkdir(dir, 0700);
    bool tmpfs = own_mount_namespace() == 0 &&
                 mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0;
    rel_note(report, "disk: %s", tmpfs ? "tmpfs" : "RLIMIT_FSIZE");
    recurrent_run r = run_with_checkpoint(report, path);
    if (tmpfs) {
        fill_up(dir);
    } else {
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &(struct rlimit){ .rlim_cur = 1024, .rlim_max = RLIM_INFINITY });
    }
    save_must_fail(report, &r, path, "full");
    int left = rel_remove_temporaries(dir);
    rel_note(report, "full: %d temporaries left", left);
    if (tmpfs) {
        mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL);
        save_must_fail(report, &r, path, "read-only");
    }
    run_free(&r);
    tg_graph_release();
}

Test(crash_save, a_full_disk_fails_clearly_and_keeps_the_old_checkpoint)
{
    rel_report report = rel_in_child(full_and_read_only_disk, NULL);
    rel_assert_reported(report, "full: old checkpoint intact");
    rel_assert_reported(report, "full: 0 temporaries left");
    if (strstr(report.text, "disk: tmpfs\n")) {
        cr_assert(strstr(report.text, "full: save returned -1: safetensors_save: ") &&
                      strstr(report.text, "/disk/run.ckpt: cannot write: No space left on device"),
                  "%s", report.text);
        cr_assert(strstr(report.text, "/disk/run.ckpt: cannot create a temporary file in its "
                                      "directory: Read-only file system"),
                  "%s", report.text);
        rel_assert_reported(report, "read-only: old checkpoint intact");
    } else {
        cr_assert(strstr(report.text, "/disk/run.ckpt: cannot write: File too large"), "%s",
                  report.text);
    }
}

/* A directory the process may read but not write: mode 0555, and not
 * root (root drops to nobody here, as root may write anywhere). */
static void unwritable_directory(rel_report *report, void *arg)
{
    (void)arg;
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/locked", rel_dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    mkdir(dir, 0755);
    recurrent_run r = run_with_checkpoint(report, path);
    chmod(rel_dir, 0755);
    chmod(path, 0644);
    chmod(dir, 0555);
    if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
        rel_note(report, "cannot drop root: %s", strerror(errno));
    save_must_fail(report, &r, path, "locked");
    run_free(&r);
    tg_graph_release();
}

Test(crash_save, an_unwritable_directory_fails_clearly_and_keeps_the_old_checkpoint)
{
    rel_report report = rel_in_child(unwritable_directory, NULL);
    cr_assert(strstr(report.text, "locked: save returned -1: safetensors_save: ") &&
                  strstr(report.text, "/locked/run.ckpt: cannot create a temporary file in its "
                                      "directory: Permission denied"),
              "%s", report.text);
    rel_assert_reported(report, "locked: old checkpoint intact");
    chmod(rel_path("locked"), 0755); /* for the teardown */
}
