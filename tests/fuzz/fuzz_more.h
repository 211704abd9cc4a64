/*
 * tests/fuzz/fuzz_more.h: the fuzz targets of what is not a file format
 * (included by fuzz_checks.h): checkpoint metadata, whose text fields are
 * parsed by optim/checkpoint.c, and the paths atomic saves write to
 * (tensor/file.h: checkpoints and charts). Needs POSIX (mkdtemp, mkfifo, symlink, nftw): the includer
 * defines _GNU_SOURCE first.
 */
#ifndef TG_FUZZ_MORE_H
#define TG_FUZZ_MORE_H

#include <dirent.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Checkpoint metadata ------------------------------------------------------------- */

/* Appends the n bytes of s to out as a JSON string (a byte of 0x80 or
 * more as the code point of that value, so any input is valid JSON). */
static inline size_t fuzz_json_string(char *out, const char *s, size_t n)
{
    size_t w = 0;
    out[w++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f)
            w += (size_t)sprintf(out + w, "\\u%04x", c);
        else
            out[w++] = (char)c;
    }
    out[w++] = '"';
    return w;
}

/* The input's lines "key=value" become the "__metadata__" of a checkpoint
 * of fuzz_load_checkpoint's model (every tensor holding 1), which is then
 * restored into a model holding 7: restored whole, or refused with a
 * message and nothing changed. */
static inline const char *fuzz_checkpoint_meta(const uint8_t *data, size_t size)
{
    tg_error_clear();
    tg_model *model = tg_model_new(1);
    tg_tensor *w = tg_model_add_parameter(model, "w", TG_SHAPE(2, 3));
    tg_tensor *b = tg_model_add_parameter(model, "b", TG_SHAPE(3));
    tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ 0 });
    tg_tensor_fill_(w, 7);
    tg_tensor_fill_(b, 7);
    int n_state = tg_optimizer_state_count(opt);
    /* The header: each input byte takes at most 6 characters (with the
     * quotes, colon and comma of its line); the tensors at most 256 each. */
    size_t capacity = 64 + 8 * size + 256 * (size_t)(2 + n_state);
    char *header = malloc(capacity);
    size_t h = (size_t)sprintf(header, "{\"__metadata__\":{");
    const char *text = (const char *)data, *end = text + size;
    for (const char *line = text; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        eol = eol ? eol : end;
        const char *eq = memchr(line, '=', (size_t)(eol - line));
        const char *key_end = eq ? eq : eol, *value = eq ? eq + 1 : eol;
        if (header[h - 1] != '{')
            header[h++] = ',';
        h += fuzz_json_string(header + h, line, (size_t)(key_end - line));
        header[h++] = ':';
        h += fuzz_json_string(header + h, value, (size_t)(eol - value));
        line = eol + 1;
    }
    header[h++] = '}';
    int64_t offset = 0;
    for (int i = 0; i < 2 + n_state; i++) {
        const char *name = i < 2 ? tg_model_parameter_name(model, i)
                                 : tg_optimizer_state_name(opt, i - 2);
        const tg_tensor *t = i < 2 ? tg_model_parameter(model, i)
                                   : tg_optimizer_state_tensor(opt, i - 2);
        char shape[TG_SHAPE_STR_MAX];
        tg_shape_format(shape, sizeof shape, t);
        h += (size_t)snprintf(header + h, capacity - h,
                              ",\"%s%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%lld,%lld]}",
                              i < 2 ? "" : "optim.", name, shape, (long long)offset,
                              (long long)(offset + 4 * t->numel));
        offset += 4 * t->numel;
    }
    header[h++] = '}';
    unsigned char *file_bytes = malloc(8 + h + (size_t)offset);
    for (int k = 0; k < 8; k++)
        file_bytes[k] = (unsigned char)((uint64_t)h >> (8 * k));
    memcpy(file_bytes + 8, header, h);
    const float one = 1.0f;
    for (int64_t i = 0; i < offset / 4; i++)
        memcpy(file_bytes + 8 + h + 4 * i, &one, 4);
    free(header);

    const char *problem = NULL;
    tg_safetensors *file = tg_safetensors_load_memory(file_bytes, 8 + h + (size_t)offset, "fuzz");
    free(file_bytes);
    if (!file) {
        /* Only a key given twice makes the JSON invalid. */
        problem = fuzz_refused_with("safetensors_load: fuzz: ");
    } else {
        tg_rng data_rng = tg_rng_new(2), data_before = data_rng;
        tg_rng model_before = *tg_model_rng(model), default_before = *tg_rng_default();
        double lr_before = tg_optimizer_lr(opt);
        tg_checkpoint ck = { .model = model, .optimizer = opt, .rngs = { { "data", &data_rng } } };
        tg_error_clear();
        if (tg_checkpoint_restore(file, &ck) == 0) {
            double lr = tg_optimizer_lr(opt);
            if (tg_error_occurred())
                problem = "a restore succeeded with an error recorded";
            else if (ck.step < 0 || ck.epoch < 0)
                problem = "a restored checkpoint has a negative step or epoch";
            else if (!(lr >= 0 && lr < INFINITY))
                problem = "a restored learning rate is negative or not finite";
            else if (w->data[0] != 1.0f || b->data[2] != 1.0f)
                problem = "a restore succeeded without restoring the parameters";
        } else {
            if (!(problem = fuzz_refused_with("checkpoint_load: checkpoint: ")) &&
                (w->data[0] != 7.0f || b->data[2] != 7.0f || tg_optimizer_lr(opt) != lr_before ||
                 memcmp(&data_rng, &data_before, sizeof data_rng) != 0 ||
                 memcmp(tg_model_rng(model), &model_before, sizeof model_before) != 0))
                problem = "a refused restore changed the model, optimizer or a generator";
            *tg_rng_default() = default_before;
        }
        tg_safetensors_free(file);
    }
    tg_error_clear();
    tg_optimizer_free(opt);
    tg_model_free(model);
    return problem;
}

