#!/usr/bin/python3
"""compare_int8.py: int8 batch-of-one inference, tapegrad against PyTorch, side by side.

The INF configuration of bench_rnn and compare_pytorch.py (T = 64 steps of
one sequence, input 256, hidden 256, one recurrent layer and a Linear head
over 65 classes, forward only, no gradients), in four versions:

  - tapegrad fp32 and tapegrad int8 (tg_quantize_dynamic), timed by
    bench/bench_int8 in alternation inside one process;
  - PyTorch fp32 and PyTorch int8,
    torch.quantization.quantize_dynamic(model, {nn.LSTM, nn.GRU, nn.Linear},
    dtype=torch.qint8), timed the same way in one fresh interpreter.
    torch.nn.RNN has no dynamic quantised version: for the RNN only its
    head is quantised (marked "head only").

PyTorch's quantised engine is fbgemm when this build has it; otherwise each
available engine (onednn, qnnpack) is timed and the fastest is shown. The
environment of every child is set before it starts: BLIS_ARCH_TYPE as
compare_pytorch.py chooses it, OMP_NUM_THREADS and BLIS_NUM_THREADS = 1.
Rounds alternate the two programs; the table shows medians over rounds.

    /usr/bin/python3 bench/compare_int8.py --bench build/release/bench/bench_int8
        [--cells rnn,lstm,gru] [--rounds 3] [--cpu-time] [--json]
"""
import argparse
import json
import os
import statistics
import sys

from compare_pytorch import CONFIGS, blis_kernel_set, run_json, torch_available

# Runs inside a fresh interpreter: fp32 and int8 medians for one cell.
TORCH_CHILD = r"""
import json, sys, time
import torch
cell, cpu_time, seconds = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3])
c = json.loads(sys.argv[4])
torch.set_num_threads(1)
torch.manual_seed(1)
T, B, I, H, V = c["T"], c["B"], c["I"], c["H"], 65
clock = time.process_time if cpu_time else time.perf_counter

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](I, H)
        self.head = torch.nn.Linear(H, V)
    def forward(self, x):
        out, _ = self.layer(x)
        return self.head(out)

x = torch.randn(T, B, I)

def median_ms(model):
    with torch.no_grad():
        for _ in range(3):
            model(x)
        times = []
        start = time.perf_counter()
        while len(times) < 200 and (len(times) < 5 or time.perf_counter() - start < seconds):
            t = clock()
            model(x)
            times.append(clock() - t)
    times.sort()
    n = len(times)
    return 1e3 * (times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2]))

net = Net().eval()
engines = torch.backends.quantized.supported_engines
candidates = ["fbgemm"] if "fbgemm" in engines else [e for e in engines if e != "none"]
best = None
for engine in candidates:
    torch.backends.quantized.engine = engine
    q = torch.quantization.quantize_dynamic(
        net, {torch.nn.LSTM, torch.nn.GRU, torch.nn.Linear}, dtype=torch.qint8)
    ms = median_ms(q)
    if best is None or ms < best[1]:
        best = (engine, ms)
print(json.dumps({"cell": cell, "fp32_ms": median_ms(net), "int8_ms": best[1], "engine": best[0],
                  "int8_layer": cell != "rnn", "torch": torch.__version__}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="build/release/bench/bench_int8")
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per side and round")
    parser.add_argument("--cpu-time", action="store_true",
                        help="measure process CPU time (for a busy machine)")
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()

    have_torch = torch_available()
    if not have_torch:
        print("compare_int8: PyTorch is not installed (apt-get install python3-torch); "
              "showing tapegrad alone.", file=sys.stderr)
    env = dict(os.environ, OMP_NUM_THREADS="1", BLIS_NUM_THREADS="1")
    arch = blis_kernel_set()
    if arch is not None:
        env["BLIS_ARCH_TYPE"] = arch
    config = CONFIGS["INF"]
    if not args.json:
        print("| cell | tapegrad fp32 ms | tapegrad int8 ms | fp32 / int8 | PyTorch fp32 ms | "
              "PyTorch int8 ms (engine) | PyTorch int8 / tapegrad int8 |")
        print("|---|---|---|---|---|---|---|")
    for cell in args.cells.split(","):
        ours, theirs = {"fp32": [], "int8": []}, {"fp32": [], "int8": []}
        engine, quantised_layer = "-", True
        for _ in range(args.rounds):
            command = [args.bench, "--cells", cell, "--rounds", "1", "--seconds", str(args.seconds),
                       "--json"]
            if args.cpu_time:
                command.append("--cpu-time")
            r = run_json(command, env)
            if r:
                ours["fp32"].append(r["fp32_ms"])
                ours["int8"].append(r["int8_ms"])
            if have_torch:
                r = run_json([sys.executable, "-c", TORCH_CHILD, cell,
                              "1" if args.cpu_time else "0", str(args.seconds),
                              json.dumps(config)], env)
                if r:
                    theirs["fp32"].append(r["fp32_ms"])
                    theirs["int8"].append(r["int8_ms"])
                    engine, quantised_layer = r["engine"], r["int8_layer"]
        med = {k: statistics.median(v) if v else float("nan") for k, v in ours.items()}
        pt = {k: statistics.median(v) if v else float("nan") for k, v in theirs.items()}
        row = {"cell": cell, "config": "INF", "threads": 1,
               "tapegrad_fp32_ms": med["fp32"], "tapegrad_int8_ms": med["int8"],
               "int8_speedup": med["fp32"] / med["int8"],
               "pytorch_fp32_ms": pt["fp32"], "pytorch_int8_ms": pt["int8"],
               "pytorch_engine": engine, "pytorch_layer_int8": quantised_layer,
               "vs_pytorch_int8": pt["int8"] / med["int8"]}
        if args.json:
            print(json.dumps(row))
        else:
            note = "" if quantised_layer else ", head only"
            print(f"| {cell} | {med['fp32']:.3f} | {med['int8']:.3f} | "
                  f"{row['int8_speedup']:.2f}x | {pt['fp32']:.3f} | {pt['int8']:.3f} "
                  f"({engine}{note}) | {row['vs_pytorch_int8']:.2f}x |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
