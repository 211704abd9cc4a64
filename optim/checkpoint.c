#include "optim/checkpoint.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/model_io.h"
#include "optim/optimizer_impl.h"

#define STATE_PREFIX "optim."
#define KEY_MAX (TG_NAME_MAX + 16)
#define VALUE_MAX 96
/* step, epoch, optimizer, optimizer.lr, optimizer.steps, rng.model,
 * rng.default, and at most 6 schedule values */
#define FIXED_ENTRIES 13

static int count_rngs(const tg_checkpoint *ck)
{
    int n = 0;
    while (n < TG_CHECKPOINT_MAX_RNGS && ck->rngs[n].name)
        n++;
    return n;
}

/* ---- Saving -------------------------------------------------------------- */

/* Metadata being built: keys are copied; a value is borrowed, or written
 * into the entry's own buffer. */
typedef struct meta_entry {
    char key[KEY_MAX];
    char value[VALUE_MAX];
} meta_entry;

typedef struct meta_list {
    meta_entry *entries;
    tg_string_pair *pairs;
    int n;
} meta_list;

/* Adds prefix + key with `value`, or, when value is NULL, with the entry's
 * own buffer, which is returned for the caller to fill. NULL with an error
 * when the key is too long. */
static char *meta_add(meta_list *m, const char *prefix, const char *key, const char *value)
{
    meta_entry *e = &m->entries[m->n];
    int n = snprintf(e->key, KEY_MAX, "%s%s", prefix, key);
    if (n < 0 || n >= KEY_MAX) {
        tg_error_set("checkpoint_save: the key \"%s%s\" is longer than %d bytes", prefix, key,
                     KEY_MAX - 1);
        return NULL;
    }
    m->pairs[m->n++] = (tg_string_pair){ e->key, value ? value : e->value };
    return e->value;
}

static int meta_number(meta_list *m, const char *prefix, const char *key, double value)
{
    char *v = meta_add(m, prefix, key, NULL);
    return v ? (snprintf(v, VALUE_MAX, "%.17g", value), 0) : -1;
}

static int meta_rng(meta_list *m, const char *key, const tg_rng *rng)
{
    char *v = meta_add(m, "rng.", key, NULL);
    if (!v)
        return -1;
    snprintf(v, VALUE_MAX, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64, rng->s[0],
             rng->s[1], rng->s[2], rng->s[3]);
    return 0;
}

static int fill_metadata(meta_list *m, const tg_checkpoint *ck)
{
    char *v;
    if ((v = meta_add(m, "", "step", NULL)))
        snprintf(v, VALUE_MAX, "%" PRId64, ck->step);
    if (v && (v = meta_add(m, "", "epoch", NULL)))
        snprintf(v, VALUE_MAX, "%" PRId64, ck->epoch);
    if (!v || meta_rng(m, "model", tg_model_rng(ck->model)) ||
        meta_rng(m, "default", tg_rng_default()))
        return -1;
    for (int i = 0; i < count_rngs(ck); i++)
        if (!ck->rngs[i].name[0] || !ck->rngs[i].rng || meta_rng(m, ck->rngs[i].name, ck->rngs[i].rng))
            return tg_error_set("checkpoint_save: generator %d (\"%s\"): needs a name and a "
                                "generator", i, ck->rngs[i].name);
    if (ck->optimizer) {
        if (!meta_add(m, "", "optimizer", tg_optimizer_name(ck->optimizer)) ||
            meta_number(m, "optimizer.", "lr", tg_optimizer_lr(ck->optimizer)) ||
            !(v = meta_add(m, "optimizer.", "steps", NULL)))
            return -1;
        snprintf(v, VALUE_MAX, "%" PRId64, tg_optimizer_steps(ck->optimizer));
    }
    for (int i = 0; i < tg_schedule_state_count(ck->schedule); i++)
        if (meta_number(m, "schedule.", tg_schedule_state_name(ck->schedule, i),
                        tg_schedule_state_value(ck->schedule, i)))
            return -1;
    for (int i = 0; i < ck->n_user; i++)
        if (!ck->user[i].key || !ck->user[i].value ||
            !meta_add(m, "user.", ck->user[i].key, ck->user[i].value))
            return tg_error_set("checkpoint_save: user entry %d: needs a key and a value", i);
    return 0;
}

