/* Numeric helpers with exact Wasm semantics, compiled by the system compiler (real instructions,
 * builtins) and called from generated code, which TCC cannot express as well. */
#include "kiln_prelude.h"

KILN_HELPER u32 kiln_i32_clz(u32 x) { return x ? (u32)__builtin_clz(x) : 32; }
KILN_HELPER u32 kiln_i32_ctz(u32 x) { return x ? (u32)__builtin_ctz(x) : 32; }
KILN_HELPER u32 kiln_i32_popcnt(u32 x) { return (u32)__builtin_popcount(x); }
KILN_HELPER u64 kiln_i64_clz(u64 x) { return x ? (u64)__builtin_clzll(x) : 64; }
KILN_HELPER u64 kiln_i64_ctz(u64 x) { return x ? (u64)__builtin_ctzll(x) : 64; }
KILN_HELPER u64 kiln_i64_popcnt(u64 x) { return (u64)__builtin_popcountll(x); }

KILN_HELPER f32 kiln_f32_nearest(f32 x) { return __builtin_rintf(x); }
KILN_HELPER f64 kiln_f64_nearest(f64 x) { return __builtin_rint(x); }
KILN_HELPER f32 kiln_f32_trunc(f32 x) { return __builtin_truncf(x); }
KILN_HELPER f64 kiln_f64_trunc(f64 x) { return __builtin_trunc(x); }
KILN_HELPER f32 kiln_f32_ceil(f32 x) { return __builtin_ceilf(x); }
KILN_HELPER f64 kiln_f64_ceil(f64 x) { return __builtin_ceil(x); }
KILN_HELPER f32 kiln_f32_floor(f32 x) { return __builtin_floorf(x); }
KILN_HELPER f64 kiln_f64_floor(f64 x) { return __builtin_floor(x); }
KILN_HELPER f32 kiln_f32_sqrt(f32 x) { return __builtin_sqrtf(x); }
KILN_HELPER f64 kiln_f64_sqrt(f64 x) { return __builtin_sqrt(x); }

/* min/max: any NaN operand gives NaN (quieted), and -0 orders below +0. */
KILN_HELPER f32 kiln_f32_min(f32 a, f32 b) {
    if (a != a || b != b) return a + b;
    if (a == b) { union { f32 f; u32 u; } x = {a}, y = {b}; x.u |= y.u; return x.f; }
    return a < b ? a : b;
}
KILN_HELPER f32 kiln_f32_max(f32 a, f32 b) {
    if (a != a || b != b) return a + b;
    if (a == b) { union { f32 f; u32 u; } x = {a}, y = {b}; x.u &= y.u; return x.f; }
    return a > b ? a : b;
}
KILN_HELPER f64 kiln_f64_min(f64 a, f64 b) {
    if (a != a || b != b) return a + b;
    if (a == b) { union { f64 f; u64 u; } x = {a}, y = {b}; x.u |= y.u; return x.f; }
    return a < b ? a : b;
}
KILN_HELPER f64 kiln_f64_max(f64 a, f64 b) {
    if (a != a || b != b) return a + b;
    if (a == b) { union { f64 f; u64 u; } x = {a}, y = {b}; x.u &= y.u; return x.f; }
    return a > b ? a : b;
}

/* Trapping truncation: NaN is an invalid conversion, out of range an integer overflow. The bounds
 * are exclusive powers of two, written so that values which truncate into range pass. */
#define TRUNC(name, F, I, lo, hi)                                        \
    KILN_HELPER I name(kiln_instance *ctx, F x) {                                    \
        if (x != x) kiln_trap(ctx, KILN_TRAP_BAD_CONVERSION);            \
        if (!(x > (F)(lo) && x < (F)(hi))) kiln_trap(ctx, KILN_TRAP_INT_OVERFLOW); \
        return (I)x;                                                     \
    }
TRUNC(kiln_i32_trunc_f32_s_impl, f32, s32, -2147483904.0, 2147483648.0)
TRUNC(kiln_i32_trunc_f64_s_impl, f64, s32, -2147483649.0, 2147483648.0)
TRUNC(kiln_i32_trunc_f32_u, f32, u32, -1.0, 4294967296.0)
TRUNC(kiln_i32_trunc_f64_u, f64, u32, -1.0, 4294967296.0)
TRUNC(kiln_i64_trunc_f32_s_impl, f32, s64, -9223373136366403584.0, 9223372036854775808.0)
TRUNC(kiln_i64_trunc_f64_s_impl, f64, s64, -9223372036854777856.0, 9223372036854775808.0)
TRUNC(kiln_i64_trunc_f32_u, f32, u64, -1.0, 18446744073709551616.0)
TRUNC(kiln_i64_trunc_f64_u, f64, u64, -1.0, 18446744073709551616.0)
KILN_HELPER u32 kiln_i32_trunc_f32_s(kiln_instance *ctx, f32 x) { return (u32)kiln_i32_trunc_f32_s_impl(ctx, x); }
KILN_HELPER u32 kiln_i32_trunc_f64_s(kiln_instance *ctx, f64 x) { return (u32)kiln_i32_trunc_f64_s_impl(ctx, x); }
KILN_HELPER u64 kiln_i64_trunc_f32_s(kiln_instance *ctx, f32 x) { return (u64)kiln_i64_trunc_f32_s_impl(ctx, x); }
KILN_HELPER u64 kiln_i64_trunc_f64_s(kiln_instance *ctx, f64 x) { return (u64)kiln_i64_trunc_f64_s_impl(ctx, x); }

#define TRUNC_SAT(name, F, I, R, lo, hi, min, max)   \
    KILN_HELPER R name(F x) {                                    \
        if (x != x) return 0;                        \
        if (!(x > (F)(lo))) return (R)(I)(min);      \
        if (!(x < (F)(hi))) return (R)(I)(max);      \
        return (R)(I)x;                              \
    }
TRUNC_SAT(kiln_i32_trunc_sat_f32_s, f32, s32, u32, -2147483904.0, 2147483648.0, (-2147483647 - 1), 2147483647)
TRUNC_SAT(kiln_i32_trunc_sat_f64_s, f64, s32, u32, -2147483649.0, 2147483648.0, (-2147483647 - 1), 2147483647)
TRUNC_SAT(kiln_i32_trunc_sat_f32_u, f32, u32, u32, -1.0, 4294967296.0, 0, 4294967295u)
TRUNC_SAT(kiln_i32_trunc_sat_f64_u, f64, u32, u32, -1.0, 4294967296.0, 0, 4294967295u)
TRUNC_SAT(kiln_i64_trunc_sat_f32_s, f32, s64, u64, -9223373136366403584.0, 9223372036854775808.0, (-9223372036854775807ll - 1), 9223372036854775807ll)
TRUNC_SAT(kiln_i64_trunc_sat_f64_s, f64, s64, u64, -9223372036854777856.0, 9223372036854775808.0, (-9223372036854775807ll - 1), 9223372036854775807ll)
TRUNC_SAT(kiln_i64_trunc_sat_f32_u, f32, u64, u64, -1.0, 18446744073709551616.0, 0, 18446744073709551615ull)
TRUNC_SAT(kiln_i64_trunc_sat_f64_u, f64, u64, u64, -1.0, 18446744073709551616.0, 0, 18446744073709551615ull)

KILN_HELPER f32 kiln_f32_convert_u64(u64 x) { return (f32)x; }
KILN_HELPER f64 kiln_f64_convert_u64(u64 x) { return (f64)x; }
