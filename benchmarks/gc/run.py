#!/usr/bin/env python3
"""GC benchmark: binary trees (benchmarks/gc/binary_trees.wat) under Kiln (baseline libtcc tier
and the optimized tier) and under wasmtime with its default collector, side by side.

Each measurement is a fresh process: Kiln through `kiln-bench run` (release build), wasmtime
through this script's `--wasmtime-child` mode (PyPI `wasmtime`, Wasm GC on). Reports the run time,
the allocation rate (nodes allocated per second: run() returns the node count), peak RSS, and
for Kiln the collector's own figures (collections, total and longest pause). Writes
benchmarks/results/gc.md with --write.

  benchmarks/gc/run.py [--reps 3] [--write]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WAT = os.path.join(HERE, "binary_trees.wat")
WASM = os.path.join(ROOT, "benchmarks", ".gc-build", "binary_trees.wasm")


def wasmtime_child(path):
    import wasmtime
    config = wasmtime.Config()
    config.wasm_gc = True
    config.wasm_function_references = True
    engine = wasmtime.Engine(config)
    with open(path, "rb") as f:
        module = wasmtime.Module(engine, f.read())
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, module, [])
    run = instance.exports(store)["run"]
    c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
    checksum = run(store)
    t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
    print(json.dumps({"engine": "wasmtime", "run_ns": t1 - t0, "run_cpu_ns": c1 - c0, "checksum": checksum,
                      "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def measure(command):
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--wasmtime-child")
    args = parser.parse_args()
    if args.wasmtime_child:
        return wasmtime_child(args.wasmtime_child)
    os.makedirs(os.path.dirname(WASM), exist_ok=True)
    subprocess.run(["wasm-tools", "parse", WAT, "-o", WASM], check=True)
    bench = os.environ.get("KILN_BENCH") or os.path.join(ROOT, ".build", "release", "kiln-bench")
    engines = {
        "kiln (libtcc)": [bench, "run", "--engine", "kiln", WASM],
        "kiln (optimized)": [bench, "run", "--engine", "kiln-opt", WASM],
        "wasmtime": [sys.executable, __file__, "--wasmtime-child", WASM],
    }
    rows = []
    for name, command in engines.items():
        runs = [measure(command) for _ in range(args.reps)]
        checksums = {r["checksum"] for r in runs}
        if len(checksums) != 1:
            sys.exit(f"{name}: checksums differ: {checksums}")
        median = sorted(runs, key=lambda r: r["run_cpu_ns"])[len(runs) // 2]
        rows.append((name, median, runs))
        print(name, json.dumps(median), file=sys.stderr)
    if len({row[1]["checksum"] for row in rows}) != 1:
        sys.exit("engines disagree on the checksum")
    lines = ["| engine | run wall (ms) | run CPU (ms) | nodes/s (M, CPU) | peak RSS (MiB) | collections | total pause (ms) | max pause (ms) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r, _ in rows:
        nodes = r["checksum"]
        seconds = r["run_cpu_ns"] / 1e9
        gc = r.get("gc_collections")
        pause = lambda key: f"{r[key] / 1e6:.2f}" if key in r else "n/a"
        lines.append(f"| {name} | {r['run_ns'] / 1e6:.0f} | {r['run_cpu_ns'] / 1e6:.0f} | {nodes / seconds / 1e6:.1f} | {r['peak_rss_kib'] / 1024:.0f} | "
                     f"{gc if gc is not None else 'n/a'} | {pause('gc_total_pause_ns')} | {pause('gc_max_pause_ns')} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        nodes = rows[0][1]["checksum"]
        kiln_bytes = rows[0][1].get("gc_allocated_bytes")
        text = f"""# GC benchmark: binary trees

`benchmarks/gc/run.py --write` (median of {args.reps} fresh processes per engine). The program
(`benchmarks/gc/binary_trees.wat`, depth 16) allocates {nodes:,} tree nodes (two-reference
structs, {kiln_bytes // nodes if kiln_bytes else '?'} bytes each in Kiln's heap) and checks every tree; run() returns
the node count, the same for every engine. wasmtime (PyPI `wasmtime` 50.0.1) runs with Wasm GC
on and its default collector; it exposes no pause statistics. Peak RSS is the whole process's
(kiln-bench includes the Swift runtime and libtcc; the wasmtime column includes CPython).
Allocation rate is nodes per second of the run's CPU time (the machine is shared: wall time
includes waiting for a core). Kiln's pauses are the collector's own clock (mark + sweep).
kiln-bench is a release build (`swift build -c release --product kiln-bench`, or $KILN_BENCH).

{table}

Machine: shared 2-core VM, other builds running; times are noisy.
"""
        with open(os.path.join(ROOT, "benchmarks", "results", "gc.md"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
