#!/usr/bin/env python3
"""Seconds from start to a command's first output line (stdout or stderr), its total wall time
and peak RSS: python3 first_output.py -- CMD ARGS... (prints one JSON object)."""
import json, os, resource, subprocess, sys, time

def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    first_line, first = None, None
    for line in process.stdout:
        if first is None:
            first = time.perf_counter() - start
            first_line = line.decode(errors="replace").rstrip()
    process.wait()
    total = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"first_output_s": first, "total_s": total, "peak_rss_mb": peak_kb / 1024,
                      "status": process.returncode, "first_line": first_line}))

if __name__ == "__main__":
    main()
