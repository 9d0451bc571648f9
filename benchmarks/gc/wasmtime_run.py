#!/usr/bin/env python3
"""Runs one export of a Wasm GC module in wasmtime (PyPI `wasmtime`, its default collector) and
prints {"result": ..., "compile_s": ..., "run_s": ...} as JSON.

  wasmtime_run.py MODULE.wasm EXPORT [I32 ARGS...]
"""
import json, sys, time
import wasmtime

config = wasmtime.Config()
config.wasm_gc = True
config.wasm_function_references = True
config.wasm_reference_types = True
engine = wasmtime.Engine(config)
store = wasmtime.Store(engine)
started = time.perf_counter()
module = wasmtime.Module.from_file(engine, sys.argv[1])
instance = wasmtime.Instance(store, module, [])
compiled = time.perf_counter()
result = instance.exports(store)[sys.argv[2]](store, *[int(a) for a in sys.argv[3:]])
finished = time.perf_counter()
print(json.dumps({"result": result, "compile_s": compiled - started, "run_s": finished - compiled}))
