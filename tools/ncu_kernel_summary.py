#!/usr/bin/env python3
"""Sums an Nsight Compute CSV (one row per kernel launch) by kernel name: total ms, share, launch count.

GPU host: ncu --csv --metrics gpu__time_duration.sum build-cuda/tools/bench_mfu --config configs/gpu_small.yaml \
              --seq_lens 4096 --seqs 2 --iters 1 --gemm 1024 > /tmp/ncu.csv
          python3 tools/ncu_kernel_summary.py /tmp/ncu.csv
"""
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
hdr = None
tot = collections.defaultdict(float); cnt = collections.Counter()
for r in rows:
    if hdr is None:
        if "Kernel Name" in r and "Metric Value" in r:
            hdr = r; ik = r.index("Kernel Name"); iv = r.index("Metric Value"); iu = r.index("Metric Unit")
        continue
    if len(r) <= iv: continue
    try: v = float(r[iv].replace(",", ""))
    except ValueError: continue
    u = r[iu]
    scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}[u]
    name = r[ik][:110]
    tot[name] += v * scale; cnt[name] += 1
T = sum(tot.values())
print(f"total kernel time {T/1e3:.2f} ms over {sum(cnt.values())} kernels")
for k, v in sorted(tot.items(), key=lambda x: -x[1])[:45]:
    print(f"{v/1e3:9.3f} ms {100*v/T:5.1f}% n={cnt[k]:5d}  {k}")
