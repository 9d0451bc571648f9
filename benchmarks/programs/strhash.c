/* strhash.c - string formatting + hashing + an open-addressing hash table
 * with string keys stored in a bump arena.  Stresses byte loads/stores,
 * short data-dependent loops, integer-to-text conversion and unpredictable
 * table probes. */
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define LOG2CAP 20
#define CAP (1u << LOG2CAP)
#define ARENA (16u << 20)

typedef struct { uint32_t off, len, hash, value; } Slot;  /* off == 0: empty */

static Slot table[CAP];
static char arena[ARENA];
static uint32_t arena_top;
static uint32_t used;
static volatile uint32_t g_inserts = 700000, g_lookups = 1400000;
static volatile uint32_t g_seed = 77;

static uint32_t put_dec(char *p, uint32_t v) {          /* returns length */
    char tmp[10];
    uint32_t n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (uint32_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}

static uint32_t put_b36(char *p, uint32_t v) {
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char tmp[8];
    uint32_t n = 0;
    do { tmp[n++] = digits[v % 36]; v /= 36; } while (v);
    for (uint32_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}

/* key text for id: "user:<dec>/<b36>" plus a variable-length tail */
static uint32_t make_key(char *p, uint32_t id) {
    static const char prefix[] = "user:";
    uint32_t n = 0;
    for (uint32_t i = 0; prefix[i]; i++) p[n++] = prefix[i];
    n += put_dec(p + n, id);
    p[n++] = '/';
    n += put_b36(p + n, id * 2654435761u);
    uint32_t tail = id % 11;
    for (uint32_t i = 0; i < tail; i++) p[n++] = (char)('a' + (id + i) % 26);
    return n;
}

static uint32_t hash_bytes(const char *p, uint32_t n) {
    uint64_t h = 0x84222325CBF29CE4ull;
    for (uint32_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 0x100000001B3ull;
    return (uint32_t)(h ^ (h >> 32));
}

static int same(const char *a, const char *b, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) if (a[i] != b[i]) return 0;
    return 1;
}

/* find slot for key; returns index of matching or empty slot */
static uint32_t probe(const char *key, uint32_t len, uint32_t h) {
    uint32_t i = h & (CAP - 1);
    for (;;) {
        Slot *s = &table[i];
        if (s->off == 0) return i;
        if (s->hash == h && s->len == len && same(arena + s->off - 1, key, len)) return i;
        i = (i + 1) & (CAP - 1);
    }
}

static void insert(const char *key, uint32_t len) {
    uint32_t h = hash_bytes(key, len);
    Slot *s = &table[probe(key, len, h)];
    if (s->off) { s->value++; return; }
    if (arena_top + len > ARENA || used >= CAP / 2) return;  /* full: drop */
    for (uint32_t i = 0; i < len; i++) arena[arena_top + i] = key[i];
    s->off = arena_top + 1; s->len = len; s->hash = h; s->value = 1;
    arena_top += len;
    used++;
}

static uint32_t lookup(const char *key, uint32_t len) {
    uint32_t h = hash_bytes(key, len);
    Slot *s = &table[probe(key, len, h)];
    return s->off ? s->value : 0;
}

EXPORT("run") int64_t run(void) {
    for (uint32_t i = 0; i < CAP; i++) table[i].off = 0;
    arena_top = 0;
    used = 0;
    char key[64];
    uint32_t x = g_seed;
    uint32_t inserts = g_inserts, lookups = g_lookups;
    for (uint32_t k = 0; k < inserts; k++) {
        x = x * 1664525u + 1013904223u;
        uint32_t id = (uint32_t)(((uint64_t)x * (inserts + inserts / 2)) >> 32);
        insert(key, make_key(key, id));
    }
    uint64_t found = 0, hits = 0;
    for (uint32_t k = 0; k < lookups; k++) {
        x = x * 1664525u + 1013904223u;
        uint32_t id = (uint32_t)(((uint64_t)x * (inserts * 2)) >> 32);
        uint32_t v = lookup(key, make_key(key, id));
        found += v;
        hits += v != 0;
    }
    uint64_t h = 0;
    for (uint32_t i = 0; i < CAP; i += 7)
        h = h * 31 + table[i].value + table[i].len;
    return (int64_t)(h ^ (found << 40) ^ (hits << 20) ^ used ^ ((uint64_t)arena_top << 8));
}
