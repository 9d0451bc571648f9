/* simd.c - 128-bit SIMD kernels via <wasm_simd128.h>: f32x4 dot product,
 * u8->i16x8 3x3 blur, i16x8 -> i32x4 dot (i32x4.dot_i16x8_s) and an i32x4
 * multiply/xor-shift hash.  Without __wasm_simd128__ (e.g. native builds) a
 * scalar fallback computes bit-identical results: it keeps the same 4 float
 * accumulators and the same reduction order as the vector code. */
#include <stdint.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define NF 4096                 /* floats per dot-product vector */
#define W 512                   /* image width/height (u8 pixels) */
#define NS 8192                 /* i16 elements per vector */
#define NU 16384                /* u32 hash lanes */

static float fa[NF], fb[NF];
static uint8_t img[2][W * W];
static int16_t sa[NS], sb[NS];
static uint32_t hu[NU];
static volatile uint32_t g_reps = 800;
static volatile uint32_t g_seed = 0xBADC0DEu;

static uint32_t bits_f32(float f) { union { float f; uint32_t u; } v = { f }; return v.u; }

static float dot_f32(void) {
#ifdef __wasm_simd128__
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < NF; i += 4)
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(&fa[i]), wasm_v128_load(&fb[i])));
    return (wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1)) +
           (wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3));
#else
    float s[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    for (int i = 0; i < NF; i += 4)
        for (int k = 0; k < 4; k++) s[k] = s[k] + fa[i + k] * fb[i + k];
    return (s[0] + s[1]) + (s[2] + s[3]);
#endif
}

/* 3x3 binomial blur [1 2 1; 2 4 2; 1 2 1] / 16 of the interior (border kept) */
static void blur(const uint8_t *src, uint8_t *dst) {
    for (int y = 1; y < W - 1; y++) {
        const uint8_t *r0 = src + (y - 1) * W, *r1 = src + y * W, *r2 = src + (y + 1) * W;
        for (int x = 8; x < W - 8; x += 8) {
#ifdef __wasm_simd128__
            v128_t h0 = wasm_i16x8_add(wasm_i16x8_add(wasm_u16x8_load8x8(r0 + x - 1), wasm_u16x8_load8x8(r0 + x + 1)),
                                       wasm_i16x8_shl(wasm_u16x8_load8x8(r0 + x), 1));
            v128_t h1 = wasm_i16x8_add(wasm_i16x8_add(wasm_u16x8_load8x8(r1 + x - 1), wasm_u16x8_load8x8(r1 + x + 1)),
                                       wasm_i16x8_shl(wasm_u16x8_load8x8(r1 + x), 1));
            v128_t h2 = wasm_i16x8_add(wasm_i16x8_add(wasm_u16x8_load8x8(r2 + x - 1), wasm_u16x8_load8x8(r2 + x + 1)),
                                       wasm_i16x8_shl(wasm_u16x8_load8x8(r2 + x), 1));
            v128_t sum = wasm_i16x8_add(wasm_i16x8_add(h0, h2), wasm_i16x8_shl(h1, 1));
            v128_t out = wasm_u16x8_shr(wasm_i16x8_add(sum, wasm_i16x8_splat(8)), 4);
            wasm_v128_store64_lane(dst + y * W + x, wasm_u8x16_narrow_i16x8(out, out), 0);
#else
            for (int k = x; k < x + 8; k++) {
                uint32_t h0 = r0[k - 1] + r0[k + 1] + 2u * r0[k];
                uint32_t h1 = r1[k - 1] + r1[k + 1] + 2u * r1[k];
                uint32_t h2 = r2[k - 1] + r2[k + 1] + 2u * r2[k];
                dst[y * W + k] = (uint8_t)((h0 + h2 + 2u * h1 + 8u) >> 4);
            }
#endif
        }
    }
}

/* sum over i of sa[i]*sb[i], pairwise into 4 wrapping i32 lanes */
static uint64_t dot_i16(void) {
    uint32_t l[4];
#ifdef __wasm_simd128__
    v128_t acc = wasm_i32x4_splat(0);
    for (int i = 0; i < NS; i += 8)
        acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_v128_load(&sa[i]), wasm_v128_load(&sb[i])));
    l[0] = (uint32_t)wasm_i32x4_extract_lane(acc, 0); l[1] = (uint32_t)wasm_i32x4_extract_lane(acc, 1);
    l[2] = (uint32_t)wasm_i32x4_extract_lane(acc, 2); l[3] = (uint32_t)wasm_i32x4_extract_lane(acc, 3);
