/* WebAssembly 2.0 SIMD (v128) with exact lane semantics, compiled by the system compiler with
 * clang's vector extensions. Generated code passes every v128 by pointer (TCC and clang disagree
 * on how 16-byte unions travel in registers); the destination may alias an operand, so every
 * helper reads all of its operands before it writes. Memory helpers receive the address that
 * generated code computed inside the memory's reservation: an access past the end faults on the
 * guard page and the fault handler turns it into a trap, and a 16-byte store is one instruction,
 * so a trapping store writes nothing. */
#include "kiln_prelude.h"

typedef s8 i8v __attribute__((vector_size(16)));
typedef u8 u8v __attribute__((vector_size(16)));
typedef s16 i16v __attribute__((vector_size(16)));
typedef u16 u16v __attribute__((vector_size(16)));
typedef s32 i32v __attribute__((vector_size(16)));
typedef u32 u32v __attribute__((vector_size(16)));
typedef s64 i64v __attribute__((vector_size(16)));
typedef u64 u64v __attribute__((vector_size(16)));
typedef f32 f32v __attribute__((vector_size(16)));
typedef f64 f64v __attribute__((vector_size(16)));
/* Half vectors: the low or high 8 bytes, widened by extends. */
typedef s8 i8h __attribute__((vector_size(8)));
typedef u8 u8h __attribute__((vector_size(8)));
typedef s16 i16h __attribute__((vector_size(8)));
typedef u16 u16h __attribute__((vector_size(8)));
typedef s32 i32h __attribute__((vector_size(8)));
typedef u32 u32h __attribute__((vector_size(8)));
typedef f32 f32h __attribute__((vector_size(8)));

#define GET(T, p) ({ T v_; __builtin_memcpy(&v_, (p), 16); v_; })
#define PUT(p, v) do { __typeof__(v) v_ = (v); __builtin_memcpy((p), &v_, 16); } while (0)
#define SEL(mask, x, y) (((mask) & (x)) | (~(mask) & (y)))

#define UNARY(name, T, expr) \
    KILN_HELPER void kiln_##name(kiln_value *d, const kiln_value *pa) { T a = GET(T, pa); PUT(d, (expr)); }
#define BINARY(name, T, expr) \
    KILN_HELPER void kiln_##name(kiln_value *d, const kiln_value *pa, const kiln_value *pb) { T a = GET(T, pa), b = GET(T, pb); PUT(d, (expr)); }
#define SHIFT(name, T, bits, expr) \
    KILN_HELPER void kiln_##name(kiln_value *d, const kiln_value *pa, u32 n) { T a = GET(T, pa); int c = (int)(n & ((bits) - 1)); PUT(d, (expr)); }

/* ---- Splats ---- */

KILN_HELPER void kiln_i8x16_splat(kiln_value *d, u32 x) { PUT(d, (u8v){} + (u8)x); }
KILN_HELPER void kiln_i16x8_splat(kiln_value *d, u32 x) { PUT(d, (u16v){} + (u16)x); }
KILN_HELPER void kiln_i32x4_splat(kiln_value *d, u32 x) { PUT(d, (u32v){} + x); }
KILN_HELPER void kiln_i64x2_splat(kiln_value *d, u64 x) { PUT(d, (u64v){} + x); }
KILN_HELPER void kiln_f32x4_splat(kiln_value *d, f32 x) { u32 b; __builtin_memcpy(&b, &x, 4); PUT(d, (u32v){} + b); }
KILN_HELPER void kiln_f64x2_splat(kiln_value *d, f64 x) { u64 b; __builtin_memcpy(&b, &x, 8); PUT(d, (u64v){} + b); }

/* ---- Bitwise ---- */

UNARY(v128_not, u64v, ~a)
BINARY(v128_and, u64v, a & b)
BINARY(v128_andnot, u64v, a & ~b)
BINARY(v128_or, u64v, a | b)
BINARY(v128_xor, u64v, a ^ b)
KILN_HELPER void kiln_v128_bitselect(kiln_value *d, const kiln_value *pa, const kiln_value *pb, const kiln_value *pc) {
    u64v a = GET(u64v, pa), b = GET(u64v, pb), c = GET(u64v, pc);
    PUT(d, SEL(c, a, b));
}
KILN_HELPER u32 kiln_v128_any_true(const kiln_value *pa) { u64v a = GET(u64v, pa); return (a[0] | a[1]) != 0; }

/* ---- Tests ---- */

