import WasmParser
import WasmTypes

/// Operand and result types of the numeric and vector operators.
extension Validator {
    static func operandType(of op: WasmParser.Instruction.Cmp) -> VType {
        switch op {
        case .i32Eq, .i32Ne, .i32LtS, .i32LtU, .i32GtS, .i32GtU, .i32LeS, .i32LeU, .i32GeS, .i32GeU:
            return .i32
        case .i64Eq, .i64Ne, .i64LtS, .i64LtU, .i64GtS, .i64GtU, .i64LeS, .i64LeU, .i64GeS, .i64GeU:
            return .i64
        case .f32Eq, .f32Ne, .f32Lt, .f32Gt, .f32Le, .f32Ge:
            return .f32
        case .f64Eq, .f64Ne, .f64Lt, .f64Gt, .f64Le, .f64Ge:
            return .f64
        }
    }

    static func operandType(of op: WasmParser.Instruction.Unary) -> VType {
        switch op {
        case .i32Clz, .i32Ctz, .i32Popcnt, .i32Extend8S, .i32Extend16S:
            return .i32
        case .i64Clz, .i64Ctz, .i64Popcnt, .i64Extend8S, .i64Extend16S, .i64Extend32S:
            return .i64
        case .f32Abs, .f32Neg, .f32Ceil, .f32Floor, .f32Trunc, .f32Nearest, .f32Sqrt:
            return .f32
        case .f64Abs, .f64Neg, .f64Ceil, .f64Floor, .f64Trunc, .f64Nearest, .f64Sqrt:
            return .f64
        }
    }

    static func operandType(of op: WasmParser.Instruction.Binary) -> VType {
        switch op {
        case .i32Add, .i32Sub, .i32Mul, .i32DivS, .i32DivU, .i32RemS, .i32RemU, .i32And, .i32Or, .i32Xor,
            .i32Shl, .i32ShrS, .i32ShrU, .i32Rotl, .i32Rotr:
            return .i32
        case .i64Add, .i64Sub, .i64Mul, .i64DivS, .i64DivU, .i64RemS, .i64RemU, .i64And, .i64Or, .i64Xor,
            .i64Shl, .i64ShrS, .i64ShrU, .i64Rotl, .i64Rotr:
            return .i64
        case .f32Add, .f32Sub, .f32Mul, .f32Div, .f32Min, .f32Max, .f32Copysign:
            return .f32
        case .f64Add, .f64Sub, .f64Mul, .f64Div, .f64Min, .f64Max, .f64Copysign:
            return .f64
        }
    }

    /// (operand, result)
    static func operandTypes(of op: WasmParser.Instruction.Conversion) -> (VType, VType) {
        switch op {
        case .i32WrapI64: return (.i64, .i32)
        case .i32TruncF32S, .i32TruncF32U, .i32TruncSatF32S, .i32TruncSatF32U, .i32ReinterpretF32: return (.f32, .i32)
        case .i32TruncF64S, .i32TruncF64U, .i32TruncSatF64S, .i32TruncSatF64U: return (.f64, .i32)
        case .i64ExtendI32S, .i64ExtendI32U: return (.i32, .i64)
        case .i64TruncF32S, .i64TruncF32U, .i64TruncSatF32S, .i64TruncSatF32U: return (.f32, .i64)
        case .i64TruncF64S, .i64TruncF64U, .i64TruncSatF64S, .i64TruncSatF64U, .i64ReinterpretF64: return (.f64, .i64)
        case .f32ConvertI32S, .f32ConvertI32U, .f32ReinterpretI32: return (.i32, .f32)
        case .f32ConvertI64S, .f32ConvertI64U: return (.i64, .f32)
        case .f32DemoteF64: return (.f64, .f32)
        case .f64ConvertI32S, .f64ConvertI32U: return (.i32, .f64)
        case .f64ConvertI64S, .f64ConvertI64U, .f64ReinterpretI64: return (.i64, .f64)
        case .f64PromoteF32: return (.f32, .f64)
        }
    }

    enum SimdShape {
        /// [v128] -> [v128]
        case unary
        /// [v128 v128] -> [v128]
        case binary
        /// [v128 v128 v128] -> [v128]
        case ternary
        /// [v128] -> [i32]
        case test
        /// [v128 i32] -> [v128]
        case shift
        /// [t] -> [v128]
        case splat(VType)
    }

