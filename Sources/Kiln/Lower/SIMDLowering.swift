import WasmParser
import WasmTypes

/// WebAssembly 2.0 SIMD. A v128 is a `kiln_value` (a 16-byte union with lane views `u8x16`,
/// `i16x8`, `u32x4`, `f64x2`, ...) held in C locals and slots like any other value. Lane reads
/// and writes are plain C; every other operation is a call to a helper in `runtime-c/src/simd.c`
/// that takes the operands and the destination by pointer (TCC and clang pass 16-byte unions in
/// different registers, so a v128 never crosses into clang code by value). Such a call is a
/// statement writing the result slot; its operands are locals or slots (anything else is
/// evaluated into its slot first), and helpers read all operands before writing, so the
/// destination may be one of them.
extension FunctionLowering {
    static func isV128(_ load: Instruction.Load) -> Bool {
        switch load {
        case .v128Load, .v128Load8X8S, .v128Load8X8U, .v128Load16X4S, .v128Load16X4U, .v128Load32X2S,
            .v128Load32X2U, .v128Load8Splat, .v128Load16Splat, .v128Load32Splat, .v128Load64Splat,
            .v128Load32Zero, .v128Load64Zero:
            return true
        default:
            return false
        }
    }

    /// `v128.load` is an expression, like the scalar loads (a fault past the end traps); the
    /// others are helper calls on the address.
    mutating func lowerV128Load(_ load: Instruction.Load, _ memarg: MemArg) {
        let (access, address) = popAccess(memarg)
        let helper: RuntimeHelper.V128Load
        switch load {
        case .v128Load:
            push(.v128, loadNode(access, "kiln_value"), readsState: true, address)
            return
        case .v128Load8X8S: helper = .kiln_v128_load8x8_s
        case .v128Load8X8U: helper = .kiln_v128_load8x8_u
        case .v128Load16X4S: helper = .kiln_v128_load16x4_s
        case .v128Load16X4U: helper = .kiln_v128_load16x4_u
        case .v128Load32X2S: helper = .kiln_v128_load32x2_s
        case .v128Load32X2U: helper = .kiln_v128_load32x2_u
        case .v128Load8Splat: helper = .kiln_v128_load8_splat
        case .v128Load16Splat: helper = .kiln_v128_load16_splat
        case .v128Load32Splat: helper = .kiln_v128_load32_splat
        case .v128Load64Splat: helper = .kiln_v128_load64_splat
        case .v128Load32Zero: helper = .kiln_v128_load32_zero
        default: helper = .kiln_v128_load64_zero
        }
        let name = use(.load(helper))
        let result = v128Result()
        emit("\(name)(&\(result), \(pointer(access)));")
        pushSlot(.v128)
    }

    /// The helper's name, its declaration noted for the module.
    mutating func use(_ helper: RuntimeHelper) -> String {
        if let declaration = helper.declaration { helperDeclarations.insert(declaration) }
        return helper.name
    }

    /// One 16-byte store by a helper: two 8-byte stores would write half of a store that traps.
    mutating func lowerV128Store(_ memarg: MemArg) {
        let value = popV128(1)[0]
        let (access, _) = popAccess(memarg)
        flushState()
        emit("\(use(.other(.kiln_v128_store)))(\(pointer(access)), &\(expression(value)));")
    }

    mutating func lowerSIMD(_ instruction: Instruction) throws(Unsupported) {
        switch instruction {
        case .v128Const(let value):
            push(v128Constant(value.bytes))
        case .i8x16Shuffle(let mask):
            let operands = popV128(2)
            let result = v128Result()
            let low = Self.littleEndian(mask.lanes[0..<8]), high = Self.littleEndian(mask.lanes[8..<16])
            emit("\(use(.other(.kiln_i8x16_shuffle)))(&\(result), &\(expression(operands[0])), &\(expression(operands[1])), \(CSyntax.i64(low)), \(CSyntax.i64(high)));")
            pushSlot(.v128)
        case .simd(let op):
            try lowerSIMD(op)
        case .simdLane(let op, let lane):
            lowerLane(op, lane: Int(lane))
        case .simdMemLane(let op, let memarg, let lane):
            lowerMemLane(op, memarg, lane: Int(lane))
        default:
            throw Unsupported(reason: "instruction \(instruction)")
        }
    }

