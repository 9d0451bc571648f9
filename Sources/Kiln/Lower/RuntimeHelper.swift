import WasmTypes

/// Every runtime helper the lowering calls by name: the one list. The prelude's declarations
/// (`kiln_prelude.h`), the symbol table TCC links against (`symbols.c`) and the definitions
/// (`numeric.c`, `simd.c`, which `symbols.c` references) are checked against it by
/// RuntimeHelperListTests. Case names are the C names, so a helper is spelled once.
enum RuntimeHelper: Equatable {
    case numeric(Numeric)
    case trapping(Trapping)
    case unary(V128Unary)
    case binary(V128Binary)
    case ternary(V128Ternary)
    case test(V128Test)
    case shift(V128Shift)
    case load(V128Load)
    case splat(V128Splat)
    case other(V128Other)

    /// Scalar numeric helpers, declared to TCC by the prelude itself.
    enum Numeric: String, CaseIterable {
        case kiln_f32_nearest, kiln_f64_nearest, kiln_f32_trunc, kiln_f64_trunc, kiln_f32_ceil,
            kiln_f64_ceil, kiln_f32_floor, kiln_f64_floor, kiln_f32_sqrt, kiln_f64_sqrt, kiln_f32_min,
            kiln_f32_max, kiln_f64_min, kiln_f64_max, kiln_i32_clz, kiln_i32_ctz, kiln_i32_popcnt,
            kiln_i64_clz, kiln_i64_ctz, kiln_i64_popcnt, kiln_i32_trunc_sat_f32_s, kiln_i32_trunc_sat_f32_u,
            kiln_i32_trunc_sat_f64_s, kiln_i32_trunc_sat_f64_u, kiln_i64_trunc_sat_f32_s,
            kiln_i64_trunc_sat_f32_u, kiln_i64_trunc_sat_f64_s, kiln_i64_trunc_sat_f64_u,
            kiln_f32_convert_u64, kiln_f64_convert_u64
    }

    /// Float -> int truncations that trap through `ctx` (their first parameter).
    enum Trapping: String, CaseIterable {
        case kiln_i32_trunc_f32_s, kiln_i32_trunc_f32_u, kiln_i32_trunc_f64_s, kiln_i32_trunc_f64_u,
            kiln_i64_trunc_f32_s, kiln_i64_trunc_f32_u, kiln_i64_trunc_f64_s, kiln_i64_trunc_f64_u
    }

    /// `void h(kiln_value *d, const kiln_value *a)`.
    enum V128Unary: String, CaseIterable {
        case kiln_f32x4_abs, kiln_f32x4_ceil, kiln_f32x4_convert_i32x4_s, kiln_f32x4_convert_i32x4_u,
            kiln_f32x4_demote_f64x2_zero, kiln_f32x4_floor, kiln_f32x4_nearest, kiln_f32x4_neg,
            kiln_f32x4_sqrt, kiln_f32x4_trunc, kiln_f64x2_abs, kiln_f64x2_ceil,
            kiln_f64x2_convert_low_i32x4_s, kiln_f64x2_convert_low_i32x4_u, kiln_f64x2_floor,
            kiln_f64x2_nearest, kiln_f64x2_neg, kiln_f64x2_promote_low_f32x4, kiln_f64x2_sqrt,
            kiln_f64x2_trunc, kiln_i16x8_abs, kiln_i16x8_extadd_pairwise_i8x16_s,
            kiln_i16x8_extadd_pairwise_i8x16_u, kiln_i16x8_extend_high_i8x16_s,
            kiln_i16x8_extend_high_i8x16_u, kiln_i16x8_extend_low_i8x16_s, kiln_i16x8_extend_low_i8x16_u,
            kiln_i16x8_neg, kiln_i32x4_abs, kiln_i32x4_extadd_pairwise_i16x8_s,
            kiln_i32x4_extadd_pairwise_i16x8_u, kiln_i32x4_extend_high_i16x8_s,
            kiln_i32x4_extend_high_i16x8_u, kiln_i32x4_extend_low_i16x8_s, kiln_i32x4_extend_low_i16x8_u,
            kiln_i32x4_neg, kiln_i32x4_trunc_sat_f32x4_s, kiln_i32x4_trunc_sat_f32x4_u,
            kiln_i32x4_trunc_sat_f64x2_s_zero, kiln_i32x4_trunc_sat_f64x2_u_zero, kiln_i64x2_abs,
            kiln_i64x2_extend_high_i32x4_s, kiln_i64x2_extend_high_i32x4_u, kiln_i64x2_extend_low_i32x4_s,
            kiln_i64x2_extend_low_i32x4_u, kiln_i64x2_neg, kiln_i8x16_abs, kiln_i8x16_neg,
            kiln_i8x16_popcnt, kiln_v128_not
    }

