/*
 * What a chart's save does with what is at its path: the rules of every
 * save (tensor/file.h), checked on the PNG writer. It refuses what is not
 * a regular file, writes through symbolic links, keeps the mode and owner
 * of the file it replaces, saves under any valid name, removes the stale
 * temporaries of killed saves and nothing else, and a save killed at any
 * moment leaves a whole chart.
 */
#define _GNU_SOURCE /* mkfifo, symlink, nftw */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot_test.h"

static char dir[64];

static void setup(void)
{
    tg_test_setup();
    temp_dir(dir);
    cr_assert_eq(chdir(dir), 0);
}

static void teardown(void)
{
    scratch_remove(dir);
    tg_test_teardown();
}

TestSuite(plot_save, .init = setup, .fini = teardown, .timeout = 120);

/* A small chart of the line through (0, 0) and (1, top): 0, or -1. */
static int save_chart(const char *path, float top)
{
    return tg_plot_lines(path, &(tg_plot_series){ .y = (float[]){ 0, top }, .count = 2 }, 1,
                         &(tg_plot_options){ .width = 200, .height = 120 });
}

/* Whether the PNG at path is the chart save_chart(top) draws. */
static bool is_chart(const char *path, float top)
{
    char reference[600];
    snprintf(reference, sizeof reference, "%s.reference", dir);
    cr_assert_eq(save_chart(reference, top), 0, "%s", tg_error_message());
    test_image want = read_png(reference), got = read_png(path);
    bool same = got.width == want.width && got.height == want.height &&
                memcmp(got.rgb, want.rgb, (size_t)want.width * want.height * 3) == 0;
    image_free(&want);
    image_free(&got);
    unlink(reference);
    return same;
}

static void assert_save_refused(const char *path, const char *message)
{
    tg_error_clear();
    cr_assert_eq(save_chart(path, 1), -1, "saved to %s", path);
    cr_assert_str_eq(tg_error_message(), message);
    tg_error_clear();
}