    // MARK: - Operands and results

    /// Pops the top `count` v128 operands as locals or slots, whose address C can take.
    /// Compound expressions are evaluated into their slots first, in stack order.
    mutating func popV128(_ count: Int) -> [Operand] {
        let base = stack.count - count
        for index in base..<stack.count where !isSimple(stack[index]) { materialize(index) }
        let operands = Array(stack[base...])
        stack.removeLast(count)
        return operands
    }

    /// The slot that a v128-producing statement writes: the one at the top.
    mutating func v128Result() -> String {
        let result = resultSlot(.v128)
        return arena.text(result)
    }

    /// A v128 constant: a `static const` of the function, named by its value, so that it costs
    /// nothing at run time and helpers take its address directly.
    mutating func v128Constant(_ bytes: [UInt8]) -> Operand {
        let low = Self.littleEndian(bytes[0..<8]), high = Self.littleEndian(bytes[8..<16])
        let name = CSyntax.v128Constant(low: low, high: high)
        if v128ConstantsUsed.insert(name).inserted {
            slotDeclarations.append("static const kiln_value \(name) = {.u64x2 = {\(CSyntax.i64(low)), \(CSyntax.i64(high))}};")
        }
        return operand(.v128, .v128(low: low, high: high))
    }

    static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        for (offset, byte) in bytes.enumerated() { value |= UInt64(byte) << (8 * UInt64(offset)) }
        return value
    }

    // MARK: - Lanes

    /// A lane's field, its scalar type, the cast that reads it and the one that writes it.
    private static func laneAccess(_ op: Instruction.SimdLane) -> (field: StaticString, type: ValueType, read: StaticString, write: String) {
        switch op {
        case .i8x16ExtractLaneS: ("i8x16", .i32, "(u32)(s32)", "")
        case .i8x16ExtractLaneU: ("u8x16", .i32, "(u32)", "")
        case .i8x16ReplaceLane: ("u8x16", .i32, "", "(u8)")
        case .i16x8ExtractLaneS: ("i16x8", .i32, "(u32)(s32)", "")
        case .i16x8ExtractLaneU: ("u16x8", .i32, "(u32)", "")
        case .i16x8ReplaceLane: ("u16x8", .i32, "", "(u16)")
        case .i32x4ExtractLane, .i32x4ReplaceLane: ("u32x4", .i32, "", "")
        case .i64x2ExtractLane, .i64x2ReplaceLane: ("u64x2", .i64, "", "")
        case .f32x4ExtractLane, .f32x4ReplaceLane: ("f32x4", .f32, "", "")
        case .f64x2ExtractLane, .f64x2ReplaceLane: ("f64x2", .f64, "", "")
        }
    }

    private mutating func lowerLane(_ op: Instruction.SimdLane, lane: Int) {
        let access = Self.laneAccess(op)
        switch op {
        case .i8x16ReplaceLane, .i16x8ReplaceLane, .i32x4ReplaceLane, .i64x2ReplaceLane, .f32x4ReplaceLane, .f64x2ReplaceLane:
            // The scalar sits above the vector, so it reads no slot at or below the result's.
            let scalar = pop()
            let vector = popV128(1)[0]
            let result = v128Result()
            let source = expression(vector)
            if source != result { emit("\(result) = \(source);") }
            emit("\(result).\(access.field)[\(lane)] = \(access.write)(\(expression(scalar)));")
            pushSlot(.v128)
        default:
            let vector = popV128(1)[0]
            push(access.type, .lane(read: access.read, vector.expr, field: access.field, lane: UInt8(lane)), vector)
        }
    }

    private mutating func lowerMemLane(_ op: Instruction.SimdMemLane, _ memarg: MemArg, lane: Int) {
        let (cType, field): (String, String) =
            switch op {
            case .v128Load8Lane, .v128Store8Lane: ("u8", "u8x16")
            case .v128Load16Lane, .v128Store16Lane: ("u16", "u16x8")
            case .v128Load32Lane, .v128Store32Lane: ("u32", "u32x4")
            case .v128Load64Lane, .v128Store64Lane: ("u64", "u64x2")
            }
        let vector = popV128(1)[0]
        let (access, _) = popAccess(memarg)
        switch op {
        case .v128Load8Lane, .v128Load16Lane, .v128Load32Lane, .v128Load64Lane:
            // The address may read the result's slot (an extracted lane): load before writing it.
            let result = v128Result()
            emit("{ \(cType) lane = \(loadText(access, cType)); \(result) = \(expression(vector)); \(result).\(field)[\(lane)] = lane; }")
            pushSlot(.v128)
        case .v128Store8Lane, .v128Store16Lane, .v128Store32Lane, .v128Store64Lane:
            flushState()
            emit(storeText(access, cType, "\(expression(vector)).\(field)[\(lane)]") + ";")
        }
    }

    // MARK: - Vector operations

    private mutating func lowerSIMD(_ op: Instruction.Simd) throws(Unsupported) {
        guard let helper = Self.helper(op) else { throw Unsupported(reason: "relaxed SIMD (\(op))") }
        let name = use(helper)
        switch helper {
        case .unary, .binary, .ternary:
            let count = switch helper { case .unary: 1; case .binary: 2; default: 3 }
            let operands = popV128(count)
            let result = v128Result()
            emit("\(name)(&\(result), \(operands.map { "&" + expression($0) }.joined(separator: ", ")));")
            pushSlot(.v128)
        case .test:
            let vector = popV128(1)[0]
            push(.i32, .test(helper, vector.expr), vector)
        case .shift:
            let count = pop()
            let vector = popV128(1)[0]
            let result = v128Result()
            emit("\(name)(&\(result), &\(expression(vector)), \(expression(count)));")
            pushSlot(.v128)
        case .splat:
            let scalar = pop()
            let result = v128Result()
            emit("\(name)(&\(result), \(expression(scalar)));")
            pushSlot(.v128)
        case .numeric, .trapping, .load, .other:
            throw Unsupported(reason: "\(name) is no vector operation's helper")
        }
    }

    /// The simd.c helper of each vector operation. Relaxed SIMD (Wasm 3.0) operations give one
    /// of the results the spec allows, always the same (README, "SIMD notes"): most are their
    /// Wasm 2.0 counterpart's, the others have helpers of their own.
    static func helper(_ op: Instruction.Simd) -> RuntimeHelper? {
        switch op {
        case .i8x16RelaxedSwizzle: .binary(.kiln_i8x16_swizzle)
        case .i32x4RelaxedTruncF32X4S: .unary(.kiln_i32x4_trunc_sat_f32x4_s)
        case .i32x4RelaxedTruncF32X4U: .unary(.kiln_i32x4_trunc_sat_f32x4_u)
        case .i32x4RelaxedTruncF64X2SZero: .unary(.kiln_i32x4_trunc_sat_f64x2_s_zero)
        case .i32x4RelaxedTruncF64X2UZero: .unary(.kiln_i32x4_trunc_sat_f64x2_u_zero)
        case .f32x4RelaxedMadd: .ternary(.kiln_f32x4_relaxed_madd)
        case .f32x4RelaxedNmadd: .ternary(.kiln_f32x4_relaxed_nmadd)
        case .f64x2RelaxedMadd: .ternary(.kiln_f64x2_relaxed_madd)
        case .f64x2RelaxedNmadd: .ternary(.kiln_f64x2_relaxed_nmadd)
        case .i8x16RelaxedLaneselect, .i16x8RelaxedLaneselect, .i32x4RelaxedLaneselect, .i64x2RelaxedLaneselect:
            .ternary(.kiln_v128_bitselect)
        case .f32x4RelaxedMin: .binary(.kiln_f32x4_min)
        case .f32x4RelaxedMax: .binary(.kiln_f32x4_max)
        case .f64x2RelaxedMin: .binary(.kiln_f64x2_min)
        case .f64x2RelaxedMax: .binary(.kiln_f64x2_max)
        case .i16x8RelaxedQ15MulrS: .binary(.kiln_i16x8_q15_mulr_sat_s)
        case .i16x8RelaxedDotI8X16I7X16S: .binary(.kiln_i16x8_relaxed_dot_i8x16_i7x16_s)
        case .i32x4RelaxedDotI8X16I7X16AddS: .ternary(.kiln_i32x4_relaxed_dot_i8x16_i7x16_add_s)
        case .i8x16Swizzle: .binary(.kiln_i8x16_swizzle)
        case .i8x16Eq: .binary(.kiln_i8x16_eq)
        case .i8x16Ne: .binary(.kiln_i8x16_ne)
        case .i8x16LtS: .binary(.kiln_i8x16_lt_s)
        case .i8x16LtU: .binary(.kiln_i8x16_lt_u)
        case .i8x16GtS: .binary(.kiln_i8x16_gt_s)
        case .i8x16GtU: .binary(.kiln_i8x16_gt_u)
        case .i8x16LeS: .binary(.kiln_i8x16_le_s)
        case .i8x16LeU: .binary(.kiln_i8x16_le_u)
        case .i8x16GeS: .binary(.kiln_i8x16_ge_s)
        case .i8x16GeU: .binary(.kiln_i8x16_ge_u)
        case .i16x8Eq: .binary(.kiln_i16x8_eq)
        case .i16x8Ne: .binary(.kiln_i16x8_ne)
        case .i16x8LtS: .binary(.kiln_i16x8_lt_s)
        case .i16x8LtU: .binary(.kiln_i16x8_lt_u)
        case .i16x8GtS: .binary(.kiln_i16x8_gt_s)
        case .i16x8GtU: .binary(.kiln_i16x8_gt_u)
        case .i16x8LeS: .binary(.kiln_i16x8_le_s)
        case .i16x8LeU: .binary(.kiln_i16x8_le_u)
        case .i16x8GeS: .binary(.kiln_i16x8_ge_s)
        case .i16x8GeU: .binary(.kiln_i16x8_ge_u)
        case .i32x4Eq: .binary(.kiln_i32x4_eq)
        case .i32x4Ne: .binary(.kiln_i32x4_ne)
        case .i32x4LtS: .binary(.kiln_i32x4_lt_s)
        case .i32x4LtU: .binary(.kiln_i32x4_lt_u)
        case .i32x4GtS: .binary(.kiln_i32x4_gt_s)
        case .i32x4GtU: .binary(.kiln_i32x4_gt_u)
        case .i32x4LeS: .binary(.kiln_i32x4_le_s)
        case .i32x4LeU: .binary(.kiln_i32x4_le_u)
        case .i32x4GeS: .binary(.kiln_i32x4_ge_s)
        case .i32x4GeU: .binary(.kiln_i32x4_ge_u)
        case .f32x4Eq: .binary(.kiln_f32x4_eq)
        case .f32x4Ne: .binary(.kiln_f32x4_ne)
        case .f32x4Lt: .binary(.kiln_f32x4_lt)
        case .f32x4Gt: .binary(.kiln_f32x4_gt)
        case .f32x4Le: .binary(.kiln_f32x4_le)
        case .f32x4Ge: .binary(.kiln_f32x4_ge)
        case .f64x2Eq: .binary(.kiln_f64x2_eq)
        case .f64x2Ne: .binary(.kiln_f64x2_ne)
        case .f64x2Lt: .binary(.kiln_f64x2_lt)
        case .f64x2Gt: .binary(.kiln_f64x2_gt)
        case .f64x2Le: .binary(.kiln_f64x2_le)
        case .f64x2Ge: .binary(.kiln_f64x2_ge)
        case .v128And: .binary(.kiln_v128_and)
        case .v128Andnot: .binary(.kiln_v128_andnot)
        case .v128Or: .binary(.kiln_v128_or)
        case .v128Xor: .binary(.kiln_v128_xor)
        case .i8x16NarrowI16X8S: .binary(.kiln_i8x16_narrow_i16x8_s)
        case .i8x16NarrowI16X8U: .binary(.kiln_i8x16_narrow_i16x8_u)
        case .i8x16Add: .binary(.kiln_i8x16_add)
        case .i8x16AddSatS: .binary(.kiln_i8x16_add_sat_s)
        case .i8x16AddSatU: .binary(.kiln_i8x16_add_sat_u)
        case .i8x16Sub: .binary(.kiln_i8x16_sub)
        case .i8x16SubSatS: .binary(.kiln_i8x16_sub_sat_s)
        case .i8x16SubSatU: .binary(.kiln_i8x16_sub_sat_u)
        case .i8x16MinS: .binary(.kiln_i8x16_min_s)
        case .i8x16MinU: .binary(.kiln_i8x16_min_u)
        case .i8x16MaxS: .binary(.kiln_i8x16_max_s)
        case .i8x16MaxU: .binary(.kiln_i8x16_max_u)
        case .i8x16AvgrU: .binary(.kiln_i8x16_avgr_u)
        case .i16x8NarrowI32X4S: .binary(.kiln_i16x8_narrow_i32x4_s)
        case .i16x8NarrowI32X4U: .binary(.kiln_i16x8_narrow_i32x4_u)
        case .i16x8Add: .binary(.kiln_i16x8_add)
        case .i16x8AddSatS: .binary(.kiln_i16x8_add_sat_s)
        case .i16x8AddSatU: .binary(.kiln_i16x8_add_sat_u)
        case .i16x8Sub: .binary(.kiln_i16x8_sub)
        case .i16x8SubSatS: .binary(.kiln_i16x8_sub_sat_s)
        case .i16x8SubSatU: .binary(.kiln_i16x8_sub_sat_u)
        case .i16x8Mul: .binary(.kiln_i16x8_mul)
        case .i16x8MinS: .binary(.kiln_i16x8_min_s)
        case .i16x8MinU: .binary(.kiln_i16x8_min_u)
        case .i16x8MaxS: .binary(.kiln_i16x8_max_s)
        case .i16x8MaxU: .binary(.kiln_i16x8_max_u)
        case .i16x8AvgrU: .binary(.kiln_i16x8_avgr_u)
        case .i32x4Add: .binary(.kiln_i32x4_add)
        case .i32x4Sub: .binary(.kiln_i32x4_sub)
        case .i32x4Mul: .binary(.kiln_i32x4_mul)
        case .i32x4MinS: .binary(.kiln_i32x4_min_s)
        case .i32x4MinU: .binary(.kiln_i32x4_min_u)
        case .i32x4MaxS: .binary(.kiln_i32x4_max_s)
        case .i32x4MaxU: .binary(.kiln_i32x4_max_u)
        case .i32x4DotI16X8S: .binary(.kiln_i32x4_dot_i16x8_s)
        case .i64x2Add: .binary(.kiln_i64x2_add)
        case .i64x2Sub: .binary(.kiln_i64x2_sub)
        case .i64x2Mul: .binary(.kiln_i64x2_mul)
        case .f32x4Add: .binary(.kiln_f32x4_add)
        case .f32x4Sub: .binary(.kiln_f32x4_sub)
        case .f32x4Mul: .binary(.kiln_f32x4_mul)
        case .f32x4Div: .binary(.kiln_f32x4_div)
        case .f32x4Min: .binary(.kiln_f32x4_min)
        case .f32x4Max: .binary(.kiln_f32x4_max)
        case .f32x4Pmin: .binary(.kiln_f32x4_pmin)
        case .f32x4Pmax: .binary(.kiln_f32x4_pmax)
        case .f64x2Add: .binary(.kiln_f64x2_add)
        case .f64x2Sub: .binary(.kiln_f64x2_sub)
        case .f64x2Mul: .binary(.kiln_f64x2_mul)
        case .f64x2Div: .binary(.kiln_f64x2_div)
        case .f64x2Min: .binary(.kiln_f64x2_min)
        case .f64x2Max: .binary(.kiln_f64x2_max)
        case .f64x2Pmin: .binary(.kiln_f64x2_pmin)
        case .f64x2Pmax: .binary(.kiln_f64x2_pmax)
        case .i16x8ExtmulLowI8X16S: .binary(.kiln_i16x8_extmul_low_i8x16_s)
        case .i16x8ExtmulHighI8X16S: .binary(.kiln_i16x8_extmul_high_i8x16_s)
        case .i16x8ExtmulLowI8X16U: .binary(.kiln_i16x8_extmul_low_i8x16_u)
        case .i16x8ExtmulHighI8X16U: .binary(.kiln_i16x8_extmul_high_i8x16_u)
        case .i32x4ExtmulLowI16X8S: .binary(.kiln_i32x4_extmul_low_i16x8_s)
        case .i32x4ExtmulHighI16X8S: .binary(.kiln_i32x4_extmul_high_i16x8_s)
        case .i32x4ExtmulLowI16X8U: .binary(.kiln_i32x4_extmul_low_i16x8_u)
        case .i32x4ExtmulHighI16X8U: .binary(.kiln_i32x4_extmul_high_i16x8_u)
        case .i64x2ExtmulLowI32X4S: .binary(.kiln_i64x2_extmul_low_i32x4_s)
        case .i64x2ExtmulHighI32X4S: .binary(.kiln_i64x2_extmul_high_i32x4_s)
        case .i64x2ExtmulLowI32X4U: .binary(.kiln_i64x2_extmul_low_i32x4_u)
        case .i64x2ExtmulHighI32X4U: .binary(.kiln_i64x2_extmul_high_i32x4_u)
        case .i16x8Q15MulrSatS: .binary(.kiln_i16x8_q15_mulr_sat_s)
        case .i64x2Eq: .binary(.kiln_i64x2_eq)
        case .i64x2Ne: .binary(.kiln_i64x2_ne)
        case .i64x2LtS: .binary(.kiln_i64x2_lt_s)
        case .i64x2GtS: .binary(.kiln_i64x2_gt_s)
        case .i64x2LeS: .binary(.kiln_i64x2_le_s)
        case .i64x2GeS: .binary(.kiln_i64x2_ge_s)
        case .i8x16Splat: .splat(.kiln_i8x16_splat)
        case .i16x8Splat: .splat(.kiln_i16x8_splat)
        case .i32x4Splat: .splat(.kiln_i32x4_splat)
        case .i64x2Splat: .splat(.kiln_i64x2_splat)
        case .f32x4Splat: .splat(.kiln_f32x4_splat)
        case .f64x2Splat: .splat(.kiln_f64x2_splat)
        case .v128Not: .unary(.kiln_v128_not)
        case .i8x16Abs: .unary(.kiln_i8x16_abs)
        case .i8x16Neg: .unary(.kiln_i8x16_neg)
        case .i16x8Abs: .unary(.kiln_i16x8_abs)
        case .i16x8Neg: .unary(.kiln_i16x8_neg)
        case .i16x8ExtendLowI8X16S: .unary(.kiln_i16x8_extend_low_i8x16_s)
        case .i16x8ExtendHighI8X16S: .unary(.kiln_i16x8_extend_high_i8x16_s)
        case .i16x8ExtendLowI8X16U: .unary(.kiln_i16x8_extend_low_i8x16_u)
        case .i16x8ExtendHighI8X16U: .unary(.kiln_i16x8_extend_high_i8x16_u)
        case .i32x4Abs: .unary(.kiln_i32x4_abs)
        case .i32x4Neg: .unary(.kiln_i32x4_neg)
        case .i32x4ExtendLowI16X8S: .unary(.kiln_i32x4_extend_low_i16x8_s)
        case .i32x4ExtendHighI16X8S: .unary(.kiln_i32x4_extend_high_i16x8_s)
        case .i32x4ExtendLowI16X8U: .unary(.kiln_i32x4_extend_low_i16x8_u)
        case .i32x4ExtendHighI16X8U: .unary(.kiln_i32x4_extend_high_i16x8_u)
        case .i64x2Abs: .unary(.kiln_i64x2_abs)
        case .i64x2Neg: .unary(.kiln_i64x2_neg)
        case .i64x2ExtendLowI32X4S: .unary(.kiln_i64x2_extend_low_i32x4_s)
        case .i64x2ExtendHighI32X4S: .unary(.kiln_i64x2_extend_high_i32x4_s)
        case .i64x2ExtendLowI32X4U: .unary(.kiln_i64x2_extend_low_i32x4_u)
        case .i64x2ExtendHighI32X4U: .unary(.kiln_i64x2_extend_high_i32x4_u)
        case .f32x4Ceil: .unary(.kiln_f32x4_ceil)
        case .f32x4Floor: .unary(.kiln_f32x4_floor)
        case .f32x4Trunc: .unary(.kiln_f32x4_trunc)
        case .f32x4Nearest: .unary(.kiln_f32x4_nearest)
        case .f64x2Ceil: .unary(.kiln_f64x2_ceil)
        case .f64x2Floor: .unary(.kiln_f64x2_floor)
        case .f64x2Trunc: .unary(.kiln_f64x2_trunc)
        case .f64x2Nearest: .unary(.kiln_f64x2_nearest)
        case .f32x4Abs: .unary(.kiln_f32x4_abs)
        case .f32x4Neg: .unary(.kiln_f32x4_neg)
        case .f32x4Sqrt: .unary(.kiln_f32x4_sqrt)
        case .f64x2Abs: .unary(.kiln_f64x2_abs)
        case .f64x2Neg: .unary(.kiln_f64x2_neg)
        case .f64x2Sqrt: .unary(.kiln_f64x2_sqrt)
        case .i32x4TruncSatF32X4S: .unary(.kiln_i32x4_trunc_sat_f32x4_s)
        case .i32x4TruncSatF32X4U: .unary(.kiln_i32x4_trunc_sat_f32x4_u)
        case .f32x4ConvertI32X4S: .unary(.kiln_f32x4_convert_i32x4_s)
        case .f32x4ConvertI32X4U: .unary(.kiln_f32x4_convert_i32x4_u)
        case .f64x2ConvertLowI32X4S: .unary(.kiln_f64x2_convert_low_i32x4_s)
        case .f64x2ConvertLowI32X4U: .unary(.kiln_f64x2_convert_low_i32x4_u)
        case .i32x4TruncSatF64X2SZero: .unary(.kiln_i32x4_trunc_sat_f64x2_s_zero)
        case .i32x4TruncSatF64X2UZero: .unary(.kiln_i32x4_trunc_sat_f64x2_u_zero)
        case .f32x4DemoteF64X2Zero: .unary(.kiln_f32x4_demote_f64x2_zero)
        case .f64x2PromoteLowF32X4: .unary(.kiln_f64x2_promote_low_f32x4)
        case .i8x16Popcnt: .unary(.kiln_i8x16_popcnt)
        case .i16x8ExtaddPairwiseI8X16S: .unary(.kiln_i16x8_extadd_pairwise_i8x16_s)
        case .i16x8ExtaddPairwiseI8X16U: .unary(.kiln_i16x8_extadd_pairwise_i8x16_u)
        case .i32x4ExtaddPairwiseI16X8S: .unary(.kiln_i32x4_extadd_pairwise_i16x8_s)
        case .i32x4ExtaddPairwiseI16X8U: .unary(.kiln_i32x4_extadd_pairwise_i16x8_u)
        case .v128Bitselect: .ternary(.kiln_v128_bitselect)
        case .i8x16AllTrue: .test(.kiln_i8x16_all_true)
        case .i8x16Bitmask: .test(.kiln_i8x16_bitmask)
        case .i16x8AllTrue: .test(.kiln_i16x8_all_true)
        case .i16x8Bitmask: .test(.kiln_i16x8_bitmask)
        case .i32x4AllTrue: .test(.kiln_i32x4_all_true)
        case .i32x4Bitmask: .test(.kiln_i32x4_bitmask)
        case .i64x2Bitmask: .test(.kiln_i64x2_bitmask)
        case .v128AnyTrue: .test(.kiln_v128_any_true)
        case .i64x2AllTrue: .test(.kiln_i64x2_all_true)
        case .i8x16Shl: .shift(.kiln_i8x16_shl)
        case .i8x16ShrS: .shift(.kiln_i8x16_shr_s)
        case .i8x16ShrU: .shift(.kiln_i8x16_shr_u)
        case .i16x8Shl: .shift(.kiln_i16x8_shl)
        case .i16x8ShrS: .shift(.kiln_i16x8_shr_s)
        case .i16x8ShrU: .shift(.kiln_i16x8_shr_u)
        case .i32x4Shl: .shift(.kiln_i32x4_shl)
        case .i32x4ShrS: .shift(.kiln_i32x4_shr_s)
        case .i32x4ShrU: .shift(.kiln_i32x4_shr_u)
        case .i64x2Shl: .shift(.kiln_i64x2_shl)
        case .i64x2ShrS: .shift(.kiln_i64x2_shr_s)
        case .i64x2ShrU: .shift(.kiln_i64x2_shr_u)
        default: nil
        }
    }
}
