/* sort.c - comparison sorts over pseudo-random 32-bit keys where every
 * comparison goes through a function pointer (call_indirect in wasm):
 * a quicksort (median of three, Hoare partition, insertion sort) and a
 * top-down merge sort with a scratch buffer. */
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define N (1u << 20)

typedef int32_t (*cmp_fn)(uint32_t a, uint32_t b);

static uint32_t data[N];
static uint32_t scratch[N];
static volatile uint32_t g_sel = 0;     /* picks comparators at run time */
static volatile uint32_t g_seed = 0x2545F491u;

static int32_t cmp_asc(uint32_t a, uint32_t b)  { return a < b ? -1 : a > b; }
static int32_t cmp_desc(uint32_t a, uint32_t b) { return a > b ? -1 : a < b; }
/* order by low 12 bits, then by full value descending */
static int32_t cmp_low(uint32_t a, uint32_t b) {
    uint32_t la = a & 0xFFF, lb = b & 0xFFF;
    if (la != lb) return la < lb ? -1 : 1;
    return a > b ? -1 : a < b;
}
/* order by (x * odd constant) mod 2^32: a "shuffled" total order */
static int32_t cmp_mix(uint32_t a, uint32_t b) {
    uint32_t ma = a * 0x9E3779B1u, mb = b * 0x9E3779B1u;
    return ma < mb ? -1 : ma > mb;
}

static cmp_fn const cmps[4] = { cmp_asc, cmp_desc, cmp_low, cmp_mix };

static void insertion_sort(uint32_t *a, int32_t n, cmp_fn cmp) {
    for (int32_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        int32_t j = i - 1;
        while (j >= 0 && cmp(a[j], v) > 0) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}

static void swap(uint32_t *a, int32_t i, int32_t j) {
    uint32_t t = a[i]; a[i] = a[j]; a[j] = t;
}

static void quick_sort(uint32_t *a, int32_t n, cmp_fn cmp) {
    while (n > 24) {
        int32_t mid = n / 2;
        /* order a[0], a[mid], a[n-1] so that a[mid] is their median */
        if (cmp(a[mid], a[0]) < 0) swap(a, mid, 0);
        if (cmp(a[n - 1], a[0]) < 0) swap(a, n - 1, 0);
        if (cmp(a[n - 1], a[mid]) < 0) swap(a, n - 1, mid);
        uint32_t pivot = a[mid];
        int32_t i = -1, j = n;
        for (;;) {                       /* Hoare partition */
            do i++; while (cmp(a[i], pivot) < 0);
            do j--; while (cmp(a[j], pivot) > 0);
            if (i >= j) break;
            swap(a, i, j);
        }
        int32_t left = j + 1;            /* a[0..j] <= pivot <= a[j+1..n) */
        if (left < n - left) {           /* recurse on the smaller side */
            quick_sort(a, left, cmp);
            a += left; n -= left;
        } else {
            quick_sort(a + left, n - left, cmp);
            n = left;
        }
    }
    insertion_sort(a, n, cmp);
}

static void merge_sort(uint32_t *a, uint32_t *tmp, int32_t n, cmp_fn cmp) {
    if (n <= 16) { insertion_sort(a, n, cmp); return; }
    int32_t h = n / 2;
    merge_sort(a, tmp, h, cmp);
    merge_sort(a + h, tmp + h, n - h, cmp);
    if (cmp(a[h - 1], a[h]) <= 0) return;       /* already in order */
    int32_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp(a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    for (k = 0; k < n; k++) a[k] = tmp[k];
}

static void fill(uint32_t seed) {
    uint32_t x = seed;
    for (uint32_t i = 0; i < N; i++) {           /* xorshift32 */
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        data[i] = x;
    }
}

/* hash of the sorted order plus a count of order violations (should be 0) */
static uint64_t digest(cmp_fn cmp) {
    uint64_t h = 14695981039346656037ull;
    uint32_t bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (i && cmp(data[i - 1], data[i]) > 0) bad++;
        h = (h ^ data[i]) * 1099511628211ull;
    }
    return h + bad;
}

EXPORT("run") int64_t run(void) {
    uint64_t h = 0;
    uint32_t sel = g_sel;
    for (uint32_t pass = 0; pass < 4; pass++) {
        cmp_fn cmp = cmps[(sel + pass) & 3];
        fill(g_seed + pass * 7919u);
        if (pass & 1) merge_sort(data, scratch, (int32_t)N, cmp);
        else quick_sort(data, (int32_t)N, cmp);
        h = h * 31 + digest(cmp);
    }
    return (int64_t)h;
}
