/*
 * libtorch_step: bench_rnn's training step in LibTorch, PyTorch's C++ API.
 *
 * The same step as bench/rnn_step.c and compare_pytorch.py's PyTorch child:
 * zero-grad, forward through one recurrent layer (time first), a Linear
 * head at every step over V = 65 classes, cross-entropy, backward, Adam
 * (lr 1e-3); INF: forward only, no gradients. Same configurations as
 * bench_rnn, same timing (3 warm-up steps, then steps until 3 s have passed,
 * at least 5, at most 200; the median).
 *
 *     libtorch_step --run rnn|lstm|gru S|M|L|XL|INF THREADS [--cpu-time]
 *
 * prints one JSON line like bench_rnn's children. Set OMP_NUM_THREADS and
 * BLIS_NUM_THREADS before it starts (torch::set_num_threads does not reach
 * BLIS); compare_pytorch.py --libtorch does.
 */
#include <torch/torch.h>

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

struct Config {
    const char *name;
    int64_t steps, batch, input, hidden;
    bool infer;
};

const Config configs[] = {
    { "S", 64, 32, 64, 128, false },    { "M", 64, 32, 256, 256, false },
    { "L", 100, 16, 512, 512, false },  { "XL", 64, 64, 1024, 1024, false },
    { "INF", 64, 1, 256, 256, true },
};

constexpr int64_t vocab = 65;

clockid_t step_clock = CLOCK_MONOTONIC;

double now(clockid_t clock)
{
    timespec t;
    clock_gettime(clock, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

/* The recurrent layer's output sequence, whichever cell it is. */
std::function<torch::Tensor(const torch::Tensor &)> make_layer(const std::string &cell, int64_t input,
                                                               int64_t hidden,
                                                               std::vector<torch::Tensor> &params)
{
    if (cell == "lstm") {
        torch::nn::LSTM layer(torch::nn::LSTMOptions(input, hidden));
        for (auto &p : layer->parameters())
            params.push_back(p);
        return [layer](const torch::Tensor &x) mutable { return std::get<0>(layer->forward(x)); };
    }
    if (cell == "gru") {
        torch::nn::GRU layer(torch::nn::GRUOptions(input, hidden));
        for (auto &p : layer->parameters())
            params.push_back(p);
        return [layer](const torch::Tensor &x) mutable { return std::get<0>(layer->forward(x)); };
    }
    torch::nn::RNN layer(torch::nn::RNNOptions(input, hidden));
    for (auto &p : layer->parameters())
        params.push_back(p);
    return [layer](const torch::Tensor &x) mutable { return std::get<0>(layer->forward(x)); };
}

int run(const std::string &cell, const Config &c, int threads)
{
    torch::set_num_threads(threads);
    torch::manual_seed(1);
    std::vector<torch::Tensor> params;
    auto layer = make_layer(cell, c.input, c.hidden, params);
    torch::nn::Linear head(c.hidden, vocab);
    for (auto &p : head->parameters())
        params.push_back(p);
    torch::optim::Adam adam(params, torch::optim::AdamOptions(1e-3));
    torch::Tensor x = torch::randn({ c.steps, c.batch, c.input });
    torch::Tensor y = torch::randint(0, vocab, { c.steps * c.batch }, torch::kLong);
    const int64_t rows = c.steps * c.batch;

    auto train = [&] {
        adam.zero_grad();
        torch::Tensor logits = head->forward(layer(x)).reshape({ rows, vocab });
        torch::nn::functional::cross_entropy(logits, y).backward();
        adam.step();
    };
    auto infer = [&] {
        torch::NoGradGuard no_grad;
        head->forward(layer(x));
    };
    std::function<void()> step = c.infer ? std::function<void()>(infer) : std::function<void()>(train);
    for (int i = 0; i < 3; i++)
        step();
    std::vector<double> times;
    const double start = now(CLOCK_MONOTONIC);
    while (times.size() < 200 && (times.size() < 5 || now(CLOCK_MONOTONIC) - start < 3.0)) {
        double t = now(step_clock);
        step();
        times.push_back(now(step_clock) - t);
    }
    std::sort(times.begin(), times.end());
    size_t n = times.size();
    double median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    std::printf("{\"cell\":\"%s\",\"config\":\"%s\",\"threads\":%d,\"mode\":\"%s\",\"ms_median\":%.3f,"
                "\"runs\":%zu,\"peak_rss_mb\":%.1f,\"libtorch\":\"%d.%d.%d\"}\n",
                cell.c_str(), c.name, threads, c.infer ? "infer" : "train", median * 1e3, n,
                static_cast<double>(usage.ru_maxrss) / 1024.0, TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
                TORCH_VERSION_PATCH);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6 || std::strcmp(argv[1], "--run") != 0 ||
        (argc == 6 && std::strcmp(argv[5], "--cpu-time") != 0)) {
        std::fprintf(stderr, "usage: libtorch_step --run rnn|lstm|gru S|M|L|XL|INF THREADS [--cpu-time]\n");
        return 2;
    }
    const std::string cell = argv[2];
    if (cell != "rnn" && cell != "lstm" && cell != "gru") {
        std::fprintf(stderr, "libtorch_step: unknown cell %s\n", argv[2]);
        return 2;
    }
    const Config *config = nullptr;
    for (const Config &c : configs)
        if (std::strcmp(c.name, argv[3]) == 0)
            config = &c;
    int threads = std::atoi(argv[4]);
    if (!config || threads < 1) {
        std::fprintf(stderr, "libtorch_step: unknown configuration %s or thread count %s\n", argv[3], argv[4]);
        return 2;
    }
    if (argc == 6)
        step_clock = CLOCK_PROCESS_CPUTIME_ID;
    try {
        return run(cell, *config, threads);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "libtorch_step: %s\n", e.what());
        return 1;
    }
}