    /// `void h(kiln_value *d, const kiln_value *a, const kiln_value *b)`.
    enum V128Binary: String, CaseIterable {
        case kiln_f32x4_add, kiln_f32x4_div, kiln_f32x4_eq, kiln_f32x4_ge, kiln_f32x4_gt, kiln_f32x4_le,
            kiln_f32x4_lt, kiln_f32x4_max, kiln_f32x4_min, kiln_f32x4_mul, kiln_f32x4_ne, kiln_f32x4_pmax,
            kiln_f32x4_pmin, kiln_f32x4_sub, kiln_f64x2_add, kiln_f64x2_div, kiln_f64x2_eq, kiln_f64x2_ge,
            kiln_f64x2_gt, kiln_f64x2_le, kiln_f64x2_lt, kiln_f64x2_max, kiln_f64x2_min, kiln_f64x2_mul,
            kiln_f64x2_ne, kiln_f64x2_pmax, kiln_f64x2_pmin, kiln_f64x2_sub, kiln_i16x8_add,
            kiln_i16x8_add_sat_s, kiln_i16x8_add_sat_u, kiln_i16x8_avgr_u, kiln_i16x8_eq,
            kiln_i16x8_extmul_high_i8x16_s, kiln_i16x8_extmul_high_i8x16_u, kiln_i16x8_extmul_low_i8x16_s,
            kiln_i16x8_extmul_low_i8x16_u, kiln_i16x8_ge_s, kiln_i16x8_ge_u, kiln_i16x8_gt_s,
            kiln_i16x8_gt_u, kiln_i16x8_le_s, kiln_i16x8_le_u, kiln_i16x8_lt_s, kiln_i16x8_lt_u,
            kiln_i16x8_max_s, kiln_i16x8_max_u, kiln_i16x8_min_s, kiln_i16x8_min_u, kiln_i16x8_mul,
            kiln_i16x8_narrow_i32x4_s, kiln_i16x8_narrow_i32x4_u, kiln_i16x8_ne, kiln_i16x8_q15_mulr_sat_s,
            kiln_i16x8_sub, kiln_i16x8_sub_sat_s, kiln_i16x8_sub_sat_u, kiln_i32x4_add,
            kiln_i32x4_dot_i16x8_s, kiln_i32x4_eq, kiln_i32x4_extmul_high_i16x8_s,
            kiln_i32x4_extmul_high_i16x8_u, kiln_i32x4_extmul_low_i16x8_s, kiln_i32x4_extmul_low_i16x8_u,
            kiln_i32x4_ge_s, kiln_i32x4_ge_u, kiln_i32x4_gt_s, kiln_i32x4_gt_u, kiln_i32x4_le_s,
            kiln_i32x4_le_u, kiln_i32x4_lt_s, kiln_i32x4_lt_u, kiln_i32x4_max_s, kiln_i32x4_max_u,
            kiln_i32x4_min_s, kiln_i32x4_min_u, kiln_i32x4_mul, kiln_i32x4_ne, kiln_i32x4_sub,
            kiln_i64x2_add, kiln_i64x2_eq, kiln_i64x2_extmul_high_i32x4_s, kiln_i64x2_extmul_high_i32x4_u,
            kiln_i64x2_extmul_low_i32x4_s, kiln_i64x2_extmul_low_i32x4_u, kiln_i64x2_ge_s, kiln_i64x2_gt_s,
            kiln_i64x2_le_s, kiln_i64x2_lt_s, kiln_i64x2_mul, kiln_i64x2_ne, kiln_i64x2_sub, kiln_i8x16_add,
            kiln_i8x16_add_sat_s, kiln_i8x16_add_sat_u, kiln_i8x16_avgr_u, kiln_i8x16_eq, kiln_i8x16_ge_s,
            kiln_i8x16_ge_u, kiln_i8x16_gt_s, kiln_i8x16_gt_u, kiln_i8x16_le_s, kiln_i8x16_le_u,
            kiln_i8x16_lt_s, kiln_i8x16_lt_u, kiln_i8x16_max_s, kiln_i8x16_max_u, kiln_i8x16_min_s,
            kiln_i8x16_min_u, kiln_i8x16_narrow_i16x8_s, kiln_i8x16_narrow_i16x8_u, kiln_i8x16_ne,
            kiln_i8x16_sub, kiln_i8x16_sub_sat_s, kiln_i8x16_sub_sat_u, kiln_i8x16_swizzle, kiln_v128_and,
            kiln_v128_andnot, kiln_v128_or, kiln_v128_xor, kiln_i16x8_relaxed_dot_i8x16_i7x16_s
    }

    /// `void h(kiln_value *d, const kiln_value *a, const kiln_value *b, const kiln_value *c)`.
    enum V128Ternary: String, CaseIterable {
        case kiln_v128_bitselect, kiln_f32x4_relaxed_madd, kiln_f32x4_relaxed_nmadd,
            kiln_f64x2_relaxed_madd, kiln_f64x2_relaxed_nmadd, kiln_i32x4_relaxed_dot_i8x16_i7x16_add_s
    }

