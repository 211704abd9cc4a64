#!/usr/bin/python3
"""compare_pytorch.py: tapegrad's bench_rnn against PyTorch and LibTorch, side by side.

The same configurations as bench_rnn (one training step: zero-grad, forward
through one recurrent layer, a Linear head at every step over 65 classes,
cross-entropy, backward, Adam; INF: forward only, no gradients), in
PyTorch's best setting on this machine: BLIS's kernel set chosen the way
tapegrad chooses it, and OMP_NUM_THREADS and BLIS_NUM_THREADS set to the
thread count before torch starts (torch.set_num_threads alone does not reach
BLIS). LibTorch, PyTorch's C++ API, is the third column: bench/libtorch_step
(built where Debian's libtorch-dev is installed) runs the same step with the
same environment and timing. Each configuration runs the sides in
alternation, several rounds, in fresh processes; the table shows the medians
and the speed-ups (rival's time / tapegrad's) against PyTorch and LibTorch.

    bench/compare_pytorch.py --bench build/release/bench/bench_rnn
        [--libtorch build/release/bench/libtorch_step]
        [--cells rnn,lstm,gru] [--configs S,M,L,XL,INF] [--threads 1,2]
        [--rounds 3] [--cpu-time] [--split] [--json]

--split times tapegrad's training steps with more than one thread with the
batch cut into parts (bench_rnn --split, tg_batch_split: two per thread
while each keeps 8 rows), the
way a tapegrad program trains on several threads; mode "split". PyTorch and
LibTorch run their usual step (their threads share each op).

--libtorch defaults to libtorch_step beside --bench; the column is left out
(with a note) when that program is missing. Needs Debian's python3-torch for
the PyTorch column (run with /usr/bin/python3); without it, it says so and
goes on without that column.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CONFIGS = {
    "S": dict(T=64, B=32, I=64, H=128, infer=False),
    "M": dict(T=64, B=32, I=256, H=256, infer=False),
    "L": dict(T=100, B=16, I=512, H=512, infer=False),
    "XL": dict(T=64, B=64, I=1024, H=1024, infer=False),
    "INF": dict(T=64, B=1, I=256, H=256, infer=True),
}
VOCAB = 65

# Runs inside a fresh interpreter: prints one JSON line for one configuration.
TORCH_CHILD = r"""
import json, resource, sys, time
import torch
cell, name, threads, cpu_time = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
c = json.loads(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(1)
T, B, I, H, V = c["T"], c["B"], c["I"], c["H"], 65
layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](I, H)
head = torch.nn.Linear(H, V)
params = list(layer.parameters()) + list(head.parameters())
adam = torch.optim.Adam(params, lr=1e-3)
x = torch.randn(T, B, I)
y = torch.randint(0, V, (T, B))
loss_fn = torch.nn.CrossEntropyLoss()
clock = time.process_time if cpu_time else time.perf_counter

def train():
    adam.zero_grad()
    out, _ = layer(x)
    loss = loss_fn(head(out).reshape(T * B, V), y.reshape(T * B))
    loss.backward()
    adam.step()

def infer():
    with torch.no_grad():
        out, _ = layer(x)
        head(out)

step = infer if c["infer"] else train
for _ in range(3):
    step()
times = []
start = time.perf_counter()
while len(times) < 200 and (len(times) < 5 or time.perf_counter() - start < 3.0):
    t = clock()
    step()
    times.append(clock() - t)
times.sort()
n = len(times)
median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({"cell": cell, "config": name, "threads": threads,
                  "mode": "infer" if c["infer"] else "train", "ms_median": median * 1e3,
                  "peak_rss_mb": rss, "torch": torch.__version__}))