/* ---- Paths of atomic saves -------------------------------------------------------------- */

/* What the input puts at the path before the save (byte 0, modulo 8). */
enum {
    FUZZ_AT_NOTHING, FUZZ_AT_FILE, FUZZ_AT_FIFO, FUZZ_AT_DIRECTORY, FUZZ_AT_LINK_TO_FILE,
    FUZZ_AT_DANGLING_LINK, FUZZ_AT_LINK_LOOP, FUZZ_AT_LINK_TO_FIFO
};

/* A pid no process can have (above Linux's largest pid_max, 2^22). */
#define FUZZ_DEAD_PID "4194305"

static inline int fuzz_remove_entry(const char *path, const struct stat *st, int type,
                                    struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static inline bool fuzz_exists(const char *dir, const char *name, mode_t kind)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

/* Whether dir holds a temporary of this process. */
static inline bool fuzz_own_temporary_in(const char *dir)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, ".tapegrad-%ld-", (long)getpid());
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e; d && (e = readdir(d));)
        found |= strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return found;
}

/* Whether the file at path begins with the PNG signature. */
static inline bool fuzz_is_png(const char *path)
{
    unsigned char head[8] = { 0 };
    FILE *f = fopen(path, "rb");
    bool read = f && fread(head, 1, sizeof head, f) == sizeof head;
    if (f)
        fclose(f);
    return read && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0;
}

static inline void fuzz_write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, mode);
}

/* In a new scratch directory, byte 0 chooses what is at the path (none, a
 * file, a FIFO, a directory, links to a file, to nowhere, to themselves
 * or to a FIFO), byte 1 the file's mode, byte 2 whether stale temporaries
 * lie beside it (a file of a gone process, a link of the same pattern)
 * and which writer saves (a checkpoint, or a chart: the same engine),
 * and the rest the name (letters, digits, '.', '-', '_' and '/'). A save
 * to the path must succeed exactly when a regular file may be written
 * there, keep links and modes, refuse the rest with a message naming the
 * path and leave it as it was, remove the stale temporary and nothing
 * else, and never leave a temporary of its own. */
