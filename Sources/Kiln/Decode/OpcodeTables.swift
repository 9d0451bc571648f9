import WasmParser
import WasmTypes

/// Opcode tables for `InstructionDecoder`: for each opcode without immediates (or with only a
/// memarg or lane), the `Instruction` it means. Listed by opcode as the spec numbers them; the
/// decoder turns each table into a flat array indexed by opcode once.
enum OpcodeTables {
    /// Single-byte Wasm 2.0 operators without immediates, by opcode: numeric, parametric and the
    /// few control operators that take none. (Operators gated by a proposal are decoded apart.)
    static let plain: [Instruction?] = {
        var table = [Instruction?](repeating: nil, count: 256)
        for (opcode, instruction) in [
            (0x00, Instruction.unreachable), (0x01, .nop), (0x05, .else), (0x0B, .end), (0x0F, .return),
            (0x1A, .drop), (0x1B, .select), (0xD1, .refIsNull), (0x45, .i32Eqz), (0x50, .i64Eqz),
        ] { table[opcode] = instruction }
        func fill<T>(_ first: Int, _ cases: [T], _ make: (T) -> Instruction) {
            for (offset, value) in cases.enumerated() { table[first + offset] = make(value) }
        }
        fill(0x46, [.i32Eq, .i32Ne, .i32LtS, .i32LtU, .i32GtS, .i32GtU, .i32LeS, .i32LeU, .i32GeS, .i32GeU] as [Instruction.Cmp], Instruction.cmp)
        fill(0x51, [.i64Eq, .i64Ne, .i64LtS, .i64LtU, .i64GtS, .i64GtU, .i64LeS, .i64LeU, .i64GeS, .i64GeU] as [Instruction.Cmp], Instruction.cmp)
        fill(0x5B, [.f32Eq, .f32Ne, .f32Lt, .f32Gt, .f32Le, .f32Ge, .f64Eq, .f64Ne, .f64Lt, .f64Gt, .f64Le, .f64Ge] as [Instruction.Cmp], Instruction.cmp)
        fill(0x67, [.i32Clz, .i32Ctz, .i32Popcnt] as [Instruction.Unary], Instruction.unary)
        fill(0x6A, [
            .i32Add, .i32Sub, .i32Mul, .i32DivS, .i32DivU, .i32RemS, .i32RemU, .i32And, .i32Or, .i32Xor,
            .i32Shl, .i32ShrS, .i32ShrU, .i32Rotl, .i32Rotr,
        ] as [Instruction.Binary], Instruction.binary)
        fill(0x79, [.i64Clz, .i64Ctz, .i64Popcnt] as [Instruction.Unary], Instruction.unary)
        fill(0x7C, [
            .i64Add, .i64Sub, .i64Mul, .i64DivS, .i64DivU, .i64RemS, .i64RemU, .i64And, .i64Or, .i64Xor,
            .i64Shl, .i64ShrS, .i64ShrU, .i64Rotl, .i64Rotr,
        ] as [Instruction.Binary], Instruction.binary)
        fill(0x8B, [.f32Abs, .f32Neg, .f32Ceil, .f32Floor, .f32Trunc, .f32Nearest, .f32Sqrt] as [Instruction.Unary], Instruction.unary)
        fill(0x92, [.f32Add, .f32Sub, .f32Mul, .f32Div, .f32Min, .f32Max, .f32Copysign] as [Instruction.Binary], Instruction.binary)
        fill(0x99, [.f64Abs, .f64Neg, .f64Ceil, .f64Floor, .f64Trunc, .f64Nearest, .f64Sqrt] as [Instruction.Unary], Instruction.unary)
        fill(0xA0, [.f64Add, .f64Sub, .f64Mul, .f64Div, .f64Min, .f64Max, .f64Copysign] as [Instruction.Binary], Instruction.binary)
        fill(0xA7, [
            .i32WrapI64, .i32TruncF32S, .i32TruncF32U, .i32TruncF64S, .i32TruncF64U, .i64ExtendI32S,
            .i64ExtendI32U, .i64TruncF32S, .i64TruncF32U, .i64TruncF64S, .i64TruncF64U, .f32ConvertI32S,
            .f32ConvertI32U, .f32ConvertI64S, .f32ConvertI64U, .f32DemoteF64, .f64ConvertI32S, .f64ConvertI32U,
            .f64ConvertI64S, .f64ConvertI64U, .f64PromoteF32, .i32ReinterpretF32, .i64ReinterpretF64,
            .f32ReinterpretI32, .f64ReinterpretI64,
        ] as [Instruction.Conversion], Instruction.conversion)
        fill(0xC0, [.i32Extend8S, .i32Extend16S, .i64Extend8S, .i64Extend16S, .i64Extend32S] as [Instruction.Unary], Instruction.unary)
        return table
    }()

