/*
 * optim/early_stop.h: keeping the best epoch's weights, and early stopping.
 *
 * After each epoch, hand the validation score to tg_early_stop_update: when
 * it is the best so far, the model's parameters are copied aside. Stop when
 * tg_early_stop_should_stop says that `patience` epochs have passed without
 * a better one, and put the best weights back with tg_early_stop_restore.
 *
 *     tg_early_stop *stop = tg_early_stop_new(model, (tg_early_stop_config){
 *         .goal = TG_GOAL_MAX, .tie_goal = TG_GOAL_MIN, .patience = 6 });
 *     for (int epoch = 1; epoch <= epochs; epoch++) {
 *         ...train one epoch, then validate...
 *         bool best = tg_early_stop_update(stop, epoch, valid_accuracy, valid_loss);
 *         if (tg_early_stop_should_stop(stop))
 *             break;
 *     }
 *     tg_early_stop_restore(stop);          // the best epoch's weights, back in the model
 *     printf("kept epoch %lld\n", (long long)tg_early_stop_best_epoch(stop));
 *     tg_early_stop_free(stop);
 *
 * The copies are owned tensors (as much memory again as the parameters);
 * the model must outlive the tg_early_stop and keep its parameters.
 */
#ifndef TG_EARLY_STOP_H
#define TG_EARLY_STOP_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether a lower (a loss, an error) or a higher (an accuracy) score is better. */
typedef enum tg_goal { TG_GOAL_MIN = 0, TG_GOAL_MAX } tg_goal;

typedef struct tg_early_stop_config {
    tg_goal goal;     /* of the score; default TG_GOAL_MIN */
    tg_goal tie_goal; /* of the second score, which decides between equal scores */
    int patience;     /* stop after this many epochs without a better score; 0: never */
} tg_early_stop_config;

typedef struct tg_early_stop tg_early_stop;

/* Copies aside nothing yet. NULL with an error when model is NULL,
 * patience is negative, a goal is neither TG_GOAL_MIN nor TG_GOAL_MAX, or
 * memory runs out. */
tg_early_stop *tg_early_stop_new(tg_model *model, tg_early_stop_config config);
void tg_early_stop_free(tg_early_stop *stop);

/* Reports epoch's score (and tie, the second score, compared only when
 * the scores are equal; pass 0 when there is none). A score better than
 * the best so far, or the first one reported, makes epoch the best: the
 * model's parameters are copied aside and true is returned. A NaN score is
 * never the best. */
bool tg_early_stop_update(tg_early_stop *stop, int64_t epoch, double score, double tie);

/* True once `patience` (> 0) epochs have passed since the best one: the
 * last reported epoch minus the best epoch is at least patience. */
bool tg_early_stop_should_stop(const tg_early_stop *stop);

/* The best epoch (-1 before any is reported) and its two scores. */
int64_t tg_early_stop_best_epoch(const tg_early_stop *stop);
double tg_early_stop_best_score(const tg_early_stop *stop);
double tg_early_stop_best_tie(const tg_early_stop *stop);

/* Copies the best epoch's weights back into the model. 0, or -1 with an
 * error when no epoch has been the best yet. */
int tg_early_stop_restore(tg_early_stop *stop);

#ifdef __cplusplus
}
#endif

#endif
