/* What an atomic save does with what is at its path (tensor/file.h): refuses
 * what is not a regular file, writes through symbolic links, keeps the
 * mode and owner of the file it replaces, saves under any valid name, and
 * removes the stale temporaries of killed saves, and only those. */
#define _GNU_SOURCE /* mkfifo, fork, symlink, lchown */
#include "io/io_support.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

TestSuite(atomic_file, .init = io_setup, .fini = io_teardown);

/* A one-tensor checkpoint holding `value`, saved to path: 0 or -1. */
static int save_value(const char *path, float value)
{
    tg_tensor *x = tg_tensor_full(TG_SHAPE(2), value);
    int rc = tg_safetensors_save(path, (tg_named_tensor[]){ { "x", x } }, 1, NULL, 0);
    tg_tensor_free(x);
    return rc;
}

/* The value saved by save_value at path (NAN when it does not load). */
static float load_value(const char *path)
{
    tg_safetensors *file = tg_safetensors_load(path);
    const tg_tensor *x = tg_safetensors_get(file, "x");
    float value = x ? x->data[0] : NAN;
    tg_safetensors_free(file);
    return value;
}

static void assert_save_refused(const char *path, const char *message)
{
    tg_error_clear();
    cr_assert_neq(save_value(path, 1), 0, "saved to %s", path);
    cr_assert_str_eq(tg_error_message(), message);
    tg_error_clear();
}