static inline const char *fuzz_save_path(const uint8_t *data, size_t size)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789._-/";
    int kind = size > 0 ? data[0] % 8 : 0;
    mode_t mode = size > 1 ? (mode_t)(data[1] & 0777) : 0644;
    int stale = size > 2 ? data[2] : 0;
    char name[300] = "", path[700], dir[] = "/tmp/tg_fuzz_save_XXXXXX";
    size_t n = 0;
    for (size_t i = 3; i < size && n < sizeof name - 1; i++)
        name[n++] = alphabet[data[i] % (sizeof alphabet - 1)];
    name[n] = '\0';
    if (!n)
        strcpy(name, "t");
    /* No "." or ".." component: the save stays in the scratch directory. */
    for (char *c = name; *c; c++)
        if (*c == '.' && (c == name || c[-1] == '/') && (c[1] == '/' || !c[1] || (c[1] == '.' && (c[2] == '/' || !c[2]))))
            *c = 'x';
    if (!mkdtemp(dir))
        return "cannot make a scratch directory";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    bool plain = !strchr(name, '/') && strlen(name) <= 255;
    if (!plain)
        kind = FUZZ_AT_NOTHING;
    char other[700];
    switch (kind) {
    case FUZZ_AT_FILE: fuzz_write_text(path, "old", mode); break;
    case FUZZ_AT_FIFO: mkfifo(path, 0644); break;
    case FUZZ_AT_DIRECTORY: mkdir(path, 0755); break;
    case FUZZ_AT_LINK_TO_FILE:
        snprintf(other, sizeof other, "%s/REAL", dir);
        fuzz_write_text(other, "old", mode);
        symlink("REAL", path);
        break;
    case FUZZ_AT_DANGLING_LINK:
        snprintf(other, sizeof other, "%s/SUB", dir);
        mkdir(other, 0755);
        symlink("SUB/NEW", path);
        break;
    case FUZZ_AT_LINK_LOOP: symlink(name, path); break;
    case FUZZ_AT_LINK_TO_FIFO:
        snprintf(other, sizeof other, "%s/F", dir);
        mkfifo(other, 0644);
        symlink("F", path);
        break;
    }
    if (stale & 1) {
        snprintf(other, sizeof other, "%s/.tapegrad-" FUZZ_DEAD_PID "-0000abcd", dir);
        fuzz_write_text(other, "partial", 0644);
    }
    if (stale & 2) {
        snprintf(other, sizeof other, "%s/KEEP", dir);
        fuzz_write_text(other, "keep", 0644);
        snprintf(other, sizeof other, "%s/.tapegrad-" FUZZ_DEAD_PID "-0000abce", dir);
        symlink("KEEP", other);
    }

    bool chart = stale & 4;
    tg_error_clear();
    tg_tensor *x = tg_tensor_full(TG_SHAPE(2), 5.0f);
    int rc = chart ? tg_plot_lines(path, &(tg_plot_series){ .y = x->data, .count = 2 }, 1,
                                   &(tg_plot_options){ .width = 200, .height = 120 })
                   : tg_safetensors_save(path, (tg_named_tensor[]){ { "x", x } }, 1, NULL, 0);
    tg_tensor_free(x);
    bool writable = kind == FUZZ_AT_NOTHING || kind == FUZZ_AT_FILE ||
                    kind == FUZZ_AT_LINK_TO_FILE || kind == FUZZ_AT_DANGLING_LINK;
    const char *problem = NULL;
    char prefix[760];
    snprintf(prefix, sizeof prefix, "%s: %s: ", chart ? "plot" : "safetensors_save", path);
    struct stat st;
    if (rc == 0) {
        tg_safetensors *file = chart ? NULL : tg_safetensors_load(path);
        const tg_tensor *saved = tg_safetensors_get(file, "x");
        bool linked = kind == FUZZ_AT_LINK_TO_FILE || kind == FUZZ_AT_DANGLING_LINK;
        if (!writable)
            problem = "a save replaced what is not a regular file";
        else if (chart ? !fuzz_is_png(path) : (!saved || saved->data[1] != 5.0f))
            problem = "a save succeeded but the file does not load back";
        else if (linked && !(lstat(path, &st) == 0 && S_ISLNK(st.st_mode)))
            problem = "a save replaced a symbolic link instead of writing its target";
        else if ((kind == FUZZ_AT_FILE || kind == FUZZ_AT_LINK_TO_FILE) &&
                 !(stat(path, &st) == 0 && (st.st_mode & 0777) == mode))
            problem = "a save changed the mode of the file it replaced";
        else if ((stale & 1) && plain && kind != FUZZ_AT_DANGLING_LINK &&
                 fuzz_exists(dir, ".tapegrad-" FUZZ_DEAD_PID "-0000abcd", S_IFREG))
            problem = "a save left a stale temporary in place";
        tg_safetensors_free(file);
    } else if (!(problem = fuzz_refused_with(prefix))) {
        if (writable && plain)
            problem = "a save to a writable path failed";
        else if ((kind == FUZZ_AT_FIFO && !fuzz_exists(dir, name, S_IFIFO)) ||
                 (kind == FUZZ_AT_DIRECTORY && !fuzz_exists(dir, name, S_IFDIR)) ||
                 (kind == FUZZ_AT_LINK_TO_FIFO && !fuzz_exists(dir, "F", S_IFIFO)) ||
                 (kind == FUZZ_AT_LINK_LOOP && !fuzz_exists(dir, name, S_IFLNK)))
            problem = "a refused save changed what was at the path";
    }
    if (!problem && (stale & 2) &&
        !(fuzz_exists(dir, ".tapegrad-" FUZZ_DEAD_PID "-0000abce", S_IFLNK) &&
          fuzz_exists(dir, "KEEP", S_IFREG)))
        problem = "a save removed a link of the temporaries' pattern, or its target";
    snprintf(other, sizeof other, "%s/SUB", dir);
    if (!problem && (fuzz_own_temporary_in(dir) || fuzz_own_temporary_in(other)))
        problem = "a save left its temporary behind";
    nftw(dir, fuzz_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    tg_error_clear();
    return problem;
}

#endif
