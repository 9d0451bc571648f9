/* checksum.c - classic byte/word checksums over a 4 MiB buffer: CRC-32
 * (table driven, table built at run time), Adler-32, FNV-1a and a 64-bit
 * multiply-xorshift word hash.  Sequential loads, table lookups, mul/shift. */
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define SIZE (4u << 20)

static uint8_t buf[SIZE];
static uint32_t crc_table[256];
static volatile uint32_t g_rounds = 24;
static volatile uint64_t g_seed = 0x0123456789ABCDEFull;

static void make_crc_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32(const uint8_t *p, uint32_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t adler32(const uint8_t *p, uint32_t n) {
    uint32_t a = 1, b = 0;
    while (n) {
        uint32_t chunk = n < 5552 ? n : 5552;   /* keeps b below 2^32 */
        n -= chunk;
        while (chunk--) { a += *p++; b += a; }
        a %= 65521u; b %= 65521u;
    }
    return (b << 16) | a;
}

static uint32_t fnv1a(const uint8_t *p, uint32_t n) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static uint64_t wordhash(const uint8_t *p, uint32_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--) w = (w << 8) | p[i + k];   /* little-endian */
        h ^= w;
        h *= 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    return h;
}

static void fill(uint64_t seed) {
    uint64_t x = seed;
    for (uint32_t i = 0; i < SIZE; i += 8) {                 /* xorshift64 */
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        for (int k = 0; k < 8; k++) buf[i + k] = (uint8_t)(x >> (8 * k));
    }
}

EXPORT("run") int64_t run(void) {
    make_crc_table();
    fill(g_seed);
    uint64_t h = 0;
    uint32_t rounds = g_rounds;
    for (uint32_t r = 0; r < rounds; r++) {
        uint32_t c = crc32(buf, SIZE);
        uint32_t a = adler32(buf, SIZE);
        uint32_t f = fnv1a(buf, SIZE);
        uint64_t w = wordhash(buf, SIZE);
        h = (h * 0x100000001B3ull) ^ c ^ ((uint64_t)a << 32) ^ f ^ w;
        /* perturb the buffer so every round hashes different data */
        buf[(c ^ f) & (SIZE - 1)] ^= (uint8_t)(a | 1);
    }
    return (int64_t)h;
}
