#!/bin/sh
# Rebuilds the committed .wasm files from the C sources beside this script. Needs Zig's clang
# and wasi-libc, from PyPI: pip install ziglang (built with ziglang 0.17.1).
# The tests use the committed .wasm and need no compiler; they compile the same sources with the
# host's cc at test time to compare output and exit status with a native run.
set -eu
cd "$(dirname "$0")"

# Zig's libc carries DWARF (about 1 MB a program); drop the .debug_* custom sections but keep the
# "name" section, which backtraces use. (-s and -Wl,--strip-debug drop both.)
strip_debug() {
    python3 - "$1" <<'PY'
import sys
path = sys.argv[1]
data = open(path, 'rb').read()
def leb(i):
    value = shift = 0
    while True:
        byte = data[i]; i += 1
        value |= (byte & 0x7f) << shift; shift += 7
        if byte < 0x80: return value, i
out, i = bytearray(data[:8]), 8
while i < len(data):
    start = i
    section = data[i]
    size, body = leb(i + 1)
    i = body + size
    if section == 0:
        length, name = leb(body)
        if data[name:name + length].startswith(b'.debug'): continue
    out += data[start:i]
open(path, 'wb').write(out)
PY
}

build() {
    python3 -m ziglang cc -target wasm32-wasi -O2 "$@"
}

for program in hello cat args_env files escape clock_random trap_oob recurse oob_syscall; do
    build "$program.c" -o "$program.wasm"
    strip_debug "$program.wasm"
done
build -mexec-model=reactor reactor.c -o reactor.wasm
strip_debug reactor.wasm
ls -l ./*.wasm
