#!/usr/bin/env python3
"""Runs a WASI command module under wasmtime (PyPI `wasmtime`), the reference engine, with the
same options as `kiln run`: `--dir HOST[::GUEST]`, `--env NAME=VALUE`, then `-- ARGS`.
Prints the module's stdout/stderr as it goes and exits with its exit code.

  scripts/wasmtime-wasi.py yosys.wasm --dir share::/share --dir .::. -- -p 'synth' top.v
"""
import argparse
import sys
import time

import wasmtime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("--dir", action="append", default=[])
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--time", action="store_true", help="print compile and run times to stderr")
    parser.add_argument("--cache", help="directory for compiled modules (wasmtime compiles big modules slowly)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    options = parser.parse_args(argv[:split])
    arguments = argv[split + 1:]

    config = wasmtime.Config()
    for feature in ("wasm_exceptions", "wasm_tail_call", "wasm_memory64", "wasm_multi_memory",
                    "wasm_function_references", "wasm_relaxed_simd"):
        if hasattr(config, feature):
            setattr(config, feature, True)
    engine = wasmtime.Engine(config)
    start = time.perf_counter()
    module = None
    if options.cache:
        import hashlib, os
        with open(options.module, "rb") as f:
            key = hashlib.sha256(f.read()).hexdigest()[:32]
        cached = os.path.join(options.cache, key + ".cwasm")
        if os.path.exists(cached):
            module = wasmtime.Module.deserialize_file(engine, cached)
    if module is None:
        module = wasmtime.Module.from_file(engine, options.module)
        if options.cache:
            os.makedirs(options.cache, exist_ok=True)
            with open(cached + ".tmp", "wb") as f:
                f.write(module.serialize())
            os.replace(cached + ".tmp", cached)
    compiled = time.perf_counter()

    wasi = wasmtime.WasiConfig()
    wasi.argv = [options.module] + arguments
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    wasi.inherit_stdin()
    if options.env:
        wasi.env = [tuple(entry.split("=", 1)) for entry in options.env]
    for entry in options.dir:
        host, _, guest = entry.partition("::")
        wasi.preopen_dir(host, guest or host)
    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, module)
    code = 0
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as exit_trap:
        code = exit_trap.code
    finally:
        if options.time:
            print(f"wasmtime: compile {compiled - start:.3f} s, run {time.perf_counter() - compiled:.3f} s", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