    /// Loads and stores 0x28...0x3E (each takes a memarg).
    static let loads: [Instruction.Load] = [
        .i32Load, .i64Load, .f32Load, .f64Load, .i32Load8S, .i32Load8U, .i32Load16S, .i32Load16U,
        .i64Load8S, .i64Load8U, .i64Load16S, .i64Load16U, .i64Load32S, .i64Load32U,
    ]
    static let stores: [Instruction.Store] = [
        .i32Store, .i64Store, .f32Store, .f64Store, .i32Store8, .i32Store16, .i64Store8, .i64Store16, .i64Store32,
    ]

    /// 0xFC 0...7: saturating truncations.
    static let saturatingTruncations: [Instruction.Conversion] = [
        .i32TruncSatF32S, .i32TruncSatF32U, .i32TruncSatF64S, .i32TruncSatF64U,
        .i64TruncSatF32S, .i64TruncSatF32U, .i64TruncSatF64S, .i64TruncSatF64U,
    ]

    /// A dictionary table as a flat array indexed by opcode.
    static func flat<T>(_ table: [UInt32: T]) -> [T?] {
        var array = [T?](repeating: nil, count: Int(table.keys.max() ?? 0) + 1)
        for (opcode, value) in table { array[Int(opcode)] = value }
        return array
    }
    static let simdPlainByOpcode = flat(simdPlain)
    static let simdLoadsByOpcode = flat(simdLoads)
    static let simdLanesByOpcode = flat(simdLanes)
    static let simdMemoryLanesByOpcode = flat(simdMemoryLanes)
    static let atomicLoadsByOpcode = flat(atomicLoads)
    static let atomicStoresByOpcode = flat(atomicStores)
    static let atomicMemoryOperatorsByOpcode = flat(atomicMemoryOperators)

