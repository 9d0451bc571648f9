#!/usr/bin/env python3
"""Tiered runs from a cold cache next to baseline (libtcc only) and optimized (warm cache) runs
of the benchmark programs, wall and CPU seconds of the whole `kiln run` process, best of N.
Writes benchmarks/results/tiered.md.   benchmarks/tiered/run.py [--kiln PATH] [--rounds N]"""
import argparse, os, resource, shutil, statistics, subprocess, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROGRAMS = ["checksum", "interp", "matmul", "nbody", "randmem", "recursion", "sieve", "simd", "sort", "strhash"]


def run(kiln, tier, program, cache):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([kiln, "run", "--tier", tier, os.path.join(ROOT, "benchmarks", "wasm", program + ".wasm"), "--invoke", "run"],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, KILN_CACHE_DIR=cache))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", default=os.path.join(ROOT, ".build", "release", "kiln"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="kiln-tiered-")
    rows = []
    for program in PROGRAMS:
        best = {}
        for _ in range(args.rounds):
            for tier in ("baseline", "tiered-cold", "optimized-warm"):
                if tier == "tiered-cold":
                    shutil.rmtree(cache, ignore_errors=True)
                wall, cpu = run(args.kiln, tier.split("-")[0], program, cache)
                old = best.get(tier, (float("inf"), float("inf")))
                best[tier] = (min(old[0], wall), min(old[1], cpu))
        rows.append((program, best))
        print(program, {k: f"{v[0]:.2f}s/{v[1]:.2f}s" for k, v in best.items()}, flush=True)
    shutil.rmtree(cache, ignore_errors=True)
    ratio = lambda tier: statistics.geometric_mean(b[tier][0] / b["baseline"][0] for _, b in rows)
    lines = ["# Tiered runs", "",
             f"`benchmarks/tiered/run.py`: wall / CPU seconds of the whole `kiln run --invoke run` process, best of {args.rounds};",
             "tiered from an empty cache (the clang compile runs beside the program), optimized from a warm cache.",
             f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end.", "",
             "| program | baseline | tiered, cold | optimized, warm | tiered / baseline |", "|---|---:|---:|---:|---:|"]
    for program, b in rows:
        f = lambda t: f"{b[t][0]:.2f} / {b[t][1]:.2f}"
        lines.append(f"| {program} | {f('baseline')} | {f('tiered-cold')} | {f('optimized-warm')} | {b['tiered-cold'][0] / b['baseline'][0]:.2f}× |")
    lines.append(f"| **geomean (wall)** | 1× | {ratio('tiered-cold'):.2f}× | {ratio('optimized-warm'):.2f}× | |")
    with open(os.path.join(ROOT, "benchmarks", "results", "tiered.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