Test(plot_save, a_chart_save_refuses_what_is_not_a_regular_file)
{
    cr_assert_eq(mkfifo("fifo.png", 0644), 0);
    cr_assert_eq(mkdir("dir.png", 0755), 0);
    /* A device through a link (not /dev/null itself: a writer that
     * replaced it would break the machine, as root). */
    cr_assert_eq(symlink("/dev/null", "null.png"), 0);
    assert_save_refused("fifo.png", "plot: fifo.png: not a regular file but a FIFO; saves replace "
                                    "only regular files");
    assert_save_refused("dir.png", "plot: dir.png: not a regular file but a directory; saves "
                                   "replace only regular files");
    assert_save_refused("null.png", "plot: null.png: not a regular file but a character device "
                                    "(the link's target /dev/null); saves replace only regular "
                                    "files");
    /* A figure's save is the same save. */
    tg_plot_figure *figure = tg_plot_figure_new((tg_plot_figure_config){ .width = 200, .height = 120 });
    cr_assert_not_null(figure, "%s", tg_error_message());
    cr_assert_eq(tg_plot_figure_save(figure, "fifo.png"), -1);
    cr_assert_str_eq(tg_error_message(), "plot: fifo.png: not a regular file but a FIFO; saves "
                                         "replace only regular files");
    tg_error_clear();
    tg_plot_figure_free(figure);
    /* All left as they were, and no temporary behind. */
    struct stat st;
    cr_assert(lstat("fifo.png", &st) == 0 && S_ISFIFO(st.st_mode));
    cr_assert(lstat("dir.png", &st) == 0 && S_ISDIR(st.st_mode));
    cr_assert(lstat("null.png", &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert_eq(dir_entries(dir), 3);
}

Test(plot_save, a_chart_save_through_a_symbolic_link_writes_its_target)
{
    cr_assert_eq(mkdir("runs", 0755), 0);
    cr_assert_eq(save_chart("runs/real.png", 1), 0, "%s", tg_error_message());
    /* A chain: latest.png -> runs/current -> real.png (relative to runs/). */
    cr_assert_eq(symlink("real.png", "runs/current"), 0);
    cr_assert_eq(symlink("runs/current", "latest.png"), 0);
    cr_assert_eq(save_chart("latest.png", 2), 0, "%s", tg_error_message());
    struct stat st;
    cr_assert(lstat("latest.png", &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
    cr_assert(lstat("runs/current", &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
    cr_assert(lstat("runs/real.png", &st) == 0 && S_ISREG(st.st_mode));
    cr_assert(is_chart("runs/real.png", 2), "the link's target does not hold the new chart");
    /* A link to a file not there yet: the file is created where it points. */
    cr_assert_eq(symlink("runs/new.png", "dangling"), 0);
    cr_assert_eq(save_chart("dangling", 3), 0, "%s", tg_error_message());
    cr_assert(lstat("dangling", &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert(is_chart("runs/new.png", 3));
    /* A loop of links is refused. */
    cr_assert_eq(symlink("loop-b", "loop-a"), 0);
    cr_assert_eq(symlink("loop-a", "loop-b"), 0);
    assert_save_refused("loop-a", "plot: loop-a: cannot follow the symbolic link: Too many levels "
                                  "of symbolic links");
    cr_assert_eq(dir_entries(dir), 5);
    cr_assert_eq(dir_entries(scratch_path(dir, "runs")), 3);
}

Test(plot_save, a_chart_save_keeps_the_mode_and_owner_of_the_file_it_replaces)
{
    cr_assert_eq(save_chart("private.png", 1), 0, "%s", tg_error_message());
    cr_assert_eq(chmod("private.png", 0600), 0);
    cr_assert_eq(save_chart("private.png", 2), 0, "%s", tg_error_message());
    struct stat st;
    cr_assert_eq(stat("private.png", &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
    cr_assert(is_chart("private.png", 2));
    /* A new file gets 0666 less the umask. */
    mode_t old_mask = umask(027);
    cr_assert_eq(save_chart("fresh.png", 1), 0, "%s", tg_error_message());
    umask(old_mask);
    cr_assert_eq(stat("fresh.png", &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640, "mode %o", st.st_mode & 07777);
    /* Another owner and group are kept (root alone may give a file away). */
    if (geteuid() == 0) {
        cr_assert_eq(chown("private.png", 65534, 65534), 0);
        cr_assert_eq(save_chart("private.png", 3), 0, "%s", tg_error_message());
        cr_assert_eq(stat("private.png", &st), 0);
        cr_assert(st.st_uid == 65534 && st.st_gid == 65534, "owner %u:%u", (unsigned)st.st_uid,
                  (unsigned)st.st_gid);
        cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
    }
}

Test(plot_save, a_chart_saves_under_any_valid_name_even_250_bytes_long)
{
    char name[251];
    memset(name, 'n', 250);
    memcpy(name + 246, ".png", 5);
    cr_assert_eq(save_chart(name, 4), 0, "%s", tg_error_message());
    cr_assert(is_chart(name, 4));
    cr_assert_eq(save_chart(name, 5), 0, "%s", tg_error_message());
    cr_assert(is_chart(name, 5));
    cr_assert_eq(dir_entries(dir), 1);
}

static void make_file(const char *name)
{
    FILE *f = fopen(name, "wb");
    cr_assert_not_null(f);
    fputs("partial", f);
    fclose(f);
}

static bool exists(const char *name)
{
    struct stat st;
    return lstat(name, &st) == 0;
}

Test(plot_save, a_chart_save_removes_stale_temporaries_and_nothing_else)
{
    char stale[64], live[64], near[64], link[64];
    long dead = (long)dead_pid();
    snprintf(stale, sizeof stale, ".tapegrad-%ld-0123abcd", dead);
    snprintf(live, sizeof live, ".tapegrad-%ld-0123abcd", (long)getpid());
    snprintf(near, sizeof near, ".tapegrad-%ld-0123abcd.png", dead); /* not the pattern */
    snprintf(link, sizeof link, ".tapegrad-%ld-0123abce", dead);
    make_file(stale);
    make_file(live);
    make_file(near);
    make_file("precious");
    cr_assert_eq(symlink("precious", link), 0);
    cr_assert_eq(save_chart("loss.png", 1), 0, "%s", tg_error_message());
    cr_assert_not(exists(stale), "the stale temporary is still there");
    cr_assert(exists(live), "a live process's temporary was removed");
    cr_assert(exists(near), "a file outside the pattern was removed");
    cr_assert(exists(link) && exists("precious"), "a link or its target was removed");
    cr_assert_eq(dir_entries(dir), 5);
}

/* Whether dir holds a temporary of a save. */
static bool has_temporary(void)
{
    DIR *d = opendir(".");
    cr_assert_not_null(d);
    bool found = false;
    for (struct dirent *e; (e = readdir(d));)
        found |= strncmp(e->d_name, ".tapegrad-", 10) == 0;
    closedir(d);
    return found;
}

/* A child saving charts 1 and 2 in turn to the same path, killed with
 * SIGKILL at 20 moments from 1 to 40 ms into its run: the path always
 * holds one whole chart or the other, and a killed save's temporary is
 * removed by the next save. */
Test(plot_save, a_chart_save_killed_at_any_moment_leaves_a_whole_chart)
{
    cr_assert_eq(save_chart("loss.png", 1), 0, "%s", tg_error_message());
    tg_rng moments = tg_rng_new(7);
    int left = 0;
    for (int k = 0; k < 20; k++) {
        pid_t child = fork();
        cr_assert_geq(child, 0);
        if (child == 0)
            for (int i = 0;; i++)
                if (save_chart("loss.png", (float)(1 + i % 2)) != 0)
                    _exit(1);
        usleep((useconds_t)(1000 + tg_rng_below(&moments, 39000)));
        cr_assert_eq(kill(child, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(child, &status, 0), child);
        cr_assert(WIFSIGNALED(status), "kill %d: the child failed to save", k);
        cr_assert(is_chart("loss.png", 1) || is_chart("loss.png", 2),
                  "kill %d: loss.png is not a whole chart", k);
        left += has_temporary();
    }
    /* The next save removes what the killed saves left. */
    cr_assert_eq(save_chart("loss.png", 2), 0, "%s", tg_error_message());
    cr_assert_not(has_temporary(), "a killed save's temporary is still there");
    cr_assert_eq(dir_entries(dir), 1);
    fprintf(stderr, "plot_save: %d of 20 kills left a temporary\n", left);
}
