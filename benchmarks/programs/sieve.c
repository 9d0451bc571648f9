/* sieve.c - sieve of Eratosthenes over odd numbers in a 16 MiB byte array,
 * then a segmented pass counting twin primes and summing prime gaps.
 * Tight integer loops with strided stores and sequential loads. */
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define HALF (1u << 24)              /* flags for odd numbers 1, 3, ..., 2*HALF-1 */

static uint8_t composite[HALF];
static volatile uint32_t g_reps = 8;

static void clear(void) {
    for (uint32_t i = 0; i < HALF; i++) composite[i] = 0;
}

/* index i represents the odd number 2*i+1 */
static void sieve(uint32_t limit_half) {
    composite[0] = 1;                /* 1 is not prime */
    for (uint32_t i = 1; ; i++) {
        uint64_t p = 2ull * i + 1;
        uint64_t start = (p * p) / 2; /* index of p*p */
        if (start >= limit_half) break;
        if (composite[i]) continue;
        for (uint64_t j = start; j < limit_half; j += p) composite[j] = 1;
    }
}

EXPORT("run") int64_t run(void) {
    uint64_t h = 0;
    uint32_t reps = g_reps;
    for (uint32_t r = 0; r < reps; r++) {
        uint32_t limit_half = HALF - r * 4096u;
        clear();
        sieve(limit_half);
        uint64_t count = 1, sum = 2, gaps = 0, twins = 0, maxgap = 0;
        uint64_t last = 2;
        for (uint32_t i = 1; i < limit_half; i++) {
            if (composite[i]) continue;
            uint64_t p = 2ull * i + 1;
            uint64_t g = p - last;
            count++;
            sum += p;
            gaps += g * g;
            if (g == 2) twins++;
            if (g > maxgap) maxgap = g;
            last = p;
        }
        h = h * 1000003u + count;
        h ^= sum + (gaps << 7) + (twins << 21) + (maxgap << 40);
    }
    return (int64_t)h;
}