#define ALL_TRUE(name, T, lanes) \
    KILN_HELPER u32 kiln_##name(const kiln_value *pa) { T a = GET(T, pa); u32 r = 1; for (int i = 0; i < (lanes); i++) r &= a[i] != 0; return r; }
#define BITMASK(name, T, lanes) \
    KILN_HELPER u32 kiln_##name(const kiln_value *pa) { T a = GET(T, pa); u32 r = 0; for (int i = 0; i < (lanes); i++) r |= (u32)(a[i] < 0) << i; return r; }
ALL_TRUE(i8x16_all_true, u8v, 16)
ALL_TRUE(i16x8_all_true, u16v, 8)
ALL_TRUE(i32x4_all_true, u32v, 4)
ALL_TRUE(i64x2_all_true, u64v, 2)
BITMASK(i8x16_bitmask, i8v, 16)
BITMASK(i16x8_bitmask, i16v, 8)
BITMASK(i32x4_bitmask, i32v, 4)
BITMASK(i64x2_bitmask, i64v, 2)

/* ---- Integer comparisons: all ones or all zeros per lane ---- */

#define COMPARE(shape, S, U)                \
    BINARY(shape##_eq, U, a == b)           \
    BINARY(shape##_ne, U, a != b)           \
    BINARY(shape##_lt_s, S, a < b)          \
    BINARY(shape##_lt_u, U, a < b)          \
    BINARY(shape##_gt_s, S, a > b)          \
    BINARY(shape##_gt_u, U, a > b)          \
    BINARY(shape##_le_s, S, a <= b)         \
    BINARY(shape##_le_u, U, a <= b)         \
    BINARY(shape##_ge_s, S, a >= b)         \
    BINARY(shape##_ge_u, U, a >= b)
COMPARE(i8x16, i8v, u8v)
COMPARE(i16x8, i16v, u16v)
COMPARE(i32x4, i32v, u32v)
BINARY(i64x2_eq, u64v, a == b)
BINARY(i64x2_ne, u64v, a != b)
BINARY(i64x2_lt_s, i64v, a < b)
BINARY(i64x2_gt_s, i64v, a > b)
BINARY(i64x2_le_s, i64v, a <= b)
BINARY(i64x2_ge_s, i64v, a >= b)

/* ---- Integer arithmetic (wrapping arithmetic in unsigned lanes) ---- */

#define INTEGER(shape, S, U, bits)                                        \
    UNARY(shape##_neg, U, (U){} - a)                                      \
    KILN_HELPER void kiln_##shape##_abs(kiln_value *d, const kiln_value *pa) {        \
        S a = GET(S, pa);                                                 \
        U m = (U)(a >> ((bits) - 1));                                     \
        PUT(d, ((U)a ^ m) - m);                                           \
    }                                                                     \
    BINARY(shape##_add, U, a + b)                                         \
    BINARY(shape##_sub, U, a - b)                                         \
    SHIFT(shape##_shl, U, bits, a << c)                                   \
    SHIFT(shape##_shr_s, S, bits, a >> c)                                 \
    SHIFT(shape##_shr_u, U, bits, a >> c)
INTEGER(i8x16, i8v, u8v, 8)
INTEGER(i16x8, i16v, u16v, 16)
INTEGER(i32x4, i32v, u32v, 32)
INTEGER(i64x2, i64v, u64v, 64)

BINARY(i16x8_mul, u16v, a * b)
BINARY(i32x4_mul, u32v, a * b)
BINARY(i64x2_mul, u64v, a * b)

#define SMALL_INTEGER(shape, S, U)                                                \
    BINARY(shape##_add_sat_s, S, __builtin_elementwise_add_sat(a, b))             \
    BINARY(shape##_add_sat_u, U, __builtin_elementwise_add_sat(a, b))             \
    BINARY(shape##_sub_sat_s, S, __builtin_elementwise_sub_sat(a, b))             \
    BINARY(shape##_sub_sat_u, U, __builtin_elementwise_sub_sat(a, b))             \
    BINARY(shape##_avgr_u, U, (a | b) - ((a ^ b) >> 1))
SMALL_INTEGER(i8x16, i8v, u8v)
SMALL_INTEGER(i16x8, i16v, u16v)

#define MIN_MAX(shape, S, U)                                          \
    BINARY(shape##_min_s, S, __builtin_elementwise_min(a, b))         \
    BINARY(shape##_min_u, U, __builtin_elementwise_min(a, b))         \
    BINARY(shape##_max_s, S, __builtin_elementwise_max(a, b))         \
    BINARY(shape##_max_u, U, __builtin_elementwise_max(a, b))
MIN_MAX(i8x16, i8v, u8v)
MIN_MAX(i16x8, i16v, u16v)
MIN_MAX(i32x4, i32v, u32v)

UNARY(i8x16_popcnt, u8v, __builtin_elementwise_popcount(a))

KILN_HELPER void kiln_i16x8_q15_mulr_sat_s(kiln_value *d, const kiln_value *pa, const kiln_value *pb) {
    i16v a = GET(i16v, pa), b = GET(i16v, pb), r;
    for (int i = 0; i < 8; i++) {
        s32 p = ((s32)a[i] * (s32)b[i] + 0x4000) >> 15;
        r[i] = (s16)(p > 32767 ? 32767 : p);
    }
    PUT(d, r);
}

/* ---- Narrowing (saturating, operands are signed) ---- */

#define NARROW(name, N, W, lanes, lo, hi)                                             \
    KILN_HELPER void kiln_##name(kiln_value *d, const kiln_value *pa, const kiln_value *pb) {     \
        W a = GET(W, pa), b = GET(W, pb);                                             \
        N r;                                                                          \
        for (int i = 0; i < (lanes); i++) {                                           \
            __typeof__(a[0]) x = a[i], y = b[i];                                      \
            r[i] = x < (lo) ? (lo) : x > (hi) ? (hi) : x;                             \
            r[i + (lanes)] = y < (lo) ? (lo) : y > (hi) ? (hi) : y;                   \
        }                                                                             \
        PUT(d, r);                                                                    \
    }
NARROW(i8x16_narrow_i16x8_s, i8v, i16v, 8, -128, 127)
NARROW(i8x16_narrow_i16x8_u, u8v, i16v, 8, 0, 255)
NARROW(i16x8_narrow_i32x4_s, i16v, i32v, 4, -32768, 32767)
NARROW(i16x8_narrow_i32x4_u, u16v, i32v, 4, 0, 65535)

/* ---- Widening: extend, extmul, extadd_pairwise, dot ---- */

#define LOW8(a) __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7)
#define HIGH8(a) __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15)
#define EVEN8(a) __builtin_shufflevector(a, a, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODD8(a) __builtin_shufflevector(a, a, 1, 3, 5, 7, 9, 11, 13, 15)
#define LOW4(a) __builtin_shufflevector(a, a, 0, 1, 2, 3)
#define HIGH4(a) __builtin_shufflevector(a, a, 4, 5, 6, 7)
#define EVEN4(a) __builtin_shufflevector(a, a, 0, 2, 4, 6)
#define ODD4(a) __builtin_shufflevector(a, a, 1, 3, 5, 7)
#define LOW2(a) __builtin_shufflevector(a, a, 0, 1)
#define HIGH2(a) __builtin_shufflevector(a, a, 2, 3)
#define WIDEN(x, W) __builtin_convertvector(x, W)

#define EXTEND(shape, from, S, U, WS, WU, LOW, HIGH)                                                            \
    UNARY(shape##_extend_low_##from##_s, S, WIDEN(LOW(a), WS))                                                  \
    UNARY(shape##_extend_high_##from##_s, S, WIDEN(HIGH(a), WS))                                                \
    UNARY(shape##_extend_low_##from##_u, U, WIDEN(LOW(a), WU))                                                  \
    UNARY(shape##_extend_high_##from##_u, U, WIDEN(HIGH(a), WU))                                                \
    BINARY(shape##_extmul_low_##from##_s, S, (WU)(WIDEN(LOW(a), WS) * WIDEN(LOW(b), WS)))                       \
    BINARY(shape##_extmul_high_##from##_s, S, (WU)(WIDEN(HIGH(a), WS) * WIDEN(HIGH(b), WS)))                    \
    BINARY(shape##_extmul_low_##from##_u, U, WIDEN(LOW(a), WU) * WIDEN(LOW(b), WU))                             \
    BINARY(shape##_extmul_high_##from##_u, U, WIDEN(HIGH(a), WU) * WIDEN(HIGH(b), WU))
EXTEND(i16x8, i8x16, i8v, u8v, i16v, u16v, LOW8, HIGH8)
EXTEND(i32x4, i16x8, i16v, u16v, i32v, u32v, LOW4, HIGH4)
EXTEND(i64x2, i32x4, i32v, u32v, i64v, u64v, LOW2, HIGH2)

UNARY(i16x8_extadd_pairwise_i8x16_s, i8v, WIDEN(EVEN8(a), i16v) + WIDEN(ODD8(a), i16v))
UNARY(i16x8_extadd_pairwise_i8x16_u, u8v, WIDEN(EVEN8(a), u16v) + WIDEN(ODD8(a), u16v))
UNARY(i32x4_extadd_pairwise_i16x8_s, i16v, WIDEN(EVEN4(a), i32v) + WIDEN(ODD4(a), i32v))
UNARY(i32x4_extadd_pairwise_i16x8_u, u16v, WIDEN(EVEN4(a), u32v) + WIDEN(ODD4(a), u32v))
/* Each product fits in 31 bits; their sum may not, and wraps. */
BINARY(i32x4_dot_i16x8_s, i16v,
       (u32v)(WIDEN(EVEN4(a), i32v) * WIDEN(EVEN4(b), i32v)) + (u32v)(WIDEN(ODD4(a), i32v) * WIDEN(ODD4(b), i32v)))

/* ---- Swizzle and shuffle ---- */

KILN_HELPER void kiln_i8x16_swizzle(kiln_value *d, const kiln_value *pa, const kiln_value *pb) {
    u8v a = GET(u8v, pa), b = GET(u8v, pb), r;
    for (int i = 0; i < 16; i++) r[i] = b[i] < 16 ? a[b[i] & 15] : 0;
    PUT(d, r);
}

/* The 16 lane indices (each below 32) packed little-endian into two u64 immediates. */
KILN_HELPER void kiln_i8x16_shuffle(kiln_value *d, const kiln_value *pa, const kiln_value *pb, u64 low, u64 high) {
    u8 both[32];
    __builtin_memcpy(both, pa, 16);
    __builtin_memcpy(both + 16, pb, 16);
    u8v r;
    for (int i = 0; i < 8; i++) {
        r[i] = both[(low >> (8 * i)) & 31];
        r[i + 8] = both[(high >> (8 * i)) & 31];
    }
    PUT(d, r);
}

/* ---- Floating point ---- */

#define FLOAT(shape, F, I, sign)                                                   \
    UNARY(shape##_abs, I, a & ((I){} + ~(sign)))                                   \
    UNARY(shape##_neg, I, a ^ ((I){} + (sign)))                                    \
    UNARY(shape##_sqrt, F, __builtin_elementwise_sqrt(a))                          \
    UNARY(shape##_ceil, F, __builtin_elementwise_ceil(a))                          \
    UNARY(shape##_floor, F, __builtin_elementwise_floor(a))                        \
    UNARY(shape##_trunc, F, __builtin_elementwise_trunc(a))                        \
    UNARY(shape##_nearest, F, __builtin_elementwise_roundeven(a))                  \
    BINARY(shape##_add, F, a + b)                                                  \
    BINARY(shape##_sub, F, a - b)                                                  \
    BINARY(shape##_mul, F, a * b)                                                  \
    BINARY(shape##_div, F, a / b)                                                  \
    BINARY(shape##_eq, F, a == b)                                                  \
    BINARY(shape##_ne, F, a != b)                                                  \
    BINARY(shape##_lt, F, a < b)                                                   \
    BINARY(shape##_gt, F, a > b)                                                   \
    BINARY(shape##_le, F, a <= b)                                                  \
    BINARY(shape##_ge, F, a >= b)                                                  \
    /* pmin/pmax: b < a ? b : a and a < b ? b : a, NaNs and zeros as they fall */  \
    BINARY(shape##_pmin, F, (F)SEL((I)(b < a), (I)b, (I)a))                        \
    BINARY(shape##_pmax, F, (F)SEL((I)(a < b), (I)b, (I)a))                        \
    /* min/max: a NaN operand gives a NaN (quieted), and -0 orders below +0 */     \
    BINARY(shape##_min, F, ({                                                      \
        I lt = (I)(a < b), gt = (I)(a > b), nan = (I)(a != a) | (I)(b != b);       \
        I r = SEL(lt, (I)a, SEL(gt, (I)b, (I)a | (I)b));                           \
        (F)SEL(nan, (I)(a + b), r);                                                \
    }))                                                                            \
    BINARY(shape##_max, F, ({                                                      \
        I gt = (I)(a > b), lt = (I)(a < b), nan = (I)(a != a) | (I)(b != b);       \
        I r = SEL(gt, (I)a, SEL(lt, (I)b, (I)a & (I)b));                           \
        (F)SEL(nan, (I)(a + b), r);                                                \
    }))
FLOAT(f32x4, f32v, u32v, 0x80000000u)
FLOAT(f64x2, f64v, u64v, 0x8000000000000000ull)

/* ---- Conversions ---- */

KILN_HELPER void kiln_i32x4_trunc_sat_f32x4_s(kiln_value *d, const kiln_value *pa) {
    f32v a = GET(f32v, pa);
    i32v r;
    for (int i = 0; i < 4; i++) {
        f32 x = a[i];
        r[i] = x != x ? 0 : !(x > -2147483904.0f) ? (-2147483647 - 1) : !(x < 2147483648.0f) ? 2147483647 : (s32)x;
    }
    PUT(d, r);
}
KILN_HELPER void kiln_i32x4_trunc_sat_f32x4_u(kiln_value *d, const kiln_value *pa) {
    f32v a = GET(f32v, pa);
    u32v r;
    for (int i = 0; i < 4; i++) {
        f32 x = a[i];
        r[i] = x != x ? 0 : !(x > -1.0f) ? 0 : !(x < 4294967296.0f) ? 4294967295u : (u32)x;
    }
    PUT(d, r);
}
KILN_HELPER void kiln_i32x4_trunc_sat_f64x2_s_zero(kiln_value *d, const kiln_value *pa) {
    f64v a = GET(f64v, pa);
    i32v r = {};
    for (int i = 0; i < 2; i++) {
        f64 x = a[i];
        r[i] = x != x ? 0 : !(x > -2147483649.0) ? (-2147483647 - 1) : !(x < 2147483648.0) ? 2147483647 : (s32)x;
    }
    PUT(d, r);
}
KILN_HELPER void kiln_i32x4_trunc_sat_f64x2_u_zero(kiln_value *d, const kiln_value *pa) {
    f64v a = GET(f64v, pa);
    u32v r = {};
    for (int i = 0; i < 2; i++) {
        f64 x = a[i];
        r[i] = x != x ? 0 : !(x > -1.0) ? 0 : !(x < 4294967296.0) ? 4294967295u : (u32)x;
    }
    PUT(d, r);
}
UNARY(f32x4_convert_i32x4_s, i32v, WIDEN(a, f32v))
UNARY(f32x4_convert_i32x4_u, u32v, WIDEN(a, f32v))
UNARY(f64x2_convert_low_i32x4_s, i32v, WIDEN(LOW2(a), f64v))
UNARY(f64x2_convert_low_i32x4_u, u32v, WIDEN(LOW2(a), f64v))
UNARY(f64x2_promote_low_f32x4, f32v, WIDEN(LOW2(a), f64v))
UNARY(f32x4_demote_f64x2_zero, f64v, __builtin_shufflevector(WIDEN(a, f32h), (f32h){}, 0, 1, 2, 3))

/* ---- Relaxed SIMD (Wasm 3.0) ----
 * Relaxed operations may give any of a few results the spec lists; Kiln always gives the same
 * one, on every machine (see the README's SIMD notes). The relaxed operations not here reuse the
 * Wasm 2.0 helpers (SIMDLowering.helper): relaxed_swizzle is swizzle (an index of 16 or more
 * gives 0), relaxed_trunc_* are trunc_sat_* (NaN gives 0, out of range saturates),
 * relaxed_laneselect is bitselect (bit by bit, whatever the mask), relaxed_min/max are min/max
 * (NaN in, NaN out; -0 below +0), relaxed_q15mulr_s is q15mulr_sat_s (saturates). */

/* relaxed_madd is fused: a * b + c rounded once, as C's fma computes it exactly everywhere
 * (a plain a * b + c may or may not be contracted into an fma, depending on the machine). */
KILN_HELPER void kiln_f32x4_relaxed_madd(kiln_value *d, const kiln_value *pa, const kiln_value *pb, const kiln_value *pc) {
    f32v a = GET(f32v, pa), b = GET(f32v, pb), c = GET(f32v, pc), r;
    for (int i = 0; i < 4; i++) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
    PUT(d, r);
}
/* relaxed_nmadd: -(a * b) + c, fused: fma(-a, b, c) (negating a is exact). */
KILN_HELPER void kiln_f32x4_relaxed_nmadd(kiln_value *d, const kiln_value *pa, const kiln_value *pb, const kiln_value *pc) {
    f32v a = GET(f32v, pa), b = GET(f32v, pb), c = GET(f32v, pc), r;
    for (int i = 0; i < 4; i++) r[i] = __builtin_fmaf(-a[i], b[i], c[i]);
    PUT(d, r);
}
KILN_HELPER void kiln_f64x2_relaxed_madd(kiln_value *d, const kiln_value *pa, const kiln_value *pb, const kiln_value *pc) {
    f64v a = GET(f64v, pa), b = GET(f64v, pb), c = GET(f64v, pc), r;
    for (int i = 0; i < 2; i++) r[i] = __builtin_fma(a[i], b[i], c[i]);
    PUT(d, r);
}
KILN_HELPER void kiln_f64x2_relaxed_nmadd(kiln_value *d, const kiln_value *pa, const kiln_value *pb, const kiln_value *pc) {
    f64v a = GET(f64v, pa), b = GET(f64v, pb), c = GET(f64v, pc), r;
    for (int i = 0; i < 2; i++) r[i] = __builtin_fma(-a[i], b[i], c[i]);
    PUT(d, r);
}

/* relaxed_dot_i8x16_i7x16: both operands' lanes are signed (the spec allows b's lanes to be read
 * as signed or unsigned when their top bit is set); each product fits in an i16, and the sum of
 * a pair wraps to 16 bits. */
static inline u16 dot_pair(const i8v a, const i8v b, int i) {
    return (u16)((u16)(s16)(a[2 * i] * b[2 * i]) + (u16)(s16)(a[2 * i + 1] * b[2 * i + 1]));
}
KILN_HELPER void kiln_i16x8_relaxed_dot_i8x16_i7x16_s(kiln_value *d, const kiln_value *pa, const kiln_value *pb) {
    i8v a = GET(i8v, pa), b = GET(i8v, pb);
    u16v r;
    for (int i = 0; i < 8; i++) r[i] = dot_pair(a, b, i);
    PUT(d, r);
}
/* The i16 pair sums above, added pairwise (sign-extended) into i32 lanes, plus c (wrapping). */
KILN_HELPER void kiln_i32x4_relaxed_dot_i8x16_i7x16_add_s(kiln_value *d, const kiln_value *pa, const kiln_value *pb, const kiln_value *pc) {
    i8v a = GET(i8v, pa), b = GET(i8v, pb);
    u32v c = GET(u32v, pc), r;
    for (int i = 0; i < 4; i++) {
        s32 sum = (s32)(s16)dot_pair(a, b, 2 * i) + (s32)(s16)dot_pair(a, b, 2 * i + 1);
        r[i] = (u32)sum + c[i];
    }
    PUT(d, r);
}

/* ---- Memory ---- */

KILN_HELPER void kiln_v128_store(u8 *p, const kiln_value *v) { u8v x = GET(u8v, v); __builtin_memcpy(p, &x, 16); }

#define LOAD_EXTEND(name, H, W) \
    KILN_HELPER void kiln_##name(kiln_value *d, const u8 *p) { H x; __builtin_memcpy(&x, p, 8); PUT(d, WIDEN(x, W)); }
LOAD_EXTEND(v128_load8x8_s, i8h, i16v)
LOAD_EXTEND(v128_load8x8_u, u8h, u16v)
LOAD_EXTEND(v128_load16x4_s, i16h, i32v)
LOAD_EXTEND(v128_load16x4_u, u16h, u32v)
LOAD_EXTEND(v128_load32x2_s, i32h, i64v)
LOAD_EXTEND(v128_load32x2_u, u32h, u64v)

#define LOAD_SPLAT(name, T, V) \
    KILN_HELPER void kiln_##name(kiln_value *d, const u8 *p) { T x; __builtin_memcpy(&x, p, sizeof x); PUT(d, (V){} + x); }
LOAD_SPLAT(v128_load8_splat, u8, u8v)
LOAD_SPLAT(v128_load16_splat, u16, u16v)
LOAD_SPLAT(v128_load32_splat, u32, u32v)
LOAD_SPLAT(v128_load64_splat, u64, u64v)

KILN_HELPER void kiln_v128_load32_zero(kiln_value *d, const u8 *p) { u32 x; __builtin_memcpy(&x, p, 4); PUT(d, ((u32v){x, 0, 0, 0})); }
KILN_HELPER void kiln_v128_load64_zero(kiln_value *d, const u8 *p) { u64 x; __builtin_memcpy(&x, p, 8); PUT(d, ((u64v){x, 0})); }
