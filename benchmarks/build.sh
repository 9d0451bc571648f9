#!/usr/bin/env bash
# Builds the Kiln benchmark programs.
#   wasm:   programs/NAME.c -> wasm/NAME.wasm         (committed)
#   wasm64: programs/NAME.c -> wasm64/NAME.wasm       (committed; memory64, for compare64.py)
#   native: programs/NAME.c + native/native_main.c -> .native-build/NAME (git-ignored)
# Toolchain: zig's bundled clang (`pip install ziglang`), wasm32-freestanding (and
# wasm64-freestanding), no libc, no imports.
# Usage: benchmarks/build.sh [--wasm-only|--native-only|--wasm64-only] [NAME...]
set -euo pipefail
cd "$(dirname "$0")"

PROGRAMS_ALL="recursion interp sort sieve checksum matmul nbody randmem strhash simd"
WASM=1; WASM64=1; NATIVE=1; NAMES=()
for a in "$@"; do
  case "$a" in
    --wasm-only) NATIVE=0; WASM64=0 ;;
    --wasm64-only) NATIVE=0; WASM=0 ;;
    --native-only) WASM=0; WASM64=0 ;;
    *) NAMES+=("$a") ;;
  esac
done
[ ${#NAMES[@]} -eq 0 ] && read -r -a NAMES <<<"$PROGRAMS_ALL"

ZIGCC="${ZIGCC:-python3 -m ziglang cc}"
# lime1 = MVP + sign-ext, mutable-globals, nontrapping-fptoint, multivalue,
# bulk-memory-opt (memory.copy/fill only), extended-const, call-indirect-overlong.
# Pinned explicitly so a zig upgrade cannot silently change the feature set.
WASM_CPU="${WASM_CPU:-lime1}"
WASM_FLAGS=(-mcpu="$WASM_CPU" -O2 -nostdlib -g0
  -Wall -Wextra -Werror
  -Wl,--no-entry -Wl,--export=run -Wl,--strip-debug
  -Wl,-z,stack-size=1048576)   # 1 MiB shadow stack (only address-taken locals live there); linear memory is sized by the linker
NATIVE_CC="${CC:-cc}"
NATIVE_FLAGS=(-O2 -Wall -Wextra -Werror)

# target dir
build_wasm() {
  local target="$1" dir="$2"
  mkdir -p "$dir"
  for n in "${NAMES[@]}"; do
    extra=()
    [ "$n" = simd ] && extra=(-msimd128)
    echo "$dir $n"
    $ZIGCC -target "$target" "${WASM_FLAGS[@]}" "${extra[@]}" -o "$dir/$n.wasm" "programs/$n.c"
    # the module must be self-contained: no imports at all
    if command -v wasm-objdump >/dev/null; then
      if wasm-objdump -j Import -x "$dir/$n.wasm" 2>/dev/null | grep -q ' - '; then
        echo "error: $dir/$n.wasm has imports" >&2
        wasm-objdump -j Import -x "$dir/$n.wasm" >&2
        exit 1
      fi
    fi
  done
  rm -f "$dir"/*.o
}

[ "$WASM" = 1 ] && build_wasm wasm32-freestanding wasm
# The same programs with 64-bit addresses (memory64, table64): the same source, the same flags.
[ "$WASM64" = 1 ] && build_wasm wasm64-freestanding wasm64

if [ "$NATIVE" = 1 ]; then
  mkdir -p .native-build
  for n in "${NAMES[@]}"; do
    echo "native $n"
    $NATIVE_CC "${NATIVE_FLAGS[@]}" -DBENCH_NAME="\"$n\"" -o ".native-build/$n" \
      "programs/$n.c" native/native_main.c -lm
  done
fi
