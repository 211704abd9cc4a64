#!/usr/bin/python3
"""bmm_torch.py: torch.bmm timings for bench_bmm (which runs it).

    bmm_torch.py THREADS B,M,K,N,T ...

For each case, a [B, M, K] times b [B, K, N] (T = 1: b is the transpose of a
contiguous [B, N, K]) with torch.bmm into a preallocated output; prints the
median seconds of one call, one line per case. The caller sets
BLIS_ARCH_TYPE, OMP_NUM_THREADS and BLIS_NUM_THREADS before this starts.
"""
import statistics
import sys
import time

import torch


def main():
    torch.set_num_threads(int(sys.argv[1]))
    torch.manual_seed(1)
    for spec in sys.argv[2:]:
        batch, m, k, n, transposed = (int(v) for v in spec.split(","))
        a = torch.rand(batch, m, k) * 2 - 1
        b = (torch.rand(batch, n, k) * 2 - 1).transpose(1, 2) if transposed else torch.rand(batch, k, n) * 2 - 1
        out = torch.empty(batch, m, n)
        calls = max(1, int(2e-3 / (batch * m * k * n / 20e9 + 2e-6)))
        with torch.no_grad():
            for _ in range(calls):
                torch.bmm(a, b, out=out)
            samples = []
            for _ in range(7):
                t0 = time.perf_counter()
                for _ in range(calls):
                    torch.bmm(a, b, out=out)
                samples.append((time.perf_counter() - t0) / calls)
        print(statistics.median(samples))


if __name__ == "__main__":
    main()
