/* randmem.c - cache/TLB-hostile random memory traffic over a 32 MiB static
 * array: build a random single-cycle permutation (Sattolo), chase it
 * (dependent loads), then LCG-driven scattered read-modify-writes. */
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define LOG2N 23
#define N (1u << LOG2N)                  /* 8 Mi entries * 4 bytes = 32 MiB */
#define MASK (N - 1)

static uint32_t arr[N];
static volatile uint32_t g_seed = 0x9E3779B9u;
static volatile uint32_t g_chase = 2000000;
static volatile uint32_t g_updates = 6000000;

static uint64_t rng;
static uint32_t next32(void) {           /* 64-bit LCG, high half */
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}

/* Sattolo's algorithm: a uniformly random permutation with a single cycle */
static void build_cycle(void) {
    for (uint32_t i = 0; i < N; i++) arr[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(((uint64_t)next32() * i) >> 32);   /* j < i */
        uint32_t t = arr[i]; arr[i] = arr[j]; arr[j] = t;
    }
}

static uint64_t chase(uint32_t steps) {
    uint32_t p = 0;
    uint64_t h = 0;
    for (uint32_t s = 0; s < steps; s++) {
        p = arr[p];
        h += p ^ s;
    }
    return h ^ ((uint64_t)p << 32);
}

static uint64_t scatter(uint32_t updates) {
    uint64_t h = 0;
    uint32_t x = g_seed;
    for (uint32_t s = 0; s < updates; s++) {
        x = x * 1103515245u + 12345u;
        uint32_t i = (x >> 7) & MASK;                 /* random slot */
        uint32_t j = (i ^ (x >> 3)) & MASK;           /* second slot */
        uint32_t v = arr[i] + (x >> 16);
        arr[i] = v;
        arr[j] ^= v << 3;
        h = h * 31 + arr[(v + s) & MASK];             /* data-dependent read */
    }
    return h;
}

EXPORT("run") int64_t run(void) {
    rng = g_seed;
    build_cycle();
    uint64_t h = chase(g_chase);
    h ^= scatter(g_updates) * 0x100000001B3ull;
    uint64_t f = 0;
    for (uint32_t i = 0; i < N; i += 64) f = f * 1099511628211ull + arr[i];
    return (int64_t)(h ^ f);
}
