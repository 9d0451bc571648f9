#!/usr/bin/env python3
"""The same loops as run.sh under wasmtime (PyPI `wasmtime`): ns per iteration."""
import os
import time

import wasmtime

config = wasmtime.Config()
config.wasm_exceptions = True
engine = wasmtime.Engine(config)
module = wasmtime.Module.from_file(engine, os.path.join(os.path.dirname(os.path.abspath(__file__)), "eh-cost.wat"))
store = wasmtime.Store(engine)
instance = wasmtime.Instance(store, module, [])
for name, count in (("plain", 10_000_000), ("guarded", 10_000_000), ("throwing", 1_000_000)):
    function = instance.exports(store)[name]
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        function(store, count)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    print(f"{name}: {best / count * 1e9:.1f} ns per iteration")
