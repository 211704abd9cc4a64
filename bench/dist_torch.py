"""PyTorch DDP on bench_rnn's training step, for bench/bench_dist.sh.

    python3 bench/dist_torch.py --cell rnn --config L --ranks 2 --steps 10

Each process: one thread, torch.nn.RNN/LSTM/GRU (time first) of the
config's size, a Linear head over 65 classes at every step, cross-entropy,
backward, Adam; wrapped in DistributedDataParallel over the gloo backend on
localhost (25 MB buckets, PyTorch's default). Each rank trains on its own
batch of the config's size (weak scaling, as bench_dist). Rank 0 prints one
line of JSON: median step time and tokens/s over all ranks.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

CONFIGS = {"L": (100, 16, 512, 512), "XL": (64, 64, 1024, 1024)}
VOCAB = 65


class Net(torch.nn.Module):
    """bench_rnn's model: the recurrent layer, the head, the loss (inside
    forward, since DDP synchronises what its forward produced)."""

    def __init__(self, cell, inputs, hidden):
        super().__init__()
        self.layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](inputs, hidden)
        self.head = torch.nn.Linear(hidden, VOCAB)

    def forward(self, x, targets):
        out, _ = self.layer(x)
        return torch.nn.functional.cross_entropy(self.head(out).reshape(-1, VOCAB), targets.reshape(-1))


def worker(rank, args):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(args.port)
    dist.init_process_group("gloo", rank=rank, world_size=args.ranks)
    steps, batch, inputs, hidden = CONFIGS[args.config]
    torch.manual_seed(1)
    ddp = torch.nn.parallel.DistributedDataParallel(Net(args.cell, inputs, hidden))
    adam = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    x = torch.randn(steps, batch, inputs)
    targets = torch.randint(0, VOCAB, (steps, batch))
    times = []
    for i in range(2 + args.steps):
        dist.barrier()
        t = time.perf_counter()
        adam.zero_grad(set_to_none=True)
        ddp(x, targets).backward()
        adam.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    ms = statistics.median(times) * 1e3
    if rank == 0:
        tokens = args.ranks * steps * batch
        print(json.dumps({"cell": args.cell, "config": args.config, "ranks": args.ranks,
                          "step_ms": round(ms, 1), "tokens_per_s": round(tokens / (ms / 1e3))}))
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cell", default="rnn")
    parser.add_argument("--config", default="L")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--port", type=int, default=29517)
    args = parser.parse_args()
    mp.spawn(worker, args=(args,), nprocs=args.ranks, join=True)


if __name__ == "__main__":
    main()