    static func shape(of op: WasmParser.Instruction.Simd) -> SimdShape {
        switch op {
        case .i8x16Splat, .i16x8Splat, .i32x4Splat: return .splat(.i32)
        case .i64x2Splat: return .splat(.i64)
        case .f32x4Splat: return .splat(.f32)
        case .f64x2Splat: return .splat(.f64)

        case .v128AnyTrue, .i8x16AllTrue, .i16x8AllTrue, .i32x4AllTrue, .i64x2AllTrue,
            .i8x16Bitmask, .i16x8Bitmask, .i32x4Bitmask, .i64x2Bitmask:
            return .test

        case .i8x16Shl, .i8x16ShrS, .i8x16ShrU, .i16x8Shl, .i16x8ShrS, .i16x8ShrU,
            .i32x4Shl, .i32x4ShrS, .i32x4ShrU, .i64x2Shl, .i64x2ShrS, .i64x2ShrU:
            return .shift

        case .v128Bitselect, .f32x4RelaxedMadd, .f32x4RelaxedNmadd, .f64x2RelaxedMadd, .f64x2RelaxedNmadd,
            .i8x16RelaxedLaneselect, .i16x8RelaxedLaneselect, .i32x4RelaxedLaneselect, .i64x2RelaxedLaneselect,
            .i32x4RelaxedDotI8X16I7X16AddS:
            return .ternary

        case .v128Not,
            .i8x16Abs, .i8x16Neg, .i8x16Popcnt,
            .i16x8Abs, .i16x8Neg,
            .i16x8ExtendLowI8X16S, .i16x8ExtendHighI8X16S, .i16x8ExtendLowI8X16U, .i16x8ExtendHighI8X16U,
            .i32x4Abs, .i32x4Neg,
            .i32x4ExtendLowI16X8S, .i32x4ExtendHighI16X8S, .i32x4ExtendLowI16X8U, .i32x4ExtendHighI16X8U,
            .i64x2Abs, .i64x2Neg,
            .i64x2ExtendLowI32X4S, .i64x2ExtendHighI32X4S, .i64x2ExtendLowI32X4U, .i64x2ExtendHighI32X4U,
            .f32x4Ceil, .f32x4Floor, .f32x4Trunc, .f32x4Nearest,
            .f64x2Ceil, .f64x2Floor, .f64x2Trunc, .f64x2Nearest,
            .f32x4Abs, .f32x4Neg, .f32x4Sqrt,
            .f64x2Abs, .f64x2Neg, .f64x2Sqrt,
            .i32x4TruncSatF32X4S, .i32x4TruncSatF32X4U, .f32x4ConvertI32X4S, .f32x4ConvertI32X4U,
            .f64x2ConvertLowI32X4S, .f64x2ConvertLowI32X4U,
            .i32x4TruncSatF64X2SZero, .i32x4TruncSatF64X2UZero,
            .f32x4DemoteF64X2Zero, .f64x2PromoteLowF32X4,
            .i16x8ExtaddPairwiseI8X16S, .i16x8ExtaddPairwiseI8X16U,
            .i32x4ExtaddPairwiseI16X8S, .i32x4ExtaddPairwiseI16X8U,
            .i32x4RelaxedTruncF32X4S, .i32x4RelaxedTruncF32X4U,
            .i32x4RelaxedTruncF64X2SZero, .i32x4RelaxedTruncF64X2UZero:
            return .unary

        case .i8x16Swizzle,
            .i8x16Eq, .i8x16Ne, .i8x16LtS, .i8x16LtU, .i8x16GtS, .i8x16GtU, .i8x16LeS, .i8x16LeU, .i8x16GeS, .i8x16GeU,
            .i16x8Eq, .i16x8Ne, .i16x8LtS, .i16x8LtU, .i16x8GtS, .i16x8GtU, .i16x8LeS, .i16x8LeU, .i16x8GeS, .i16x8GeU,
            .i32x4Eq, .i32x4Ne, .i32x4LtS, .i32x4LtU, .i32x4GtS, .i32x4GtU, .i32x4LeS, .i32x4LeU, .i32x4GeS, .i32x4GeU,
            .i64x2Eq, .i64x2Ne, .i64x2LtS, .i64x2GtS, .i64x2LeS, .i64x2GeS,
            .f32x4Eq, .f32x4Ne, .f32x4Lt, .f32x4Gt, .f32x4Le, .f32x4Ge,
            .f64x2Eq, .f64x2Ne, .f64x2Lt, .f64x2Gt, .f64x2Le, .f64x2Ge,
            .v128And, .v128Andnot, .v128Or, .v128Xor,
            .i8x16NarrowI16X8S, .i8x16NarrowI16X8U,
            .i8x16Add, .i8x16AddSatS, .i8x16AddSatU, .i8x16Sub, .i8x16SubSatS, .i8x16SubSatU,
            .i8x16MinS, .i8x16MinU, .i8x16MaxS, .i8x16MaxU, .i8x16AvgrU,
            .i16x8NarrowI32X4S, .i16x8NarrowI32X4U,
            .i16x8Add, .i16x8AddSatS, .i16x8AddSatU, .i16x8Sub, .i16x8SubSatS, .i16x8SubSatU, .i16x8Mul,
            .i16x8MinS, .i16x8MinU, .i16x8MaxS, .i16x8MaxU, .i16x8AvgrU,
            .i32x4Add, .i32x4Sub, .i32x4Mul, .i32x4MinS, .i32x4MinU, .i32x4MaxS, .i32x4MaxU, .i32x4DotI16X8S,
            .i64x2Add, .i64x2Sub, .i64x2Mul,
            .f32x4Add, .f32x4Sub, .f32x4Mul, .f32x4Div, .f32x4Min, .f32x4Max, .f32x4Pmin, .f32x4Pmax,
            .f64x2Add, .f64x2Sub, .f64x2Mul, .f64x2Div, .f64x2Min, .f64x2Max, .f64x2Pmin, .f64x2Pmax,
            .i16x8ExtmulLowI8X16S, .i16x8ExtmulHighI8X16S, .i16x8ExtmulLowI8X16U, .i16x8ExtmulHighI8X16U,
            .i32x4ExtmulLowI16X8S, .i32x4ExtmulHighI16X8S, .i32x4ExtmulLowI16X8U, .i32x4ExtmulHighI16X8U,
            .i64x2ExtmulLowI32X4S, .i64x2ExtmulHighI32X4S, .i64x2ExtmulLowI32X4U, .i64x2ExtmulHighI32X4U,
            .i16x8Q15MulrSatS,
            .i8x16RelaxedSwizzle, .f32x4RelaxedMin, .f32x4RelaxedMax, .f64x2RelaxedMin, .f64x2RelaxedMax,
            .i16x8RelaxedQ15MulrS, .i16x8RelaxedDotI8X16I7X16S:
            return .binary
        }
    }