/* The optimizer's state tensors as "optim.<name>"; names go in `names`. */
static void fill_state(tg_named_tensor *state, char (*names)[TG_OPTIM_NAME_MAX + 8],
                       const tg_optimizer *opt)
{
    for (int i = 0; i < tg_optimizer_state_count(opt); i++) {
        snprintf(names[i], TG_OPTIM_NAME_MAX + 8, STATE_PREFIX "%s",
                 tg_optimizer_state_name(opt, i));
        state[i] = (tg_named_tensor){ names[i], tg_optimizer_state_tensor(opt, i) };
    }
}

int tg_checkpoint_save(const char *path, const tg_checkpoint *ck)
{
    if (!path || !ck || !ck->model)
        return tg_error_null_input("checkpoint_save");
    if (ck->step < 0 || ck->step > TG_CHECKPOINT_MAX_COUNT || ck->epoch < 0 ||
        ck->epoch > TG_CHECKPOINT_MAX_COUNT)
        return tg_error_set("checkpoint_save: %s: step %" PRId64 " and epoch %" PRId64 " must be in "
                            "[0, %" PRId64 "]", path, ck->step, ck->epoch,
                            (int64_t)TG_CHECKPOINT_MAX_COUNT);
    if (ck->n_user < 0 || (ck->n_user > 0 && !ck->user))
        return tg_error_set("checkpoint_save: %s: %d user entries at %p", path, ck->n_user,
                            (const void *)ck->user);
    int capacity = FIXED_ENTRIES + count_rngs(ck) + ck->n_user;
    int n_state = tg_optimizer_state_count(ck->optimizer);
    meta_list m = { calloc((size_t)capacity, sizeof *m.entries),
                    calloc((size_t)capacity, sizeof *m.pairs), 0 };
    tg_named_tensor *state = calloc((size_t)n_state + 1, sizeof *state);
    char(*names)[TG_OPTIM_NAME_MAX + 8] = calloc((size_t)n_state + 1, sizeof *names);
    int rc = -1;
    if (!m.entries || !m.pairs || !state || !names) {
        tg_error_set("checkpoint_save: %s: out of memory", path);
    } else if (fill_metadata(&m, ck) == 0) {
        fill_state(state, names, ck->optimizer);
        rc = tg_model_save_with(ck->model, path, state, n_state, m.pairs, m.n);
    }
    free(m.entries);
    free(m.pairs);
    free(state);
    free(names);
    return rc;
}

/* ---- Loading ------------------------------------------------------------- */

/* Everything read from a file before anything is changed. */
typedef struct parsed {
    int64_t step, epoch, optimizer_steps;
    double lr;
    double schedule[6];
    tg_rng model_rng, default_rng, rngs[TG_CHECKPOINT_MAX_RNGS];
} parsed;

/* The metadata value of prefix + key; NULL with an error naming the file
 * when it is absent. */
static const char *require(const tg_safetensors *file, const char *label, const char *prefix,
                           const char *key)
{
    char full[KEY_MAX];
    snprintf(full, sizeof full, "%s%s", prefix, key);
    const char *value = tg_safetensors_metadata(file, full);
    if (!value)
        tg_error_set("checkpoint_load: %s: no \"%s\" in the metadata", label, full);
    return value;
}

/* A number as %.17g writes it: decimal, no leading space, no hexadecimal
 * form, not NaN (infinity is allowed: a schedule's best value starts there). */
static int parse_double(const tg_safetensors *file, const char *label, const char *prefix,
                        const char *key, double *out)
{
    const char *text = require(file, label, prefix, key);
    if (!text)
        return -1;
    char *end;
    *out = strtod(text, &end);
    if (end == text || *end || isspace((unsigned char)text[0]) || strpbrk(text, "xX") ||
        isnan(*out)) {
        char quoted[TG_ESCAPE_MAX];
        return tg_error_set("checkpoint_load: %s: \"%s%s\" = \"%s\" is not a number", label,
                            prefix, key, tg_escape(quoted, sizeof quoted, text));
    }
    return 0;
}

/* A count as written: decimal digits only (no sign, space, exponent or
 * hexadecimal), no leading zero, at most TG_CHECKPOINT_MAX_COUNT, read
 * exactly with checked arithmetic. */
