/* NULL pointers given to the public API: nothing crashes, and a NULL that
 * stands for "nothing" (tg_grad before any backward) is named by the op
 * that receives it instead of failing with an empty message. */
#include "reliability.h"
#include <autograd/kernel.h>

TestSuite(null_inputs, .init = rel_setup, .fini = rel_teardown);

/* Each call, with every pointer argument NULL and every other argument 0.
 * A pointer result must be NULL; the point is that none of them crashes
 * (the sanitizer build runs this too). */
#define CALL_VOID(call) (call)
#define CALL_PTR(call) cr_assert_null((call), "%s did not give NULL", #call)
#define CALL_VALUE(call) (void)(call)

Test(null_inputs, every_public_function_survives_null_pointers)
{
    /* Listed from the declarations of every header tapegrad.h includes. */
    CALL_VOID(tg_arena_free(NULL));
    CALL_PTR(tg_arena_alloc(NULL, (size_t)0));
    CALL_PTR(tg_arena_calloc(NULL, (size_t)0));
    CALL_VOID(tg_arena_give_back(NULL, NULL, (size_t)0));
    CALL_VOID(tg_arena_reset(NULL));
    CALL_VOID((void)tg_arena_get_mark(NULL));
    CALL_VOID(tg_arena_rewind(NULL, (tg_arena_mark){0}));
    CALL_VALUE(tg_arena_used(NULL));
    CALL_VALUE(tg_arena_reserved(NULL));
    CALL_PTR(tg_escape(NULL, (size_t)0, NULL));
    CALL_VOID(tg_rng_seed(NULL, (uint64_t)0));
    CALL_VALUE(tg_rng_next_u64(NULL));
    CALL_VALUE(tg_rng_state_valid(NULL));
    CALL_VALUE(tg_rng_uniform(NULL));
    CALL_VALUE(tg_rng_normal(NULL));
    CALL_VALUE(tg_rng_below(NULL, (int64_t)0));
    CALL_VOID(tg_rng_shuffle(NULL, NULL, (int64_t)0));
    CALL_VOID(tg_rng_fill_uniform(NULL, NULL, (int64_t)0, (float)0, (float)0));
    CALL_VOID(tg_rng_fill_normal(NULL, NULL, (int64_t)0, (float)0, (float)0));
    CALL_VOID(tg_rng_fill_bernoulli(NULL, NULL, (int64_t)0, (float)0));
    CALL_PTR(tg_tensor_from_array((tg_shape){0}, NULL));
    CALL_PTR(tg_tensor_clone(NULL));
    CALL_PTR(tg_tensor_rand((tg_shape){0}, NULL));
    CALL_PTR(tg_tensor_randn((tg_shape){0}, NULL));
    CALL_PTR(tg_tensor_uniform((tg_shape){0}, (float)0, (float)0, NULL));
    CALL_PTR(tg_tensor_normal((tg_shape){0}, (float)0, (float)0, NULL));
    CALL_PTR(tg_tensor_bernoulli((tg_shape){0}, (float)0, NULL));
    CALL_VOID(tg_tensor_free(NULL));
    CALL_PTR(tg_from_array((tg_shape){0}, NULL));
    CALL_PTR(tg_rand((tg_shape){0}, NULL));
    CALL_PTR(tg_randn((tg_shape){0}, NULL));
    CALL_PTR(tg_bernoulli((tg_shape){0}, (float)0, NULL));
    CALL_PTR(tg_zeros_like(NULL));
    CALL_PTR(tg_copy_to_graph(NULL));
    CALL_VALUE(tg_give_back(NULL));
    CALL_VALUE(tg_tensor_fill_(NULL, (float)0));
    CALL_VALUE(tg_tensor_uniform_(NULL, (float)0, (float)0, NULL));
    CALL_VALUE(tg_tensor_normal_(NULL, (float)0, (float)0, NULL));
    CALL_VALUE(tg_tensor_copy_(NULL, NULL));
    CALL_VOID(tg_tensor_mark_written(NULL));
    CALL_VOID((void)tg_tensor_shape(NULL));
    CALL_VALUE(tg_tensor_is_contiguous(NULL));
    CALL_VALUE(tg_tensor_same_shape(NULL, NULL));
    CALL_VALUE(tg_tensor_offset(NULL));
    CALL_VALUE(tg_tensor_get(NULL, NULL));
    CALL_VALUE(tg_tensor_item(NULL));
    CALL_VALUE(tg_tensor_to_array(NULL, NULL));
    CALL_PTR(tg_shape_format(NULL, (size_t)0, NULL));
    CALL_VOID(tg_tensor_print(NULL, NULL));
    CALL_VOID(tg_tensor_fprint(NULL, NULL, NULL));
    CALL_PTR(tg_view_reshape(NULL, (tg_shape){0}));
    CALL_PTR(tg_view_permute(NULL, NULL));
    CALL_PTR(tg_view_transpose(NULL, (int)0, (int)0));
    CALL_PTR(tg_view_slice(NULL, (int)0, (int64_t)0, (int64_t)0, (int64_t)0));
    CALL_PTR(tg_view_narrow(NULL, (int)0, (int64_t)0, (int64_t)0));
    CALL_PTR(tg_view_select(NULL, (int)0, (int64_t)0));
    CALL_PTR(tg_view_expand(NULL, (tg_shape){0}));
    CALL_PTR(tg_view_squeeze(NULL, (int)0));
    CALL_PTR(tg_view_unsqueeze(NULL, (int)0));
    CALL_PTR(tg_view_alias(NULL));
    CALL_PTR(tg_view_contiguous(NULL));
    CALL_VALUE(tg_shape_numel((tg_shape){0}, NULL));
    CALL_VALUE(tg_normalize_dim((int)0, (int)0, NULL));
    CALL_VALUE(tg_broadcast_shapes((tg_shape){0}, (tg_shape){0}, NULL, NULL));
    CALL_VOID(tg_contiguous_strides(NULL, NULL));
    CALL_VALUE(tg_map(NULL, NULL, (int)0, NULL, NULL, NULL, false));
    CALL_VALUE(tg_kernel_unary((tg_unary_op)0, NULL, NULL, NULL, false));
    CALL_VALUE(tg_kernel_binary((tg_binary_op)0, NULL, NULL, NULL, false));
    CALL_VALUE(tg_kernel_where(NULL, NULL, NULL, NULL));
    CALL_VALUE(tg_kernel_scale(NULL, NULL, (float)0, false));
    CALL_VALUE(tg_kernel_copy(NULL, NULL, false));
    CALL_VALUE(tg_kernel_fill(NULL, (float)0));
    CALL_VALUE(tg_kernel_index_select(NULL, NULL, (int)0, NULL));
    CALL_VALUE(tg_kernel_index_add(NULL, (int)0, NULL, NULL));
    CALL_VALUE(tg_kernel_gather(NULL, NULL, (int)0, NULL));
    CALL_VALUE(tg_kernel_scatter_add(NULL, (int)0, NULL, NULL));
    CALL_VALUE(tg_kernel_one_hot(NULL, NULL, (int64_t)0));
    CALL_VALUE(tg_kernel_concat(NULL, NULL, (int)0, (int)0));
    CALL_VALUE(tg_check_indices(NULL, (int64_t)0, NULL));
    CALL_VALUE(tg_kernel_matmul(NULL, NULL, NULL, (float)0, (float)0));
    CALL_VALUE(tg_matmul_shape(NULL, NULL, NULL, NULL));
    CALL_VALUE(tg_kernel_sum_to(NULL, NULL, (float)0, false));
    CALL_VALUE(tg_kernel_max_to(NULL, NULL));
    CALL_VALUE(tg_kernel_min_to(NULL, NULL));
    CALL_VALUE(tg_kernel_var_to(NULL, NULL, (float)0));
    CALL_VALUE(tg_kernel_logsumexp_to(NULL, NULL));
    CALL_VALUE(tg_kernel_norm_to(NULL, NULL, (float)0));
    CALL_VALUE(tg_kernel_arg_reduce(NULL, NULL, NULL, (int)0, false));
    CALL_VALUE(tg_kernel_softmax(NULL, NULL, (int)0, false));
    CALL_VALUE(tg_reduce_shapes(NULL, (tg_axes){0}, false, NULL, NULL, NULL));
    CALL_VALUE(tg_set_requires_grad(NULL, false));
    CALL_VALUE(tg_requires_grad(NULL));
    CALL_VALUE(tg_is_leaf(NULL));
    CALL_VALUE(tg_retain_grad(NULL));
    CALL_PTR(tg_grad(NULL));
    CALL_VOID(tg_zero_grad(NULL));
    CALL_PTR(tg_detach(NULL));
    CALL_VALUE(tg_backward(NULL));
    CALL_VALUE(tg_backward_with_grad(NULL, NULL));
    CALL_VALUE(tg_record(NULL, NULL, NULL, (int)0, NULL));
    CALL_PTR(tg_node_save(NULL, (size_t)0));
    CALL_PTR(tg_grad_target(NULL, NULL));
    CALL_PTR(tg_grad_target_zeroed(NULL));
    CALL_VALUE(tg_grad_map(NULL, NULL, (int)0, NULL, NULL, NULL));
    CALL_VALUE(tg_grad_accumulate(NULL, NULL));
    CALL_VALUE(tg_grad_accumulate_part(NULL, NULL, NULL));
    CALL_VALUE(tg_gradcheck(NULL, NULL, NULL, (int)0, NULL, NULL));
    CALL_PTR(tg_neg(NULL));
    CALL_PTR(tg_abs(NULL));
    CALL_PTR(tg_exp(NULL));
    CALL_PTR(tg_log(NULL));
    CALL_PTR(tg_log1p(NULL));
    CALL_PTR(tg_sqrt(NULL));
    CALL_PTR(tg_rsqrt(NULL));
    CALL_PTR(tg_square(NULL));
    CALL_PTR(tg_reciprocal(NULL));
    CALL_PTR(tg_sign(NULL));
    CALL_PTR(tg_tanh(NULL));
    CALL_PTR(tg_sigmoid(NULL));
    CALL_PTR(tg_relu(NULL));
    CALL_PTR(tg_leaky_relu(NULL, (float)0));
    CALL_PTR(tg_gelu(NULL));
    CALL_PTR(tg_softplus(NULL));
    CALL_PTR(tg_sin(NULL));
    CALL_PTR(tg_cos(NULL));
    CALL_PTR(tg_pow_scalar(NULL, (float)0));
    CALL_PTR(tg_clamp(NULL, (float)0, (float)0));
    CALL_PTR(tg_add_scalar(NULL, (float)0));
    CALL_PTR(tg_sub_scalar(NULL, (float)0));
    CALL_PTR(tg_mul_scalar(NULL, (float)0));
    CALL_PTR(tg_div_scalar(NULL, (float)0));
    CALL_PTR(tg_scalar_sub((float)0, NULL));
    CALL_PTR(tg_scalar_div((float)0, NULL));
    CALL_PTR(tg_scalar_pow((float)0, NULL));
    CALL_PTR(tg_eq_scalar(NULL, (float)0));
    CALL_PTR(tg_ne_scalar(NULL, (float)0));
    CALL_PTR(tg_lt_scalar(NULL, (float)0));
    CALL_PTR(tg_le_scalar(NULL, (float)0));
    CALL_PTR(tg_gt_scalar(NULL, (float)0));
    CALL_PTR(tg_ge_scalar(NULL, (float)0));
    CALL_PTR(tg_add(NULL, NULL));
    CALL_PTR(tg_sub(NULL, NULL));
    CALL_PTR(tg_mul(NULL, NULL));
    CALL_PTR(tg_div(NULL, NULL));
    CALL_PTR(tg_pow(NULL, NULL));
    CALL_PTR(tg_maximum(NULL, NULL));
    CALL_PTR(tg_minimum(NULL, NULL));
    CALL_PTR(tg_eq(NULL, NULL));
    CALL_PTR(tg_ne(NULL, NULL));
    CALL_PTR(tg_lt(NULL, NULL));
    CALL_PTR(tg_le(NULL, NULL));
    CALL_PTR(tg_gt(NULL, NULL));
    CALL_PTR(tg_ge(NULL, NULL));
    CALL_PTR(tg_where(NULL, NULL, NULL));
    CALL_PTR(tg_sum(NULL, (tg_axes){0}, false));
    CALL_PTR(tg_mean(NULL, (tg_axes){0}, false));
    CALL_PTR(tg_amax(NULL, (tg_axes){0}, false));
    CALL_PTR(tg_amin(NULL, (tg_axes){0}, false));
    CALL_PTR(tg_max(NULL, (int)0, false, NULL));
    CALL_PTR(tg_min(NULL, (int)0, false, NULL));
    CALL_PTR(tg_var(NULL, (tg_axes){0}, (float)0, false));
    CALL_PTR(tg_logsumexp(NULL, (tg_axes){0}, false));
    CALL_PTR(tg_norm(NULL, (float)0, (tg_axes){0}, false));
    CALL_PTR(tg_sum_all(NULL));
    CALL_PTR(tg_mean_all(NULL));
    CALL_PTR(tg_argmax(NULL, (int)0, false));
    CALL_PTR(tg_argmin(NULL, (int)0, false));
    CALL_PTR(tg_matmul(NULL, NULL));
    CALL_PTR(tg_addmm(NULL, NULL, NULL));
    CALL_PTR(tg_affine(NULL, NULL, NULL));
    CALL_PTR(tg_reshape(NULL, (tg_shape){0}));
    CALL_PTR(tg_flatten(NULL, (int)0, (int)0));
    CALL_PTR(tg_permute(NULL, NULL));
    CALL_PTR(tg_transpose(NULL, (int)0, (int)0));
    CALL_PTR(tg_slice(NULL, (int)0, (int64_t)0, (int64_t)0, (int64_t)0));
    CALL_PTR(tg_narrow(NULL, (int)0, (int64_t)0, (int64_t)0));
    CALL_PTR(tg_select(NULL, (int)0, (int64_t)0));
    CALL_PTR(tg_expand(NULL, (tg_shape){0}));
    CALL_PTR(tg_squeeze(NULL, (int)0));
    CALL_PTR(tg_unsqueeze(NULL, (int)0));
    CALL_PTR(tg_contiguous(NULL));
    CALL_PTR(tg_clone(NULL));
    CALL_PTR(tg_concat(NULL, (int)0, (int)0));
    CALL_PTR(tg_stack(NULL, (int)0, (int)0));
    CALL_VALUE(tg_split(NULL, (int)0, NULL, (int)0, NULL));
    CALL_VALUE(tg_chunk(NULL, (int)0, (int)0, NULL));
    CALL_PTR(tg_index_select(NULL, (int)0, NULL));
    CALL_PTR(tg_gather(NULL, (int)0, NULL));
    CALL_PTR(tg_scatter_add(NULL, (int)0, NULL, NULL));
    CALL_PTR(tg_one_hot(NULL, (int64_t)0));
    CALL_PTR(tg_softmax(NULL, (int)0));
    CALL_PTR(tg_log_softmax(NULL, (int)0));
    CALL_PTR(tg_log_softmax_pick(NULL, NULL));
    CALL_VOID(tg_model_free(NULL));
    CALL_PTR(tg_model_add_parameter(NULL, NULL, (tg_shape){0}));
    CALL_VALUE(tg_model_own(NULL, NULL, NULL));
    CALL_VALUE(tg_model_parameter_count(NULL));
    CALL_PTR(tg_model_parameter_name(NULL, (int)0));
    CALL_PTR(tg_model_parameter(NULL, (int)0));
    CALL_PTR(tg_model_find(NULL, NULL));
    CALL_VALUE(tg_model_numel(NULL));
    CALL_VOID(tg_model_zero_grad(NULL));
    CALL_VOID(tg_model_set_training(NULL, false));
    CALL_VALUE(tg_model_training(NULL));
    CALL_PTR(tg_model_rng(NULL));
    CALL_VALUE(tg_model_join_name(NULL, NULL, NULL));
    CALL_PTR(tg_dropout(NULL, NULL, (float)0));
    CALL_PTR(tg_embedding_new(NULL, NULL, (tg_embedding_config){0}));
    CALL_PTR(tg_embedding_forward(NULL, NULL));
    CALL_PTR(tg_layernorm_new(NULL, NULL, (tg_layernorm_config){0}));
    CALL_PTR(tg_layernorm_forward(NULL, NULL));
    CALL_PTR(tg_linear_new(NULL, NULL, (tg_linear_config){0}));
    CALL_PTR(tg_linear_forward(NULL, NULL));
    CALL_PTR(tg_mse_loss(NULL, NULL, (tg_reduction)0));
    CALL_PTR(tg_l1_loss(NULL, NULL, (tg_reduction)0));
    CALL_PTR(tg_huber_loss(NULL, NULL, (float)0, (tg_reduction)0));
    CALL_PTR(tg_cross_entropy(NULL, NULL, NULL));
    CALL_PTR(tg_nll_loss(NULL, NULL, NULL));
    CALL_PTR(tg_bce_with_logits(NULL, NULL, NULL));
    CALL_VALUE(tg_safetensors_save(NULL, NULL, (int)0, NULL, (int)0));
    CALL_PTR(tg_safetensors_load(NULL));
    CALL_PTR(tg_safetensors_load_memory(NULL, (size_t)0, NULL));
    CALL_VOID(tg_safetensors_free(NULL));
    CALL_PTR(tg_safetensors_path(NULL));
    CALL_VALUE(tg_safetensors_count(NULL));
    CALL_PTR(tg_safetensors_name(NULL, (int)0));
    CALL_PTR(tg_safetensors_get(NULL, NULL));
    CALL_PTR(tg_safetensors_tensor(NULL, (int)0));
    CALL_PTR(tg_safetensors_metadata(NULL, NULL));
    CALL_VALUE(tg_safetensors_metadata_count(NULL));
    CALL_PTR(tg_safetensors_metadata_key(NULL, (int)0));
    CALL_PTR(tg_safetensors_metadata_value(NULL, (int)0));
    CALL_VALUE(tg_model_save(NULL, NULL));
    CALL_VALUE(tg_model_save_with(NULL, NULL, NULL, (int)0, NULL, (int)0));
    CALL_VALUE(tg_model_load(NULL, NULL, (tg_load_mode)0, NULL));
    CALL_VALUE(tg_model_load_from(NULL, NULL, (tg_load_mode)0, NULL, NULL));
    CALL_PTR(tg_rnn_new(NULL, NULL, (tg_rnn_config){0}));
    CALL_PTR(tg_lstm_new(NULL, NULL, (tg_rnn_config){0}));
    CALL_PTR(tg_gru_new(NULL, NULL, (tg_rnn_config){0}));
    CALL_VOID((void)tg_rnn_forward(NULL, NULL, NULL));
    CALL_VOID((void)tg_lstm_forward(NULL, NULL, NULL));
    CALL_VOID((void)tg_gru_forward(NULL, NULL, NULL));
    CALL_VOID((void)tg_rnn_get_config(NULL));
    CALL_PTR(tg_rnn_cell_new(NULL, NULL, (tg_rnn_config){0}));
    CALL_PTR(tg_lstm_cell_new(NULL, NULL, (tg_rnn_config){0}));
    CALL_PTR(tg_gru_cell_new(NULL, NULL, (tg_rnn_config){0}));
    CALL_VOID((void)tg_rnn_cell_forward(NULL, NULL, (tg_rnn_state){0}));
    CALL_VOID((void)tg_lstm_cell_forward(NULL, NULL, (tg_rnn_state){0}));
    CALL_VOID((void)tg_gru_cell_forward(NULL, NULL, (tg_rnn_state){0}));
    CALL_PTR(tg_sgd_new(NULL, (tg_sgd_config){0}));
    CALL_PTR(tg_adam_new(NULL, (tg_adam_config){0}));
    CALL_PTR(tg_adamw_new(NULL, (tg_adam_config){0}));
    CALL_PTR(tg_rmsprop_new(NULL, (tg_rmsprop_config){0}));
    CALL_PTR(tg_adagrad_new(NULL, (tg_adagrad_config){0}));
    CALL_VALUE(tg_optimizer_step(NULL));
    CALL_VOID(tg_optimizer_zero_grad(NULL));
    CALL_VOID(tg_optimizer_free(NULL));
    CALL_PTR(tg_optimizer_name(NULL));
    CALL_VALUE(tg_optimizer_lr(NULL));
    CALL_VALUE(tg_optimizer_set_lr(NULL, (double)0));
    CALL_VALUE(tg_optimizer_steps(NULL));
    CALL_VALUE(tg_optimizer_set_steps(NULL, (int64_t)0));
    CALL_VALUE(tg_optimizer_parameter_count(NULL));
    CALL_PTR(tg_optimizer_parameter(NULL, (int)0));
    CALL_VALUE(tg_optimizer_state_count(NULL));
    CALL_PTR(tg_optimizer_state_name(NULL, (int)0));
    CALL_PTR(tg_optimizer_state_tensor(NULL, (int)0));
    CALL_PTR(tg_optimizer_state_find(NULL, NULL));
    CALL_PTR(tg_schedule_new(NULL, (tg_schedule_config){0}));
    CALL_VOID(tg_schedule_free(NULL));
    CALL_VALUE(tg_schedule_step(NULL));
    CALL_VALUE(tg_schedule_step_metric(NULL, (double)0));
    CALL_VALUE(tg_schedule_lr(NULL));
    CALL_VALUE(tg_schedule_epoch(NULL));
    CALL_VALUE(tg_schedule_state_count(NULL));
    CALL_PTR(tg_schedule_state_name(NULL, (int)0));
    CALL_VALUE(tg_schedule_state_value(NULL, (int)0));
    CALL_VALUE(tg_schedule_set_state(NULL, NULL, (double)0));
    CALL_VALUE(tg_checkpoint_save(NULL, NULL));
    CALL_VALUE(tg_checkpoint_load(NULL, NULL));
    CALL_VALUE(tg_checkpoint_restore(NULL, NULL));
    CALL_PTR(tg_checkpoint_user(NULL, NULL));
    CALL_VALUE(tg_grad_norm(NULL, (float)0));
    CALL_VALUE(tg_clip_grad_norm(NULL, (float)0));
    CALL_VALUE(tg_clip_grad_norm_p(NULL, (float)0, (float)0));
    CALL_VALUE(tg_clip_grad_value(NULL, (float)0));
    CALL_VALUE(tg_check_finite(NULL, NULL, (int64_t)0));
    CALL_VOID(tg_plot_axes_pixel(NULL, (double)0, (double)0, NULL, NULL));
    CALL_VALUE(tg_plot_lines(NULL, NULL, (int)0, NULL));
    CALL_VALUE(tg_plot_lines_axes(NULL, (int)0, NULL, NULL));
    CALL_VALUE(tg_plot_bars(NULL, NULL, (int)0, NULL));
    CALL_VOID(tg_plot_figure_free(NULL));
    CALL_VALUE(tg_plot_figure_lines(NULL, (int)0, NULL, (int)0, NULL));
    CALL_VALUE(tg_plot_figure_bars(NULL, (int)0, NULL, (int)0, NULL));
    CALL_VALUE(tg_plot_figure_axes(NULL, (int)0, NULL));
    CALL_VALUE(tg_plot_figure_save(NULL, NULL));
    tg_history_free(tg_history_new(NULL)); /* NULL: the default name */
    CALL_VOID(tg_history_free(NULL));
    CALL_VALUE(tg_history_add(NULL, (int64_t)0, NULL, (double)0));
    CALL_VALUE(tg_history_rows(NULL));
    CALL_VALUE(tg_history_columns(NULL));
    CALL_PTR(tg_history_column_name(NULL, (int)0));
    CALL_VALUE(tg_history_x(NULL, (int)0));
    CALL_VALUE(tg_history_value(NULL, (int)0, NULL));
    CALL_VALUE(tg_history_last(NULL, NULL));
    CALL_VALUE(tg_history_write_csv(NULL, NULL));
    CALL_VALUE(tg_history_plot(NULL, NULL, NULL, (int)0, NULL));
    CALL_VOID(tg_progress_update(NULL, (int64_t)0, (double)0));
    CALL_VOID(tg_progress_finish(NULL));
    CALL_VOID(tg_progress_free(NULL));
    CALL_PTR(tg_csv_read(NULL, (tg_csv_config){0}));
    CALL_PTR(tg_csv_parse(NULL, (size_t)0, NULL, (tg_csv_config){0}));
    CALL_VOID(tg_csv_free(NULL));
    CALL_VALUE(tg_csv_rows(NULL));
    CALL_VALUE(tg_csv_columns(NULL));
    CALL_PTR(tg_csv_column_name(NULL, (int)0));
    CALL_VALUE(tg_csv_column(NULL, NULL));
    CALL_PTR(tg_csv_field(NULL, (int)0, (int)0));
    CALL_VALUE(tg_csv_line(NULL, (int)0));
    CALL_VALUE(tg_csv_float(NULL, (int)0, (int)0, NULL));
    CALL_VALUE(tg_csv_column_floats(NULL, NULL, NULL));
    CALL_PTR(tg_tensor_from_csv(NULL, NULL, (int)0));
    CALL_VALUE(tg_csv_write(NULL, NULL, (int)0, NULL, (int)0));
    CALL_PTR(tg_file_read(NULL, (size_t)0, NULL, NULL));
    free(tg_file_copy(NULL, (size_t)0, (size_t)0, NULL, NULL)); /* empty: fine */
    CALL_PTR(tg_atomic_file_open(NULL, NULL));
    CALL_VALUE(tg_atomic_file_write(NULL, NULL, (size_t)0));
    CALL_VALUE(tg_atomic_file_commit(NULL));
    CALL_VOID(tg_atomic_file_discard(NULL));
    CALL_PTR(tg_text_read(NULL, (size_t)0, NULL));
    CALL_VOID((void)tg_char_vocab_build(NULL, (size_t)0));
    CALL_VALUE(tg_char_vocab_encode(NULL, NULL, (size_t)0, NULL));
    CALL_VALUE(tg_char_vocab_decode(NULL, NULL, (size_t)0, NULL));
    tg_tokens_free(tg_text_tokenize(NULL, (size_t)0)); /* empty: fine */
    CALL_VOID(tg_tokens_free(NULL));
    CALL_PTR(tg_sentences_read(NULL));
    tg_sentences_free(tg_sentences_parse(NULL, (size_t)0, NULL)); /* empty: fine */
    CALL_VOID(tg_sentences_free(NULL));
    CALL_VALUE(tg_sentences_count(NULL));
    CALL_PTR(tg_sentences_text(NULL, (int)0));
    CALL_VALUE(tg_sentences_label(NULL, (int)0));
    CALL_VALUE(tg_sentences_line(NULL, (int)0));
    tg_vocab_free(tg_vocab_build(NULL, (int)0, (tg_vocab_config){0})); /* empty: fine */
    CALL_VOID(tg_vocab_free(NULL));
    CALL_VALUE(tg_vocab_size(NULL));
    CALL_PTR(tg_vocab_token(NULL, (int)0));
    CALL_VALUE(tg_vocab_frequency(NULL, (int)0));
    CALL_VALUE(tg_vocab_id(NULL, NULL));
    CALL_VALUE(tg_vocab_encode(NULL, NULL, NULL));
    CALL_PTR(tg_vocab_decode(NULL, NULL, (int)0));
    CALL_VALUE(tg_vocab_save(NULL, NULL));
    CALL_PTR(tg_vocab_load(NULL));
    CALL_PTR(tg_vocab_parse(NULL, (size_t)0, NULL));
    CALL_PTR(tg_avg_pool1d(NULL, (tg_pool1d_options){0}));
    CALL_PTR(tg_conv1d(NULL, NULL, NULL, (tg_conv1d_options){0}));
    CALL_PTR(tg_early_stop_new(NULL, (tg_early_stop_config){0}));
    CALL_PTR(tg_fold(NULL, (int)0, (int64_t)0, (int64_t)0));
    CALL_PTR(tg_masked_fill(NULL, NULL, (float)0));
    CALL_PTR(tg_max_pool1d(NULL, (tg_pool1d_options){0}));
    CALL_PTR(tg_model_metadata_key(NULL, (int)0));
    CALL_PTR(tg_model_metadata_value(NULL, (int)0));
    CALL_PTR(tg_pad(NULL, NULL, (int)0, (tg_pad_mode)0, (float)0));
    CALL_PTR(tg_unfold(NULL, (int)0, (int64_t)0, (int64_t)0));
    CALL_PTR(tg_view_unfold(NULL, (int)0, (int64_t)0, (int64_t)0, NULL));
    CALL_PTR(tg_scaled_dot_product_attention(NULL, NULL, NULL, NULL, NULL));
    CALL_PTR(tg_attention_new(NULL, NULL, (tg_attention_config){0}));
    CALL_PTR(tg_attention_forward(NULL, NULL, NULL, NULL, NULL, NULL));
    CALL_PTR(tg_conv1d_layer_new(NULL, NULL, (tg_conv1d_config){0}));
    CALL_PTR(tg_conv1d_layer_forward(NULL, NULL));
    CALL_PTR(tg_bmm(NULL, NULL));
    CALL_VALUE(tg_early_stop_best_epoch(NULL));
    CALL_VALUE(tg_early_stop_best_score(NULL));
    CALL_VALUE(tg_early_stop_best_tie(NULL));
    CALL_VALUE(tg_early_stop_restore(NULL));
    CALL_VALUE(tg_early_stop_should_stop(NULL));
    CALL_VALUE(tg_early_stop_update(NULL, (int64_t)0, (double)0, (double)0));
    CALL_VALUE(tg_file_open_regular(NULL, NULL, NULL));
    CALL_VALUE(tg_file_read_at((int)-1, NULL, (size_t)0, (uint64_t)0, NULL, NULL));
    CALL_VALUE(tg_kernel_fold(NULL, NULL, (int)0, (int64_t)0));
    CALL_VALUE(tg_kernel_pad_constant(NULL, NULL, NULL, (float)0));
    CALL_VALUE(tg_model_metadata_count(NULL));
    CALL_VALUE(tg_model_set_metadata(NULL, NULL, NULL));
    CALL_VALUE(tg_sample_logits(NULL, (int64_t)0, (float)0, (int)0, NULL));
    CALL_VOID(tg_early_stop_free(NULL));
    CALL_VOID(tg_set_grad_ready_notice(NULL, NULL));
    tg_error_clear();
}