    /// (lane scalar type, lane count, whether it is a replace_lane)
    static func laneShape(of op: WasmParser.Instruction.SimdLane) -> (VType, Int, Bool) {
        switch op {
        case .i8x16ExtractLaneS, .i8x16ExtractLaneU: return (.i32, 16, false)
        case .i8x16ReplaceLane: return (.i32, 16, true)
        case .i16x8ExtractLaneS, .i16x8ExtractLaneU: return (.i32, 8, false)
        case .i16x8ReplaceLane: return (.i32, 8, true)
        case .i32x4ExtractLane: return (.i32, 4, false)
        case .i32x4ReplaceLane: return (.i32, 4, true)
        case .i64x2ExtractLane: return (.i64, 2, false)
        case .i64x2ReplaceLane: return (.i64, 2, true)
        case .f32x4ExtractLane: return (.f32, 4, false)
        case .f32x4ReplaceLane: return (.f32, 4, true)
        case .f64x2ExtractLane: return (.f64, 2, false)
        case .f64x2ReplaceLane: return (.f64, 2, true)
        }
    }

    /// (log2 of the lane size in bytes, which is also the natural alignment; whether it is a store)
    static func memLaneShape(of op: WasmParser.Instruction.SimdMemLane) -> (Int, Bool) {
        switch op {
        case .v128Load8Lane: return (0, false)
        case .v128Load16Lane: return (1, false)
        case .v128Load32Lane: return (2, false)
        case .v128Load64Lane: return (3, false)
        case .v128Store8Lane: return (0, true)
        case .v128Store16Lane: return (1, true)
        case .v128Store32Lane: return (2, true)
        case .v128Store64Lane: return (3, true)
        }
    }
}