    /// `u32 h(const kiln_value *a)`.
    enum V128Test: String, CaseIterable {
        case kiln_i16x8_all_true, kiln_i16x8_bitmask, kiln_i32x4_all_true, kiln_i32x4_bitmask,
            kiln_i64x2_all_true, kiln_i64x2_bitmask, kiln_i8x16_all_true, kiln_i8x16_bitmask,
            kiln_v128_any_true
    }

    /// `void h(kiln_value *d, const kiln_value *a, u32 count)`.
    enum V128Shift: String, CaseIterable {
        case kiln_i16x8_shl, kiln_i16x8_shr_s, kiln_i16x8_shr_u, kiln_i32x4_shl, kiln_i32x4_shr_s,
            kiln_i32x4_shr_u, kiln_i64x2_shl, kiln_i64x2_shr_s, kiln_i64x2_shr_u, kiln_i8x16_shl,
            kiln_i8x16_shr_s, kiln_i8x16_shr_u
    }

    /// `void h(kiln_value *d, const u8 *p)`.
    enum V128Load: String, CaseIterable {
        case kiln_v128_load8x8_s, kiln_v128_load8x8_u, kiln_v128_load16x4_s, kiln_v128_load16x4_u,
            kiln_v128_load32x2_s, kiln_v128_load32x2_u, kiln_v128_load8_splat, kiln_v128_load16_splat,
            kiln_v128_load32_splat, kiln_v128_load64_splat, kiln_v128_load32_zero, kiln_v128_load64_zero
    }

    /// `void h(kiln_value *d, T x)`, T the scalar's C type.
    enum V128Splat: String, CaseIterable {
        case kiln_i8x16_splat, kiln_i16x8_splat, kiln_i32x4_splat, kiln_i64x2_splat, kiln_f32x4_splat,
            kiln_f64x2_splat
    }

    /// Helpers of their own signature.
    enum V128Other: String, CaseIterable {
        case kiln_i8x16_shuffle, kiln_v128_store
    }

    var name: String {
        switch self {
        case .numeric(let helper): helper.rawValue
        case .trapping(let helper): helper.rawValue
        case .unary(let helper): helper.rawValue
        case .binary(let helper): helper.rawValue
        case .ternary(let helper): helper.rawValue
        case .test(let helper): helper.rawValue
        case .shift(let helper): helper.rawValue
        case .load(let helper): helper.rawValue
        case .splat(let helper): helper.rawValue
        case .other(let helper): helper.rawValue
        }
    }

    /// Every helper, for the tests that check the C side against this list.
    static var all: [RuntimeHelper] {
        Numeric.allCases.map(RuntimeHelper.numeric) + Trapping.allCases.map(RuntimeHelper.trapping)
            + V128Unary.allCases.map(RuntimeHelper.unary) + V128Binary.allCases.map(RuntimeHelper.binary)
            + V128Ternary.allCases.map(RuntimeHelper.ternary) + V128Test.allCases.map(RuntimeHelper.test)
            + V128Shift.allCases.map(RuntimeHelper.shift) + V128Load.allCases.map(RuntimeHelper.load)
            + V128Splat.allCases.map(RuntimeHelper.splat) + V128Other.allCases.map(RuntimeHelper.other)
    }

    /// The C declaration a module repeats for TCC, which sees only the prelude's typedefs of the
    /// SIMD helpers (nil for the scalar ones, which the prelude declares).
    var declaration: String? {
        switch self {
        case .numeric, .trapping: nil
        case .unary(let helper): "kiln_v128_unary \(helper.rawValue);"
        case .binary(let helper): "kiln_v128_binary \(helper.rawValue);"
        case .ternary(let helper): "kiln_v128_ternary \(helper.rawValue);"
        case .test(let helper): "kiln_v128_test \(helper.rawValue);"
        case .shift(let helper): "kiln_v128_shift \(helper.rawValue);"
        case .load(let helper): "kiln_v128_load \(helper.rawValue);"
        case .splat(let helper): "void \(helper.rawValue)(kiln_value *d, \(CSyntax.type(helper.scalar)) x);"
        case .other(.kiln_i8x16_shuffle):
            "void kiln_i8x16_shuffle(kiln_value *d, const kiln_value *a, const kiln_value *b, u64 low, u64 high);"
        case .other(.kiln_v128_store): "void kiln_v128_store(u8 *p, const kiln_value *v);"
        }
    }
}

extension RuntimeHelper.V128Splat {
    /// The Wasm type of the scalar a splat takes.
    var scalar: ValueType {
        switch self {
        case .kiln_i8x16_splat, .kiln_i16x8_splat, .kiln_i32x4_splat: .i32
        case .kiln_i64x2_splat: .i64
        case .kiln_f32x4_splat: .f32
        case .kiln_f64x2_splat: .f64
        }
    }
}
