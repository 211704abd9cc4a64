#include "tensor/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tensor/error.h"

/* Records "op: path: what: <errno text>" and returns -1. */
static int set_errno_error(const char *op, const char *path, const char *what, int err)
{
    char text[128];
    if (strerror_r(err, text, sizeof text) != 0)
        snprintf(text, sizeof text, "error %d", err);
    return tg_error_set("%s: %s: %s: %s", op, path, what, text);
}

/* What a file that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "of an unknown kind";
}

/* ---- Reading ---------------------------------------------------------------- */

int tg_file_open_regular(const char *path, const char *op, uint64_t *size)
{
    if (!path || !size)
        return tg_error_null_input("file_open_regular");
    op = op ? op : "?";
    /* Opening a FIFO for reading waits for a writer unless O_NONBLOCK:
     * nothing is read before fstat has shown a regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return set_errno_error(op, path, "cannot open", errno);
    struct stat st;
    int flags;
    if (fstat(fd, &st) != 0) {
        set_errno_error(op, path, "cannot stat", errno);
    } else if (!S_ISREG(st.st_mode)) {
        tg_error_set("%s: %s: not a regular file but %s", op, path, file_kind(st.st_mode));
    } else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        set_errno_error(op, path, "cannot open", errno);
    } else {
        *size = (uint64_t)st.st_size;
        return fd;
    }
    close(fd);
    return -1;
}

int tg_file_read_at(int fd, void *buffer, size_t n, uint64_t offset, const char *op,
                    const char *path)
{
    op = op ? op : "?";
    path = path ? path : "?";
    char *out = buffer;
    if (!out && n > 0)
        return tg_error_null_input(op);
    while (n > 0) {
        ssize_t got = pread(fd, out, n, (off_t)offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return set_errno_error(op, path, "cannot read", errno);
        if (got == 0)
            return tg_error_set("%s: %s: the file changed size while being read", op, path);
        out += got;
        n -= (size_t)got;
        offset += (uint64_t)got;
    }
    return 0;
}

/* ---- Writing ------------------------------------------------------------------ */

struct tg_atomic_file {
    FILE *stream;
    int write_errno; /* errno of the first failed write, else 0 */
    const char *op;
    char *path;   /* as given, for messages */
    char *target; /* path with its symbolic links followed: what the rename replaces */
    char *temp;
};

/* Symbolic links followed at most (Linux's own limit, MAXSYMLINKS). */
#define MAX_LINKS 40

/* The directory part of path: a new string, "." when it has none. */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/name" is in "/" */
    char *dir = malloc(n + 1);
    if (dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* Follows the symbolic links at path (a link's relative target is read
 * from the link's directory) to what a save must replace: a new string,
 * with *st its lstat and *exists whether it is there. NULL with errno set
 * (ELOOP, ENAMETOOLONG, ENOMEM, or readlink's). A missing file, or one
 * that lstat cannot see (e.g. a missing directory), ends the walk there. */
static char *resolve_target(const char *path, struct stat *st, bool *exists)
{
    char *current = strdup(path);
    for (int links = 0; current; links++) {
        *exists = lstat(current, st) == 0;
        if (!*exists || !S_ISLNK(st->st_mode))
            return current;
        char link[PATH_MAX];
        ssize_t n = links < MAX_LINKS ? readlink(current, link, sizeof link) : -1;
        int err = links >= MAX_LINKS          ? ELOOP
                  : n < 0                     ? errno
                  : n >= (ssize_t)sizeof link ? ENAMETOOLONG
                                              : ENOMEM; /* unless all goes well below */
        char *dir = n >= 0 && n < (ssize_t)sizeof link ? directory_of(current) : NULL;
        char *next = NULL;
        if (dir) {
            link[n] = '\0';
            size_t size = strlen(dir) + (size_t)n + 2;
            if ((next = malloc(size)) && link[0] == '/')
                memcpy(next, link, (size_t)n + 1);
            else if (next)
                snprintf(next, size, "%s/%s", dir, link);
        }
        free(dir);
        free(current);
        if (!(current = next))
            errno = err;
    }
    return NULL;
}

/* Temporaries are "<dir>/.tapegrad-<pid>-<8 hex digits>": short whatever the
 * target's name, and recognisable as this library's (see
 * remove_stale_temporaries). */
#define TEMP_PREFIX ".tapegrad-"
#define TEMP_NAME_MAX 40

/* Distinguishes temporaries of the same process (threads, repeated saves). */
static atomic_uint temp_counter;

/* Whether name is a temporary's, and the pid of its writer. */
static bool parse_temp_name(const char *name, long *pid)
{
    size_t prefix = strlen(TEMP_PREFIX);
    if (strncmp(name, TEMP_PREFIX, prefix) != 0)
        return false;
    const char *p = name + prefix;
    long value = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 10; p++, digits++)
        value = value * 10 + (*p - '0');
    if (digits == 0 || value <= 0 || *p++ != '-')
        return false;
    for (int i = 0; i < 8; i++, p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    *pid = value;
    return *p == '\0';
}

/* Removes the temporaries that saves killed mid-write left in dir: only
 * names of the exact pattern, only regular files (never followed: a link
 * of that name is left alone), only the calling user's, and only when the
 * process that wrote them is gone. Best effort: what cannot be read or
 * removed is left. */
static void remove_stale_temporaries(const char *dir)
{
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dir_fd >= 0 ? fdopendir(dir_fd) : NULL;
    if (!d) {
        if (dir_fd >= 0)
            close(dir_fd);
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        long pid;
        struct stat st;
        if (!parse_temp_name(e->d_name, &pid) ||
            fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || pid > INT_MAX)
            continue;
        /* ESRCH: no such process. EPERM means it lives (under another user). */
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            unlinkat(dir_fd, e->d_name, 0);
    }
    closedir(d);
}

/* Creates a new temporary in dir, with permissions from the umask (as any
 * new file); its name into temp. -1 with errno set. */
static int create_temp(char *temp, size_t size, const char *dir)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (int attempt = 0; attempt < 100; attempt++) {
        /* A counter and the clock: unlikely to meet another process's name;
         * O_EXCL makes sure. */
        uint32_t n = atomic_fetch_add(&temp_counter, 1);
        uint32_t mix = (uint32_t)now.tv_nsec ^ (uint32_t)now.tv_sec * 2654435761u ^ n * 40503u;
        snprintf(temp, size, "%s/" TEMP_PREFIX "%ld-%08x", dir, (long)getpid(), (unsigned)mix);
        int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Gives the temporary the mode and owner of the file it replaces. */
static int copy_mode_and_owner(int fd, const struct stat *old)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    if ((st.st_uid != old->st_uid || st.st_gid != old->st_gid) &&
        fchown(fd, old->st_uid, old->st_gid) != 0)
        return -1;
    /* After fchown, which clears the set-user-ID and set-group-ID bits. */
    return fchmod(fd, old->st_mode & 07777);
}

/* Opens the temporary for target (which exists when `exists`, with stat
 * old), in target's directory. NULL with an error. */
static FILE *open_temp(tg_atomic_file *file, const struct stat *old, bool exists)
{
    char *dir = directory_of(file->target);
    size_t size = dir ? strlen(dir) + TEMP_NAME_MAX : 0;
    /* A local copy of the name's buffer: GCC's -Wformat-truncation cannot
     * see that file->temp is still set after the calls below. */
    char *temp = dir ? malloc(size) : NULL;
    if (!temp) {
        free(dir);
        tg_error_set("%s: %s: out of memory", file->op, file->path);
        return NULL;
    }
    file->temp = temp;
    remove_stale_temporaries(dir);
    int fd = create_temp(temp, size, dir);
    free(dir);
    if (fd < 0) {
        set_errno_error(file->op, file->path, "cannot create a temporary file in its directory",
                        errno);
        return NULL;
    }
    FILE *stream = NULL;
    if (exists && copy_mode_and_owner(fd, old) != 0)
        set_errno_error(file->op, file->path, "cannot give the new file the mode and owner of "
                        "the old one", errno);
    else if (!(stream = fdopen(fd, "wb")))
        set_errno_error(file->op, file->path, "cannot create a temporary file in its directory",
                        errno);
    if (!stream) {
        close(fd);
        unlink(file->temp);
    }
    return stream;
}

static void free_file(tg_atomic_file *file)
{
    free(file->path);
    free(file->target);
    free(file->temp);
    free(file);
}

tg_atomic_file *tg_atomic_file_open(const char *path, const char *op)
{
    if (!path)
        return tg_null_input("atomic_file_open");
    op = op ? op : "?";
    tg_atomic_file *file = calloc(1, sizeof *file);
    if (!file || !(file->path = strdup(path))) {
        free(file);
        tg_error_set("%s: %s: out of memory", op, path);
        return NULL;
    }
    file->op = op;
    struct stat st;
    bool exists = false;
    if (!(file->target = resolve_target(path, &st, &exists))) {
        set_errno_error(op, path, "cannot follow the symbolic link", errno);
    } else if (exists && !S_ISREG(st.st_mode)) {
        bool linked = strcmp(file->target, path) != 0;
        tg_error_set("%s: %s: not a regular file but %s%s%s%s; saves replace only regular files",
                     op, path, file_kind(st.st_mode), linked ? " (the link's target " : "",
                     linked ? file->target : "", linked ? ")" : "");
    } else if ((file->stream = open_temp(file, &st, exists))) {
        return file;
    }
    free_file(file);
    return NULL;
}

int tg_atomic_file_write(tg_atomic_file *file, const void *bytes, size_t n)
{
    if (!file || file->write_errno)
        return -1;
    if (n > 0 && !bytes) {
        file->write_errno = EINVAL; /* reported by commit, as any failed write */
        return -1;
    }
    if (n > 0 && fwrite(bytes, 1, n, file->stream) != n) {
        file->write_errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

void tg_atomic_file_discard(tg_atomic_file *file)
{
    if (!file)
        return;
    fclose(file->stream);
    unlink(file->temp);
    free_file(file);
}

/* Makes the rename itself durable. Some file systems cannot fsync a
 * directory; the new file is complete either way, so failures are ignored. */
static void sync_directory(const char *path)
{
    char *dir = directory_of(path);
    int fd = dir ? open(dir, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int tg_atomic_file_commit(tg_atomic_file *file)
{
    if (!file)
        return tg_error_null_input("atomic_file_commit");
    int err = file->write_errno;
    const char *what = "cannot write";
    if (!err && fflush(file->stream) != 0)
        err = errno;
    if (!err && fsync(fileno(file->stream)) != 0) {
        err = errno;
        what = "cannot sync to disk";
    }
    if (fclose(file->stream) != 0 && !err)
        err = errno;
    if (!err && rename(file->temp, file->target) != 0) {
        err = errno;
        what = "cannot replace the file";
    }
    if (err) {
        set_errno_error(file->op, file->path, what, err);
        unlink(file->temp);
        free_file(file);
        return -1;
    }
    sync_directory(file->target);
    free_file(file);
    return 0;
}