Test(null_inputs, a_null_that_means_nothing_is_named_by_the_op_that_receives_it)
{
    tg_tensor *w = tg_tensor_ones(TG_SHAPE(2));
    tg_set_requires_grad(w, true);
    tg_tensor *g = tg_grad(w); /* no backward yet: nothing, not an error */
    cr_assert_null(g);
    cr_assert_not(tg_error_occurred());
    cr_assert_null(tg_mul(g, w));
    cr_assert_str_eq(tg_error_message(),
                     "mul: an input is NULL, and no error was recorded before it (a function that "
                     "returns NULL for \"nothing\", such as tg_grad of a tensor no gradient has "
                     "reached, gave it)");
    /* A real error before it stays the message: the first cause is kept. */
    tg_error_clear();
    tg_tensor *bad = tg_reshape(w, TG_SHAPE(3));
    cr_assert_null(tg_mul(bad, w));
    cr_assert_str_eq(tg_error_message(), "reshape: [2] to [3]: 2 elements cannot become 3");
    tg_error_clear();
    cr_assert_eq(tg_backward(NULL), -1);
    tg_assert_error("backward: an input is NULL");
    tg_tensor_free(w);
}

Test(null_inputs, error_set_with_a_null_format_records_that)
{
    const char *format = NULL;
    cr_assert_eq(tg_error_set(format), -1);
    cr_assert_str_eq(tg_error_message(), "error_set: a NULL message");
    tg_error_clear();
    cr_assert_eq(tg_error_null_input(NULL), -1);
    tg_assert_error("?: an input is NULL");
}