    /// 0xFD operators without immediates.
    static let simdPlain: [UInt32: Instruction.Simd] = [
        0x0E: .i8x16Swizzle, 0x0F: .i8x16Splat, 0x10: .i16x8Splat, 0x11: .i32x4Splat, 0x12: .i64x2Splat,
        0x13: .f32x4Splat, 0x14: .f64x2Splat, 0x23: .i8x16Eq, 0x24: .i8x16Ne, 0x25: .i8x16LtS,
        0x26: .i8x16LtU, 0x27: .i8x16GtS, 0x28: .i8x16GtU, 0x29: .i8x16LeS, 0x2A: .i8x16LeU, 0x2B: .i8x16GeS,
        0x2C: .i8x16GeU, 0x2D: .i16x8Eq, 0x2E: .i16x8Ne, 0x2F: .i16x8LtS, 0x30: .i16x8LtU, 0x31: .i16x8GtS,
        0x32: .i16x8GtU, 0x33: .i16x8LeS, 0x34: .i16x8LeU, 0x35: .i16x8GeS, 0x36: .i16x8GeU, 0x37: .i32x4Eq,
        0x38: .i32x4Ne, 0x39: .i32x4LtS, 0x3A: .i32x4LtU, 0x3B: .i32x4GtS, 0x3C: .i32x4GtU, 0x3D: .i32x4LeS,
        0x3E: .i32x4LeU, 0x3F: .i32x4GeS, 0x40: .i32x4GeU, 0x41: .f32x4Eq, 0x42: .f32x4Ne, 0x43: .f32x4Lt,
        0x44: .f32x4Gt, 0x45: .f32x4Le, 0x46: .f32x4Ge, 0x47: .f64x2Eq, 0x48: .f64x2Ne, 0x49: .f64x2Lt,
        0x4A: .f64x2Gt, 0x4B: .f64x2Le, 0x4C: .f64x2Ge, 0x4D: .v128Not, 0x4E: .v128And, 0x4F: .v128Andnot,
        0x50: .v128Or, 0x51: .v128Xor, 0x52: .v128Bitselect, 0x53: .v128AnyTrue, 0x5E: .f32x4DemoteF64X2Zero,
        0x5F: .f64x2PromoteLowF32X4, 0x60: .i8x16Abs, 0x61: .i8x16Neg, 0x62: .i8x16Popcnt,
        0x63: .i8x16AllTrue, 0x64: .i8x16Bitmask, 0x65: .i8x16NarrowI16X8S, 0x66: .i8x16NarrowI16X8U,
        0x67: .f32x4Ceil, 0x68: .f32x4Floor, 0x69: .f32x4Trunc, 0x6A: .f32x4Nearest, 0x6B: .i8x16Shl,
        0x6C: .i8x16ShrS, 0x6D: .i8x16ShrU, 0x6E: .i8x16Add, 0x6F: .i8x16AddSatS, 0x70: .i8x16AddSatU,
        0x71: .i8x16Sub, 0x72: .i8x16SubSatS, 0x73: .i8x16SubSatU, 0x74: .f64x2Ceil, 0x75: .f64x2Floor,
        0x76: .i8x16MinS, 0x77: .i8x16MinU, 0x78: .i8x16MaxS, 0x79: .i8x16MaxU, 0x7A: .f64x2Trunc,
        0x7B: .i8x16AvgrU, 0x7C: .i16x8ExtaddPairwiseI8X16S, 0x7D: .i16x8ExtaddPairwiseI8X16U,
        0x7E: .i32x4ExtaddPairwiseI16X8S, 0x7F: .i32x4ExtaddPairwiseI16X8U, 0x80: .i16x8Abs, 0x81: .i16x8Neg,
        0x82: .i16x8Q15MulrSatS, 0x83: .i16x8AllTrue, 0x84: .i16x8Bitmask, 0x85: .i16x8NarrowI32X4S,
        0x86: .i16x8NarrowI32X4U, 0x87: .i16x8ExtendLowI8X16S, 0x88: .i16x8ExtendHighI8X16S,
        0x89: .i16x8ExtendLowI8X16U, 0x8A: .i16x8ExtendHighI8X16U, 0x8B: .i16x8Shl, 0x8C: .i16x8ShrS,
        0x8D: .i16x8ShrU, 0x8E: .i16x8Add, 0x8F: .i16x8AddSatS, 0x90: .i16x8AddSatU, 0x91: .i16x8Sub,
        0x92: .i16x8SubSatS, 0x93: .i16x8SubSatU, 0x94: .f64x2Nearest, 0x95: .i16x8Mul, 0x96: .i16x8MinS,
        0x97: .i16x8MinU, 0x98: .i16x8MaxS, 0x99: .i16x8MaxU, 0x9B: .i16x8AvgrU, 0x9C: .i16x8ExtmulLowI8X16S,
        0x9D: .i16x8ExtmulHighI8X16S, 0x9E: .i16x8ExtmulLowI8X16U, 0x9F: .i16x8ExtmulHighI8X16U,
        0xA0: .i32x4Abs, 0xA1: .i32x4Neg, 0xA3: .i32x4AllTrue, 0xA4: .i32x4Bitmask,
        0xA7: .i32x4ExtendLowI16X8S, 0xA8: .i32x4ExtendHighI16X8S, 0xA9: .i32x4ExtendLowI16X8U,
        0xAA: .i32x4ExtendHighI16X8U, 0xAB: .i32x4Shl, 0xAC: .i32x4ShrS, 0xAD: .i32x4ShrU, 0xAE: .i32x4Add,
        0xB1: .i32x4Sub, 0xB5: .i32x4Mul, 0xB6: .i32x4MinS, 0xB7: .i32x4MinU, 0xB8: .i32x4MaxS,
        0xB9: .i32x4MaxU, 0xBA: .i32x4DotI16X8S, 0xBC: .i32x4ExtmulLowI16X8S, 0xBD: .i32x4ExtmulHighI16X8S,
        0xBE: .i32x4ExtmulLowI16X8U, 0xBF: .i32x4ExtmulHighI16X8U, 0xC0: .i64x2Abs, 0xC1: .i64x2Neg,
        0xC3: .i64x2AllTrue, 0xC4: .i64x2Bitmask, 0xC7: .i64x2ExtendLowI32X4S, 0xC8: .i64x2ExtendHighI32X4S,
        0xC9: .i64x2ExtendLowI32X4U, 0xCA: .i64x2ExtendHighI32X4U, 0xCB: .i64x2Shl, 0xCC: .i64x2ShrS,
        0xCD: .i64x2ShrU, 0xCE: .i64x2Add, 0xD1: .i64x2Sub, 0xD5: .i64x2Mul, 0xD6: .i64x2Eq, 0xD7: .i64x2Ne,
        0xD8: .i64x2LtS, 0xD9: .i64x2GtS, 0xDA: .i64x2LeS, 0xDB: .i64x2GeS, 0xDC: .i64x2ExtmulLowI32X4S,
        0xDD: .i64x2ExtmulHighI32X4S, 0xDE: .i64x2ExtmulLowI32X4U, 0xDF: .i64x2ExtmulHighI32X4U,
        0xE0: .f32x4Abs, 0xE1: .f32x4Neg, 0xE3: .f32x4Sqrt, 0xE4: .f32x4Add, 0xE5: .f32x4Sub, 0xE6: .f32x4Mul,
        0xE7: .f32x4Div, 0xE8: .f32x4Min, 0xE9: .f32x4Max, 0xEA: .f32x4Pmin, 0xEB: .f32x4Pmax,
        0xEC: .f64x2Abs, 0xED: .f64x2Neg, 0xEF: .f64x2Sqrt, 0xF0: .f64x2Add, 0xF1: .f64x2Sub, 0xF2: .f64x2Mul,
        0xF3: .f64x2Div, 0xF4: .f64x2Min, 0xF5: .f64x2Max, 0xF6: .f64x2Pmin, 0xF7: .f64x2Pmax,
        0xF8: .i32x4TruncSatF32X4S, 0xF9: .i32x4TruncSatF32X4U, 0xFA: .f32x4ConvertI32X4S,
        0xFB: .f32x4ConvertI32X4U, 0xFC: .i32x4TruncSatF64X2SZero, 0xFD: .i32x4TruncSatF64X2UZero,
        0xFE: .f64x2ConvertLowI32X4S, 0xFF: .f64x2ConvertLowI32X4U, 0x100: .i8x16RelaxedSwizzle,
        0x101: .i32x4RelaxedTruncF32X4S, 0x102: .i32x4RelaxedTruncF32X4U, 0x103: .i32x4RelaxedTruncF64X2SZero,
        0x104: .i32x4RelaxedTruncF64X2UZero, 0x105: .f32x4RelaxedMadd, 0x106: .f32x4RelaxedNmadd,
        0x107: .f64x2RelaxedMadd, 0x108: .f64x2RelaxedNmadd, 0x109: .i8x16RelaxedLaneselect,
        0x10A: .i16x8RelaxedLaneselect, 0x10B: .i32x4RelaxedLaneselect, 0x10C: .i64x2RelaxedLaneselect,
        0x10D: .f32x4RelaxedMin, 0x10E: .f32x4RelaxedMax, 0x10F: .f64x2RelaxedMin, 0x110: .f64x2RelaxedMax,
        0x111: .i16x8RelaxedQ15MulrS, 0x112: .i16x8RelaxedDotI8X16I7X16S,
        0x113: .i32x4RelaxedDotI8X16I7X16AddS,
    ]
    /// 0xFD loads and stores with a memarg.
    static let simdLoads: [UInt32: Instruction.Load] = [
        0x00: .v128Load, 0x01: .v128Load8X8S, 0x02: .v128Load8X8U, 0x03: .v128Load16X4S, 0x04: .v128Load16X4U,
        0x05: .v128Load32X2S, 0x06: .v128Load32X2U, 0x07: .v128Load8Splat, 0x08: .v128Load16Splat,
        0x09: .v128Load32Splat, 0x0A: .v128Load64Splat, 0x5C: .v128Load32Zero, 0x5D: .v128Load64Zero,
    ]
    /// 0xFD lane extraction and replacement (one lane byte).
    static let simdLanes: [UInt32: Instruction.SimdLane] = [
        0x15: .i8x16ExtractLaneS, 0x16: .i8x16ExtractLaneU, 0x17: .i8x16ReplaceLane, 0x18: .i16x8ExtractLaneS,
        0x19: .i16x8ExtractLaneU, 0x1A: .i16x8ReplaceLane, 0x1B: .i32x4ExtractLane, 0x1C: .i32x4ReplaceLane,
        0x1D: .i64x2ExtractLane, 0x1E: .i64x2ReplaceLane, 0x1F: .f32x4ExtractLane, 0x20: .f32x4ReplaceLane,
        0x21: .f64x2ExtractLane, 0x22: .f64x2ReplaceLane,
    ]
    /// 0xFD lane loads and stores (memarg, lane byte).
    static let simdMemoryLanes: [UInt32: Instruction.SimdMemLane] = [
        0x54: .v128Load8Lane, 0x55: .v128Load16Lane, 0x56: .v128Load32Lane, 0x57: .v128Load64Lane,
        0x58: .v128Store8Lane, 0x59: .v128Store16Lane, 0x5A: .v128Store32Lane, 0x5B: .v128Store64Lane,
    ]
    /// 0xFE atomic loads.
    static let atomicLoads: [UInt32: Instruction.Load] = [
        0x10: .i32AtomicLoad, 0x11: .i64AtomicLoad, 0x12: .i32AtomicLoad8U, 0x13: .i32AtomicLoad16U,
        0x14: .i64AtomicLoad8U, 0x15: .i64AtomicLoad16U, 0x16: .i64AtomicLoad32U,
    ]
    /// 0xFE atomic stores.
    static let atomicStores: [UInt32: Instruction.Store] = [
        0x17: .i32AtomicStore, 0x18: .i64AtomicStore, 0x19: .i32AtomicStore8, 0x1A: .i32AtomicStore16,
        0x1B: .i64AtomicStore8, 0x1C: .i64AtomicStore16, 0x1D: .i64AtomicStore32,
    ]
    /// 0xFE read-modify-write, wait and notify (a memarg).
    static let atomicMemoryOperators: [UInt32: @Sendable (MemArg) -> Instruction] = [
        0x00: Instruction.memoryAtomicNotify(memarg:),
        0x01: Instruction.memoryAtomicWait32(memarg:),
        0x02: Instruction.memoryAtomicWait64(memarg:),
        0x1E: Instruction.i32AtomicRmwAdd(memarg:),
        0x1F: Instruction.i64AtomicRmwAdd(memarg:),
        0x20: Instruction.i32AtomicRmw8AddU(memarg:),
        0x21: Instruction.i32AtomicRmw16AddU(memarg:),
        0x22: Instruction.i64AtomicRmw8AddU(memarg:),
        0x23: Instruction.i64AtomicRmw16AddU(memarg:),
        0x24: Instruction.i64AtomicRmw32AddU(memarg:),
        0x25: Instruction.i32AtomicRmwSub(memarg:),
        0x26: Instruction.i64AtomicRmwSub(memarg:),
        0x27: Instruction.i32AtomicRmw8SubU(memarg:),
        0x28: Instruction.i32AtomicRmw16SubU(memarg:),
        0x29: Instruction.i64AtomicRmw8SubU(memarg:),
        0x2A: Instruction.i64AtomicRmw16SubU(memarg:),
        0x2B: Instruction.i64AtomicRmw32SubU(memarg:),
        0x2C: Instruction.i32AtomicRmwAnd(memarg:),
        0x2D: Instruction.i64AtomicRmwAnd(memarg:),
        0x2E: Instruction.i32AtomicRmw8AndU(memarg:),
        0x2F: Instruction.i32AtomicRmw16AndU(memarg:),
        0x30: Instruction.i64AtomicRmw8AndU(memarg:),
        0x31: Instruction.i64AtomicRmw16AndU(memarg:),
        0x32: Instruction.i64AtomicRmw32AndU(memarg:),
        0x33: Instruction.i32AtomicRmwOr(memarg:),
        0x34: Instruction.i64AtomicRmwOr(memarg:),
        0x35: Instruction.i32AtomicRmw8OrU(memarg:),
        0x36: Instruction.i32AtomicRmw16OrU(memarg:),
        0x37: Instruction.i64AtomicRmw8OrU(memarg:),
        0x38: Instruction.i64AtomicRmw16OrU(memarg:),
        0x39: Instruction.i64AtomicRmw32OrU(memarg:),
        0x3A: Instruction.i32AtomicRmwXor(memarg:),
        0x3B: Instruction.i64AtomicRmwXor(memarg:),
        0x3C: Instruction.i32AtomicRmw8XorU(memarg:),
        0x3D: Instruction.i32AtomicRmw16XorU(memarg:),
        0x3E: Instruction.i64AtomicRmw8XorU(memarg:),
        0x3F: Instruction.i64AtomicRmw16XorU(memarg:),
        0x40: Instruction.i64AtomicRmw32XorU(memarg:),
        0x41: Instruction.i32AtomicRmwXchg(memarg:),
        0x42: Instruction.i64AtomicRmwXchg(memarg:),
        0x43: Instruction.i32AtomicRmw8XchgU(memarg:),
        0x44: Instruction.i32AtomicRmw16XchgU(memarg:),
        0x45: Instruction.i64AtomicRmw8XchgU(memarg:),
        0x46: Instruction.i64AtomicRmw16XchgU(memarg:),
        0x47: Instruction.i64AtomicRmw32XchgU(memarg:),
        0x48: Instruction.i32AtomicRmwCmpxchg(memarg:),
        0x49: Instruction.i64AtomicRmwCmpxchg(memarg:),
        0x4A: Instruction.i32AtomicRmw8CmpxchgU(memarg:),
        0x4B: Instruction.i32AtomicRmw16CmpxchgU(memarg:),
        0x4C: Instruction.i64AtomicRmw8CmpxchgU(memarg:),
        0x4D: Instruction.i64AtomicRmw16CmpxchgU(memarg:),
        0x4E: Instruction.i64AtomicRmw32CmpxchgU(memarg:),
    ]
}
