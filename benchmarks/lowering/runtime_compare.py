#!/usr/bin/env python3
"""Run time of the generated code, two kiln-bench builds compared: before/after a lowering change.

Runs every program of benchmarks/wasm on both binaries in interleaved rounds (A, B, A, B...),
one process per measurement, checks that the checksums agree, and prints the median CPU time of
the run (run_cpu_ns: the measured thread, so a busy shared machine inflates it less than wall
time) and the B/A ratio per program with their geometric mean.

Usage: benchmarks/lowering/runtime_compare.py A_KILN_BENCH B_KILN_BENCH [--rounds N] [--programs a,b]
"""
import argparse
import json
import math
import os
import statistics
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def measure(binary, path):
    out = subprocess.run([binary, "run", "--engine", "kiln", path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--programs")
    args = parser.parse_args()
    directory = os.path.join(ROOT, "benchmarks/wasm")
    names = sorted(n[:-5] for n in os.listdir(directory) if n.endswith(".wasm"))
    if args.programs:
        names = [n for n in names if n in args.programs.split(",")]
    times = {(n, side): [] for n in names for side in "ab"}
    for _ in range(args.rounds):
        for name in names:
            path = os.path.join(directory, name + ".wasm")
            a, b = measure(args.a, path), measure(args.b, path)
            if a["checksum"] != b["checksum"]:
                raise SystemExit(f"{name}: checksums differ: {a['checksum']} vs {b['checksum']}")
            times[(name, "a")].append(a["run_cpu_ns"])
            times[(name, "b")].append(b["run_cpu_ns"])
    ratios = []
    print(f"{'program':12} {'A ms':>9} {'B ms':>9} {'B/A':>6}")
    for name in names:
        a, b = statistics.median(times[(name, "a")]), statistics.median(times[(name, "b")])
        ratios.append(b / a)
        print(f"{name:12} {a / 1e6:9.1f} {b / 1e6:9.1f} {b / a:6.3f}")
    print(f"{'geomean':12} {'':9} {'':9} {math.exp(sum(map(math.log, ratios)) / len(ratios)):6.3f}")


if __name__ == "__main__":
    main()
