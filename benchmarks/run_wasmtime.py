#!/usr/bin/env python3
"""Reference-engine runner: times the benchmark modules under wasmtime.

For every benchmarks/wasm/NAME.wasm and every repetition it creates a fresh
Engine, compiles the module, instantiates it (no imports) in a fresh Store and
calls the exported `run() -> i64`.  One JSON object per line on stdout:

  {"kind":"iteration","engine":"wasmtime","program":NAME,"iteration":I,
   "compile_ns":N,"instantiate_ns":N,"run_ns":N,"checksum":N}
  {"kind":"summary", ... medians ..., "checksum":N, "native_checksum":N?, "match":bool?}

`--check-native` also runs benchmarks/.native-build/NAME (built by build.sh)
and exits 1 if any checksum differs.  Requires `pip install wasmtime`.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import wasmtime

HERE = os.path.dirname(os.path.abspath(__file__))


def make_engine(args):
    cfg = wasmtime.Config()
    cfg.wasm_simd = True
    cfg.cranelift_opt_level = args.opt_level
    cfg.parallel_compilation = not args.serial_compile
    return wasmtime.Engine(cfg)


def run_once(path, args):
    with open(path, "rb") as f:
        wasm = f.read()
    engine = make_engine(args)
    t0 = time.perf_counter_ns()
    module = wasmtime.Module(engine, wasm)
    t1 = time.perf_counter_ns()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, module, [])
    t2 = time.perf_counter_ns()
    run = instance.exports(store)["run"]
    t3 = time.perf_counter_ns()
    checksum = run(store)
    t4 = time.perf_counter_ns()
    return {"compile_ns": t1 - t0, "instantiate_ns": t2 - t1,
            "run_ns": t4 - t3, "checksum": int(checksum)}


def native_checksum(name):
    exe = os.path.join(HERE, ".native-build", name)
    if not os.path.exists(exe):
        return None, None
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    rec = json.loads(out.strip().splitlines()[-1])
    return rec["checksum"], rec["run_ns"]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("programs", nargs="*", help="program names (default: all in --wasm-dir)")
    ap.add_argument("--wasm-dir", default=os.path.join(HERE, "wasm"))
    ap.add_argument("--repeat", type=int, default=3, help="fresh compile+instantiate+run per repetition")
    ap.add_argument("--opt-level", default="speed", choices=["none", "speed", "speed_and_size"])
    ap.add_argument("--serial-compile", action="store_true", help="disable parallel compilation")
    ap.add_argument("--check-native", action="store_true",
                    help="compare checksums with .native-build/NAME; exit 1 on mismatch")
    args = ap.parse_args()

    names = args.programs or sorted(f[:-5] for f in os.listdir(args.wasm_dir) if f.endswith(".wasm"))
    ok = True
    for name in names:
        path = os.path.join(args.wasm_dir, name + ".wasm")
        results = []
        for i in range(max(1, args.repeat)):
            r = run_once(path, args)
            results.append(r)
            print(json.dumps({"kind": "iteration", "engine": "wasmtime", "program": name,
                              "iteration": i, **r}), flush=True)
        sums = {r["checksum"] for r in results}
        summary = {"kind": "summary", "engine": "wasmtime", "program": name,
                   "repeat": len(results),
                   "compile_ns": int(statistics.median(r["compile_ns"] for r in results)),
                   "instantiate_ns": int(statistics.median(r["instantiate_ns"] for r in results)),
                   "run_ns": int(statistics.median(r["run_ns"] for r in results)),
                   "min_run_ns": min(r["run_ns"] for r in results),
                   "checksum": results[0]["checksum"], "deterministic": len(sums) == 1}
        ok &= len(sums) == 1
        if args.check_native:
            nsum, nns = native_checksum(name)
            summary["native_checksum"] = nsum
            summary["native_run_ns"] = nns
            summary["match"] = nsum == results[0]["checksum"]
            ok &= summary["match"]
        print(json.dumps(summary), flush=True)
    if not ok:
        print("checksum mismatch or nondeterminism", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