"""


def blis_kernel_set():
    """The BLIS kernel set id tapegrad picks on this CPU (tensor/blas.c)."""
    if "BLIS_ARCH_TYPE" in os.environ:
        return os.environ["BLIS_ARCH_TYPE"]
    flags = ""
    vendor = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags") and not flags:
                    flags = line
                if line.startswith("vendor_id") and not vendor:
                    vendor = line
    except OSError:
        return None
    have = set(flags.split(":", 1)[-1].split())
    if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= have:
        return "0"  # skx
    if {"avx2", "fma"} <= have:
        return "6" if "AMD" in vendor else "3"  # zen3 or haswell
    if "avx" in have:
        return "4"  # sandybridge
    return None


def run_json(command, env):
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    sys.stderr.write(f"compare_pytorch: {' '.join(command[:3])} failed:\n{out.stderr}\n")
    return None


def torch_available():
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return probe.returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="build/release/bench/bench_rnn")
    parser.add_argument("--libtorch", default=None,
                        help="libtorch_step program (default: beside --bench)")
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--configs", default="S,M,L,XL,INF")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu-time", action="store_true",
                        help="measure process CPU time (for a busy machine, one thread)")
    parser.add_argument("--split", action="store_true",
                        help="tapegrad splits the batch between threads (above one thread)")
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()

    have_torch = torch_available()
    if not have_torch:
        print("compare_pytorch: PyTorch is not installed (apt-get install python3-torch); "
              "showing tapegrad alone.", file=sys.stderr)
    libtorch = args.libtorch or os.path.join(os.path.dirname(args.bench), "libtorch_step")
    have_libtorch = os.access(libtorch, os.X_OK)
    if not have_libtorch:
        print(f"compare_pytorch: {libtorch} not found (built where libtorch-dev is installed); "
              "no LibTorch column.", file=sys.stderr)
    arch = blis_kernel_set()
    header = f"{'cell':5} {'cfg':4} {'thr':>3} {'mode':5} {'tapegrad ms':>12} {'pytorch ms':>11} " \
             f"{'libtorch ms':>12} {'vs PT':>7} {'vs LT':>7} {'RSS tg':>7} {'RSS pt':>7} {'RSS lt':>7}"
    if not args.json:
        print(header)
    for threads in args.threads.split(","):
        env = dict(os.environ, OMP_NUM_THREADS=threads, BLIS_NUM_THREADS=threads)
        if arch is not None:
            env["BLIS_ARCH_TYPE"] = arch
        for name in args.configs.split(","):
            config = CONFIGS[name]
            for cell in args.cells.split(","):
                ours, theirs, cpp = [], [], []
                rss = [0.0, 0.0, 0.0]
                split = args.split and int(threads) > 1 and not config["infer"]
                for _ in range(args.rounds):
                    command = [args.bench, "--run", cell, name, threads]
                    if args.cpu_time:
                        command.append("--cpu-time")
                    if split:
                        command.append("--split")
                    r = run_json(command, env)
                    if r:
                        ours.append(r["ms_median"])
                        rss[0] = max(rss[0], r["peak_rss_mb"])
                    if have_torch:
                        r = run_json([sys.executable, "-c", TORCH_CHILD, cell, name, threads,
                                      "1" if args.cpu_time else "0", json.dumps(config)], env)
                        if r:
                            theirs.append(r["ms_median"])
                            rss[1] = max(rss[1], r["peak_rss_mb"])
                    if have_libtorch:
                        command = [libtorch, "--run", cell, name, threads]
                        if args.cpu_time:
                            command.append("--cpu-time")
                        r = run_json(command, env)
                        if r:
                            cpp.append(r["ms_median"])
                            rss[2] = max(rss[2], r["peak_rss_mb"])
                tg = statistics.median(ours) if ours else float("nan")
                pt = statistics.median(theirs) if theirs else float("nan")
                lt = statistics.median(cpp) if cpp else float("nan")
                row = {"cell": cell, "config": name, "threads": int(threads),
                       "mode": "infer" if config["infer"] else "split" if split else "train",
                       "tapegrad_ms": tg if ours else None, "pytorch_ms": pt if theirs else None,
                       "libtorch_ms": lt if cpp else None,
                       "speedup": pt / tg if ours and theirs else None,
                       "speedup_libtorch": lt / tg if ours and cpp else None,
                       "tapegrad_rss_mb": rss[0], "pytorch_rss_mb": rss[1], "libtorch_rss_mb": rss[2]}
                if args.json:
                    print(json.dumps(row))
                else:
                    vs_pt = f"{pt / tg:6.2f}x" if ours and theirs else f"{'-':>7}"
                    vs_lt = f"{lt / tg:6.2f}x" if ours and cpp else f"{'-':>7}"
                    print(f"{cell:5} {name:4} {threads:>3} {row['mode']:5} {tg:12.2f} {pt:11.2f} "
                          f"{lt:12.2f} {vs_pt} {vs_lt} {rss[0]:7.0f} {rss[1]:7.0f} {rss[2]:7.0f}")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