Test(atomic_file, a_save_refuses_what_is_not_a_regular_file)
{
    cr_assert_eq(chdir(io_dir), 0);
    cr_assert_eq(mkfifo("fifo", 0644), 0);
    cr_assert_eq(mkdir("dir", 0755), 0);
    cr_assert_eq(symlink("/dev/null", "null.ckpt"), 0);
    cr_assert_eq(symlink("fifo", "link-to-fifo"), 0);
    assert_save_refused("fifo", "safetensors_save: fifo: not a regular file but a FIFO; saves "
                                "replace only regular files");
    assert_save_refused("dir", "safetensors_save: dir: not a regular file but a directory; saves "
                               "replace only regular files");
    assert_save_refused("/dev/null", "safetensors_save: /dev/null: not a regular file but a "
                                     "character device; saves replace only regular files");
    assert_save_refused("null.ckpt", "safetensors_save: null.ckpt: not a regular file but a "
                                     "character device (the link's target /dev/null); saves "
                                     "replace only regular files");
    assert_save_refused("link-to-fifo", "safetensors_save: link-to-fifo: not a regular file but "
                                        "a FIFO (the link's target ./fifo); saves replace only "
                                        "regular files");
    /* The other writers share the rule. */
    cr_assert_neq(tg_csv_write("fifo", (const char *[]){ "a" }, 1, (double[]){ 1 }, 1), 0);
    tg_assert_error("csv_write: fifo: not a regular file but a FIFO");
    tg_error_clear();
    tg_vocab *vocab = tg_vocab_parse("<pad>\n<unk>\n", 12, "v");
    cr_assert_neq(tg_vocab_save(vocab, "dir"), 0);
    tg_assert_error("vocab_save: dir: not a regular file but a directory");
    tg_error_clear();
    tg_vocab_free(vocab);
    /* All left as they were, and no temporary behind. */
    struct stat st;
    cr_assert(stat("fifo", &st) == 0 && S_ISFIFO(st.st_mode));
    cr_assert(stat("dir", &st) == 0 && S_ISDIR(st.st_mode));
    cr_assert(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    cr_assert(lstat("null.ckpt", &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert_eq(dir_entries(io_dir), 4);
}

Test(atomic_file, a_save_through_a_symbolic_link_writes_its_target)
{
    cr_assert_eq(chdir(io_dir), 0);
    cr_assert_eq(mkdir("runs", 0755), 0);
    cr_assert_eq(save_value("runs/real.ckpt", 1), 0, "%s", tg_error_message());
    /* A chain: latest.ckpt -> runs/current -> real.ckpt (relative to runs/). */
    cr_assert_eq(symlink("real.ckpt", "runs/current"), 0);
    cr_assert_eq(symlink("runs/current", "latest.ckpt"), 0);
    cr_assert_eq(save_value("latest.ckpt", 2), 0, "%s", tg_error_message());
    struct stat st;
    cr_assert(lstat("latest.ckpt", &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
    cr_assert(lstat("runs/current", &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
    cr_assert(lstat("runs/real.ckpt", &st) == 0 && S_ISREG(st.st_mode));
    cr_assert_float_eq(load_value("runs/real.ckpt"), 2.0f, 0);
    /* A link to a file not there yet: the file is created where it points. */
    cr_assert_eq(symlink("runs/new.ckpt", "dangling"), 0);
    cr_assert_eq(save_value("dangling", 3), 0, "%s", tg_error_message());
    cr_assert(lstat("dangling", &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert_float_eq(load_value("runs/new.ckpt"), 3.0f, 0);
    /* A loop of links is refused. */
    cr_assert_eq(symlink("loop-b", "loop-a"), 0);
    cr_assert_eq(symlink("loop-a", "loop-b"), 0);
    assert_save_refused("loop-a", "safetensors_save: loop-a: cannot follow the symbolic link: "
                                  "Too many levels of symbolic links");
    cr_assert_eq(dir_entries(io_dir), 5);
    cr_assert_eq(dir_entries(io_path("runs")), 3);
}

Test(atomic_file, a_save_keeps_the_mode_and_owner_of_the_file_it_replaces)
{
    const char *path = io_path("private.ckpt");
    cr_assert_eq(save_value(path, 1), 0, "%s", tg_error_message());
    cr_assert_eq(chmod(path, 0600), 0);
    cr_assert_eq(save_value(path, 2), 0, "%s", tg_error_message());
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
    cr_assert_float_eq(load_value(path), 2.0f, 0);
    /* A new file gets 0666 less the umask. */
    mode_t old_mask = umask(027);
    const char *fresh = io_path("fresh.ckpt");
    cr_assert_eq(save_value(fresh, 1), 0, "%s", tg_error_message());
    umask(old_mask);
    cr_assert_eq(stat(fresh, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640, "mode %o", st.st_mode & 07777);
    /* Another owner and group are kept (root alone may give a file away). */
    if (geteuid() == 0) {
        cr_assert_eq(chown(path, 65534, 65534), 0);
        cr_assert_eq(chmod(path, 0640), 0);
        cr_assert_eq(save_value(path, 3), 0, "%s", tg_error_message());
        cr_assert_eq(stat(path, &st), 0);
        cr_assert(st.st_uid == 65534 && st.st_gid == 65534, "owner %u:%u", (unsigned)st.st_uid,
                  (unsigned)st.st_gid);
        cr_assert_eq(st.st_mode & 07777, 0640, "mode %o", st.st_mode & 07777);
        cr_assert_float_eq(load_value(path), 3.0f, 0);
    }
}

Test(atomic_file, any_valid_name_saves_even_250_bytes_long)
{
    char name[251], path[512];
    memset(name, 'n', 250);
    name[250] = '\0';
    snprintf(path, sizeof path, "%s/%s", io_dir, name);
    cr_assert_eq(save_value(path, 4), 0, "%s", tg_error_message());
    cr_assert_float_eq(load_value(path), 4.0f, 0);
    cr_assert_eq(save_value(path, 5), 0, "%s", tg_error_message());
    cr_assert_float_eq(load_value(path), 5.0f, 0);
    cr_assert_eq(dir_entries(io_dir), 1);
}

static void make_file(const char *name)
{
    io_write_text(io_path(name), "partial");
}

static bool exists(const char *name)
{
    struct stat st;
    return lstat(io_path(name), &st) == 0;
}

Test(atomic_file, a_save_removes_stale_temporaries_and_nothing_else)
{
    char stale[64], live[64], near[64], link[64], dir[64], longer[64];
    long dead = (long)dead_pid();
    snprintf(stale, sizeof stale, ".tapegrad-%ld-0123abcd", dead);
    snprintf(live, sizeof live, ".tapegrad-%ld-0123abcd", (long)getpid());
    snprintf(near, sizeof near, ".tapegrad-%ld-0123ABCD", dead);  /* not the pattern */
    snprintf(longer, sizeof longer, ".tapegrad-%ld-0123abcd0", dead);
    snprintf(link, sizeof link, ".tapegrad-%ld-0123abce", dead);
    snprintf(dir, sizeof dir, ".tapegrad-%ld-0123abcf", dead);
    make_file(stale);
    make_file(live);
    make_file(near);
    make_file(longer);
    make_file("precious");
    cr_assert_eq(symlink("precious", io_path(link)), 0);
    cr_assert_eq(mkdir(io_path(dir), 0755), 0);
    cr_assert_eq(save_value(io_path("run.ckpt"), 1), 0, "%s", tg_error_message());
    cr_assert_not(exists(stale), "the stale temporary is still there");
    cr_assert(exists(live), "a live process's temporary was removed");
    cr_assert(exists(near) && exists(longer), "a file outside the pattern was removed");
    cr_assert(exists(link) && exists("precious"), "a link or its target was removed");
    cr_assert(exists(dir), "a directory was removed");
    cr_assert_eq(dir_entries(io_dir), 7);
}

/* A file of another user, in a directory anyone may write (as /tmp without
 * its sticky bit): a save by this user could not keep the owner, so it is
 * refused, and the file stays as it was. Run as nobody in a child (root
 * may give files away, so root drops to nobody). */
Test(atomic_file, a_save_that_cannot_keep_the_owner_is_refused)
{
    cr_assert_eq(chdir(io_dir), 0);
    cr_assert_eq(save_value("shared.ckpt", 1), 0, "%s", tg_error_message());
    cr_assert_eq(chmod(io_dir, 0777), 0);
    uid_t owner = geteuid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        if (geteuid() == owner)
            _exit(4); /* not root: no other user to become */
        tg_error_clear();
        int rc = save_value("shared.ckpt", 2);
        bool refused = rc != 0 && strcmp(tg_error_message(),
                                         "safetensors_save: shared.ckpt: cannot give the new file "
                                         "the mode and owner of the old one: Operation not "
                                         "permitted") == 0;
        _exit(refused && dir_entries(".") == 1 ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == 4)
        return; /* nothing to show without a second user */
    cr_assert_eq(WEXITSTATUS(status), 0, "the save was not refused as expected (%d)",
                 WEXITSTATUS(status));
    cr_assert_float_eq(load_value("shared.ckpt"), 1.0f, 0);
    chmod(io_dir, 0700);
}