static int parse_count(const tg_safetensors *file, const char *label, const char *key,
                       int64_t *out)
{
    const char *text = require(file, label, "", key);
    if (!text)
        return -1;
    int64_t value = 0;
    bool ok = text[0] && !(text[0] == '0' && text[1]);
    for (const char *p = text; ok && *p; p++) {
        ok = *p >= '0' && *p <= '9' && value <= (TG_CHECKPOINT_MAX_COUNT - (*p - '0')) / 10;
        if (ok)
            value = value * 10 + (*p - '0');
    }
    if (!ok) {
        char quoted[TG_ESCAPE_MAX];
        return tg_error_set("checkpoint_load: %s: \"%s\" = \"%s\" is not a count (decimal "
                            "digits, at most %" PRId64 ")", label, key,
                            tg_escape(quoted, sizeof quoted, text), (int64_t)TG_CHECKPOINT_MAX_COUNT);
    }
    *out = value;
    return 0;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Four words of exactly 16 hexadecimal digits, one space apart, as saved;
 * the all-zero state, from which xoshiro never moves, is refused. */
static int parse_rng(const tg_safetensors *file, const char *label, const char *key, tg_rng *out)
{
    const char *text = require(file, label, "rng.", key);
    if (!text)
        return -1;
    bool ok = strlen(text) == 4 * 16 + 3;
    for (int k = 0; ok && k < 4; k++) {
        const char *word = text + k * 17;
        out->s[k] = 0;
        for (int i = 0; ok && i < 16; i++) {
            int d = hex_digit(word[i]);
            ok = d >= 0;
            out->s[k] = out->s[k] << 4 | (uint64_t)(d & 15);
        }
        ok = ok && (k == 3 || word[16] == ' ');
    }
    char quoted[TG_ESCAPE_MAX];
    if (!ok)
        return tg_error_set("checkpoint_load: %s: \"rng.%s\" = \"%s\" is not four words of 16 "
                            "hexadecimal digits", label, key, tg_escape(quoted, sizeof quoted, text));
    if (!tg_rng_state_valid(out))
        return tg_error_set("checkpoint_load: %s: \"rng.%s\" is the all-zero state, which a "
                            "generator never leaves", label, key);
    return 0;
}

/* The file holds every state tensor of opt with its shape. */
static int check_state(const tg_safetensors *file, const char *label, const tg_optimizer *opt)
{
    for (int i = 0; i < tg_optimizer_state_count(opt); i++) {
        char name[TG_OPTIM_NAME_MAX + 8];
        snprintf(name, sizeof name, STATE_PREFIX "%s", tg_optimizer_state_name(opt, i));
        const tg_tensor *saved = tg_safetensors_get(file, name);
        if (!saved)
            return tg_error_set("checkpoint_load: %s: no optimizer state \"%s\"", label, name);
        if (!tg_tensor_same_shape(saved, tg_optimizer_state_tensor(opt, i))) {
            char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
            return tg_error_set("checkpoint_load: %s: optimizer state \"%s\" is %s in the file, "
                                "%s here", label, name, tg_shape_format(a, sizeof a, saved),
                                tg_shape_format(b, sizeof b, tg_optimizer_state_tensor(opt, i)));
        }
    }
    return 0;
}

static int parse_optimizer(const tg_safetensors *file, const char *label, const tg_optimizer *opt,
                           parsed *p)
{
    const char *kind = require(file, label, "", "optimizer");
    if (!kind)
        return -1;
    if (strcmp(kind, tg_optimizer_name(opt)) != 0) {
        char quoted[TG_ESCAPE_MAX];
        return tg_error_set("checkpoint_load: %s: the optimizer state is %s's, not %s's", label,
                            tg_escape(quoted, sizeof quoted, kind), tg_optimizer_name(opt));
    }
    if (parse_double(file, label, "optimizer.", "lr", &p->lr) != 0 ||
        parse_count(file, label, "optimizer.steps", &p->optimizer_steps) != 0)
        return -1;
    if (!(isfinite(p->lr) && p->lr >= 0))
        return tg_error_set("checkpoint_load: %s: optimizer.lr = %g", label, p->lr);
    return check_state(file, label, opt);
}

static int parse(const tg_safetensors *file, const char *label, const tg_checkpoint *ck, parsed *p)
{
    /* Another model's file is the likeliest cause of a failed load and the
     * most useful thing to say: check the model before the metadata. */
    if (tg_model_check_file(ck->model, file, TG_LOAD_STRICT, STATE_PREFIX, NULL) != 0)
        return -1;
    if (parse_count(file, label, "step", &p->step) || parse_count(file, label, "epoch", &p->epoch) ||
        parse_rng(file, label, "model", &p->model_rng) ||
        parse_rng(file, label, "default", &p->default_rng))
        return -1;
    for (int i = 0; i < count_rngs(ck); i++)
        if (parse_rng(file, label, ck->rngs[i].name, &p->rngs[i]) != 0)
            return -1;
    if (ck->optimizer && parse_optimizer(file, label, ck->optimizer, p) != 0)
        return -1;
    for (int i = 0; i < tg_schedule_state_count(ck->schedule); i++)
        if (parse_double(file, label, "schedule.", tg_schedule_state_name(ck->schedule, i),
                         &p->schedule[i]) != 0)
            return -1;
    return 0;
}

/* Sets the schedule's state from values; -1 at the first refused value. */
static int set_schedule(tg_schedule *s, const double *values)
{
    for (int i = 0; i < tg_schedule_state_count(s); i++)
        if (tg_schedule_set_state(s, tg_schedule_state_name(s, i), values[i]) != 0)
            return -1;
    return 0;
}

/* Copies what parse checked: cannot fail. */
static void restore_optimizer(const tg_safetensors *file, tg_optimizer *opt, const parsed *p)
{
    for (int i = 0; i < tg_optimizer_state_count(opt); i++) {
        char name[TG_OPTIM_NAME_MAX + 8];
        snprintf(name, sizeof name, STATE_PREFIX "%s", tg_optimizer_state_name(opt, i));
        tg_tensor_copy_(tg_optimizer_state_tensor(opt, i), tg_safetensors_get(file, name));
    }
    tg_optimizer_set_lr(opt, p->lr);
    tg_optimizer_set_steps(opt, p->optimizer_steps);
}

static int restore(const tg_safetensors *file, const char *label, tg_checkpoint *ck)
{
    if (!file || !ck || !ck->model)
        return tg_error_null_input("checkpoint_restore");
    parsed p;
    if (parse(file, label, ck, &p) != 0)
        return -1;
    /* The schedule may still refuse a value, and the model a name or shape:
     * keep what they had, to put it back. */
    double old_lr = tg_optimizer_lr(ck->optimizer), old_schedule[6];
    for (int i = 0; i < tg_schedule_state_count(ck->schedule); i++)
        old_schedule[i] = tg_schedule_state_value(ck->schedule, i);
    if (ck->optimizer)
        tg_optimizer_set_lr(ck->optimizer, p.lr);
    if ((ck->schedule && set_schedule(ck->schedule, p.schedule) != 0) ||
        tg_model_load_from(ck->model, file, TG_LOAD_STRICT, STATE_PREFIX, NULL) != 0) {
        if (ck->schedule)
            set_schedule(ck->schedule, old_schedule);
        if (ck->optimizer)
            tg_optimizer_set_lr(ck->optimizer, old_lr);
        return -1;
    }
    if (ck->optimizer)
        restore_optimizer(file, ck->optimizer, &p);
    *tg_model_rng(ck->model) = p.model_rng;
    *tg_rng_default() = p.default_rng;
    for (int i = 0; i < count_rngs(ck); i++)
        *ck->rngs[i].rng = p.rngs[i];
    ck->step = p.step;
    ck->epoch = p.epoch;
    return 0;
}

int tg_checkpoint_restore(const tg_safetensors *file, tg_checkpoint *ck)
{
    return restore(file, "checkpoint", ck);
}

int tg_checkpoint_load(const char *path, tg_checkpoint *ck)
{
    if (!path || !ck || !ck->model)
        return tg_error_null_input("checkpoint_load");
    tg_safetensors *file = tg_safetensors_load(path);
    if (!file)
        return -1;
    int rc = restore(file, path, ck);
    tg_safetensors_free(file);
    return rc;
}

const char *tg_checkpoint_user(const tg_safetensors *file, const char *key)
{
    if (!file || !key)
        return tg_null_input("checkpoint_user");
    char full[KEY_MAX];
    int n = snprintf(full, sizeof full, "user.%s", key);
    return n > 0 && n < KEY_MAX ? tg_safetensors_metadata(file, full) : NULL;
}
