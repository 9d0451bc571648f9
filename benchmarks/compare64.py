#!/usr/bin/env python3
"""memory64 cost under Kiln: each benchmark program's wasm32 build (benchmarks/wasm/) against its
wasm64 build (benchmarks/wasm64/, same source and flags, `-target wasm64-freestanding`).

A 64-bit memory's loads and stores carry one extra test of the address's high half (see MEM64 in
runtime-c/include/kiln_prelude.h); this measures what that costs on whole programs. Rounds are
interleaved (wasm32 then wasm64 for every program, one process per measurement) and every checksum
must equal the wasm32 build's. Reports the median run time (wall and CPU of the running thread) per
program and build, the median of the per-round ratios and their geometric mean; writes
benchmarks/results/memory64.md.

    python3 benchmarks/compare64.py                     # builds kiln-bench (release), 5 rounds
    python3 benchmarks/compare64.py --rounds 3 sieve sort
    python3 benchmarks/compare64.py --kiln-bench .build/debug/kiln-bench   # any build: run time is the generated code's

Rebuild the wasm64 modules with `benchmarks/build.sh --wasm64-only` (zig's clang).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROGRAMS = ["recursion", "interp", "sort", "sieve", "checksum", "matmul", "nbody", "randmem", "strhash", "simd"]


def measure(kiln_bench, path):
    out = subprocess.run([kiln_bench, "run", "--engine", "kiln", path], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("programs", nargs="*", default=PROGRAMS)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--kiln-bench", help="a built kiln-bench (default: swift build -c release --product kiln-bench)")
    ap.add_argument("--output", default=os.path.join(HERE, "results", "memory64.md"))
    args = ap.parse_args()

    kiln_bench = args.kiln_bench
    if not kiln_bench:
        subprocess.run(["swift", "build", "-c", "release", "--product", "kiln-bench"], cwd=ROOT, check=True)
        kiln_bench = os.path.join(ROOT, ".build", "release", "kiln-bench")

    runs = {p: {"32": [], "64": []} for p in args.programs}
    for round_index in range(args.rounds):
        for program in args.programs:
            r32 = measure(kiln_bench, os.path.join(HERE, "wasm", program + ".wasm"))
            r64 = measure(kiln_bench, os.path.join(HERE, "wasm64", program + ".wasm"))
            if r32["checksum"] != r64["checksum"]:
                sys.exit(f"error: {program}: wasm64 checksum {r64['checksum']} != wasm32 {r32['checksum']}")
            runs[program]["32"].append(r32)
            runs[program]["64"].append(r64)
            print(f"round {round_index + 1} {program}: wasm32 {r32['run_cpu_ns'] / 1e6:.0f} ms CPU, "
                  f"wasm64 {r64['run_cpu_ns'] / 1e6:.0f} ms CPU", flush=True)

    lines = [
        "# memory64 under Kiln: wasm64 build against wasm32 build",
        "",
        f"{args.rounds} interleaved rounds; run time in ms (median); ratio = median of per-round wasm64/wasm32.",
        "CPU is the running thread's CPU time (a shared machine inflates wall time).",
        "",
        "| program | wasm32 wall | wasm64 wall | wall ratio | wasm32 CPU | wasm64 CPU | CPU ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    wall_ratios, cpu_ratios = [], []
    for program in args.programs:
        a, b = runs[program]["32"], runs[program]["64"]
        wall = statistics.median(y["run_ns"] / x["run_ns"] for x, y in zip(a, b))
        cpu = statistics.median(y["run_cpu_ns"] / x["run_cpu_ns"] for x, y in zip(a, b))
        wall_ratios.append(wall)
        cpu_ratios.append(cpu)
        med = lambda rs, key: statistics.median(r[key] for r in rs) / 1e6
        lines.append(f"| {program} | {med(a, 'run_ns'):.0f} | {med(b, 'run_ns'):.0f} | {wall:.3f}x "
                     f"| {med(a, 'run_cpu_ns'):.0f} | {med(b, 'run_cpu_ns'):.0f} | {cpu:.3f}x |")
    geo = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs))
    lines.append(f"| **geomean** | | | **{geo(wall_ratios):.3f}x** | | | **{geo(cpu_ratios):.3f}x** |")
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