Test(null_inputs, random_generators_refuse_null)
{
    cr_assert_eq(tg_rng_next_u64(NULL), 0);
    tg_assert_error("rng_next_u64: an input is NULL");
    tg_error_clear();
    cr_assert_eq(tg_rng_below(NULL, 10), 0);
    tg_assert_error("rng_below: an input is NULL");
    tg_error_clear();
    tg_rng_seed(NULL, 3);
    tg_assert_error("rng_seed: an input is NULL");
    tg_error_clear();
    tg_rng rng = tg_rng_new(1);
    tg_rng_fill_uniform(&rng, NULL, 4, 0, 1);
    tg_assert_error("rng_fill_uniform: an input is NULL");
    tg_error_clear();
    tg_rng_shuffle(&rng, NULL, 0); /* nothing to shuffle: fine */
    cr_assert_not(tg_error_occurred());
    cr_assert(tg_rng_state_valid(&rng));
    cr_assert_not(tg_rng_state_valid(&(tg_rng){ { 0, 0, 0, 0 } }));
    cr_assert_not(tg_rng_state_valid(NULL));
}

/* A NULL op reads as "?" in messages; NULL bytes to write fail the save,
 * which then leaves the old file as it was. */
Test(null_inputs, the_file_primitives_take_a_null_op_or_null_bytes)
{
    cr_assert_eq(chdir(rel_dir), 0);
    FILE *f = fopen("old.txt", "wb");
    cr_assert_not_null(f);
    fputs("old", f);
    fclose(f);
    tg_error_clear();
    uint64_t size;
    cr_assert_eq(tg_file_open_regular(".", NULL, &size), -1);
    cr_assert_str_eq(tg_error_message(), "?: .: not a regular file but a directory");
    tg_error_clear();
    cr_assert_null(tg_atomic_file_open(".", NULL));
    cr_assert_str_eq(tg_error_message(), "?: .: not a regular file but a directory; saves replace "
                                         "only regular files");
    tg_error_clear();
    cr_assert_null(tg_file_copy("abc", 3, 2, NULL, NULL));
    cr_assert_str_eq(tg_error_message(), "?: ?: the file has 3 bytes, more than the limit of 2");
    tg_error_clear();
    tg_atomic_file *file = tg_atomic_file_open("old.txt", "test_save");
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_eq(tg_atomic_file_write(file, "new", 3), 0);
    cr_assert_eq(tg_atomic_file_write(file, NULL, 3), -1);
    cr_assert_eq(tg_atomic_file_commit(file), -1);
    cr_assert_str_eq(tg_error_message(), "test_save: old.txt: cannot write: Invalid argument");
    tg_error_clear();
    size_t n;
    char *text = tg_file_read("old.txt", 16, &n, "test_read");
    cr_assert_not_null(text, "%s", tg_error_message());
    cr_assert_str_eq(text, "old");
    free(text);
    cr_assert_eq(dir_entries(rel_dir), 1, "the failed save left its temporary");
}

Test(null_inputs, joining_a_parameter_name_refuses_null)
{
    char out[TG_NAME_MAX];
    cr_assert_eq(tg_model_join_name(NULL, "a", "b"), -1);
    tg_assert_error("model_join_name: an input is NULL");
    tg_error_clear();
    cr_assert_eq(tg_model_join_name(out, "a", NULL), -1);
    tg_error_clear();
    cr_assert_eq(tg_model_join_name(out, NULL, "b"), 0);
    cr_assert_str_eq(out, "b");
}
