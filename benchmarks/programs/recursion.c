/* recursion.c - deep, call-heavy recursion through direct calls.
 * fib (binary recursion), Ackermann (non-tail recursion ~1000 frames deep),
 * Takeuchi (three-way nested recursion) and an implicit binary tree walk.
 * Depth is kept near 1000 so small-stack engines (e.g. wabt's wasm-interp,
 * which fails at ~2000 frames) can still run it.  Arithmetic is unsigned or
 * range-bounded, so there is no UB and native/wasm checksums agree. */
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define NOINLINE __attribute__((noinline))

/* volatile inputs stop the compiler from folding the whole computation */
static volatile uint32_t g_fib_n = 35;
static volatile uint32_t g_ack_m = 3, g_ack_n = 7;   /* max depth ~1000 frames */
static volatile int32_t g_tak_x = 27, g_tak_y = 18, g_tak_z = 9;
static volatile uint32_t g_reps = 8;

NOINLINE static uint32_t fib(uint32_t n) {
    if (n < 2) return n;
    return fib(n - 1) + fib(n - 2);
}

NOINLINE static uint32_t ack(uint32_t m, uint32_t n) {
    if (m == 0) return n + 1;
    if (n == 0) return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

NOINLINE static int32_t tak(int32_t x, int32_t y, int32_t z) {
    if (y < x)
        return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
    return z;
}

/* Sum of a complete binary "tree" built implicitly: node value depends on depth
 * and path; exercises two recursive calls with more arguments. */
NOINLINE static uint64_t tree(uint32_t depth, uint64_t path) {
    if (depth == 0) return (path * 0x9E3779B97F4A7C15ull) >> 40;
    return tree(depth - 1, path * 2) ^ (tree(depth - 1, path * 2 + 1) + depth);
}

EXPORT("run") int64_t run(void) {
    uint64_t h = 1469598103934665603ull;
    uint32_t reps = g_reps;
    for (uint32_t r = 0; r < reps; r++) {
        uint32_t f = fib(g_fib_n + (r & 1));
        uint32_t a = 0;
        for (uint32_t k = 0; k < 16; k++) a = a * 3 + ack(g_ack_m, g_ack_n) + k;
        int32_t t = tak(g_tak_x, g_tak_y, g_tak_z + (int32_t)r);
        uint64_t tr = tree(20, r);
        h = (h ^ f) * 1099511628211ull;
        h = (h ^ a) * 1099511628211ull;
        h = (h ^ (uint32_t)t) * 1099511628211ull;
        h = (h ^ tr) * 1099511628211ull;
    }
    return (int64_t)h;
}