#else
    l[0] = l[1] = l[2] = l[3] = 0;
    for (int i = 0; i < NS; i += 8)
        for (int k = 0; k < 4; k++)
            l[k] += (uint32_t)((int32_t)sa[i + 2 * k] * sb[i + 2 * k] + (int32_t)sa[i + 2 * k + 1] * sb[i + 2 * k + 1]);
#endif
    return ((uint64_t)(l[0] ^ l[2]) << 32) | (l[1] + l[3]);
}

/* in-place lane hash: v = (v * K) ^ ((v * K) >> 13), v += v << 3; returns lane sums */
static uint64_t hash_u32(void) {
    uint32_t l[4];
#ifdef __wasm_simd128__
    v128_t acc = wasm_i32x4_splat(0), k = wasm_i32x4_splat((int32_t)0x85EBCA6Bu);
    for (int i = 0; i < NU; i += 4) {
        v128_t v = wasm_i32x4_mul(wasm_v128_load(&hu[i]), k);
        v = wasm_v128_xor(v, wasm_u32x4_shr(v, 13));
        v = wasm_i32x4_add(v, wasm_i32x4_shl(v, 3));
        wasm_v128_store(&hu[i], v);
        acc = wasm_i32x4_add(acc, v);
    }
    l[0] = (uint32_t)wasm_i32x4_extract_lane(acc, 0); l[1] = (uint32_t)wasm_i32x4_extract_lane(acc, 1);
    l[2] = (uint32_t)wasm_i32x4_extract_lane(acc, 2); l[3] = (uint32_t)wasm_i32x4_extract_lane(acc, 3);
#else
    l[0] = l[1] = l[2] = l[3] = 0;
    for (int i = 0; i < NU; i += 4)
        for (int j = 0; j < 4; j++) {
            uint32_t v = hu[i + j] * 0x85EBCA6Bu;
            v ^= v >> 13;
            v += v << 3;
            hu[i + j] = v;
            l[j] += v;
        }
#endif
    return ((uint64_t)(l[0] + l[1]) << 32) | (l[2] ^ l[3]);
}

static void init(uint32_t seed) {
    uint32_t x = seed;
    for (int i = 0; i < NF; i++) {
        x = x * 1664525u + 1013904223u; fa[i] = (float)(x >> 16) / 65536.0f - 0.5f;
        x = x * 1664525u + 1013904223u; fb[i] = (float)(x >> 16) / 65536.0f - 0.5f;
    }
    for (int i = 0; i < W * W; i++) {
        x = x * 1664525u + 1013904223u;
        img[0][i] = img[1][i] = (uint8_t)(x >> 24);
    }
    for (int i = 0; i < NS; i++) {
        x = x * 1664525u + 1013904223u; sa[i] = (int16_t)((int32_t)(x >> 17) - 16384);
        x = x * 1664525u + 1013904223u; sb[i] = (int16_t)((int32_t)(x >> 17) - 16384);
    }
    for (int i = 0; i < NU; i++) { x = x * 1664525u + 1013904223u; hu[i] = x; }
}

EXPORT("run") int64_t run(void) {
    init(g_seed);
    uint64_t h = 0;
    uint32_t reps = g_reps;
    for (uint32_t r = 0; r < reps; r++) {
        for (int k = 0; k < 16; k++) {            /* hot, cache-resident kernels */
            float d = dot_f32();
            fa[(r * 16 + (uint32_t)k) % NF] += 0.25f;
            h = h * 31 + bits_f32(d);
            h ^= dot_i16();
            sa[(r * 16 + (uint32_t)k) % NS] ^= 0x155;
            h += hash_u32();
        }
        blur(img[r & 1], img[(r & 1) ^ 1]);
        h = h * 1099511628211ull + img[(r & 1) ^ 1][(r * 4099u) % (W * W)];
    }
    for (int i = 0; i < W * W; i += 61) h = (h ^ img[reps & 1][i]) * 1099511628211ull;
    return (int64_t)h;
}
