import WasmParser
import WasmTypes

/// Kiln's own reader of instructions (function bodies and constant expressions): every opcode
/// WasmParser's `Instruction` can express (Wasm 2.0, SIMD and relaxed SIMD, exceptions, tail
/// calls, typed function references, GC, threads) plus the legacy exception-handling
/// instructions, with the binary format's exact LEB128 rules (prefixed sub-opcodes are u32 LEBs).
///
/// It also gates proposals: an instruction or type of a proposal the engine does not allow
/// throws `.unsupported` (see `FeatureGate`). Structure (matching `end`s, labels, types) is the
/// validator's business. Decoding allocates only for the instructions that carry arrays
/// (`br_table`, `try_table`, `v128.const`, `i8x16.shuffle`).
struct InstructionDecoder {
    var reader: ByteReader
    let gate: FeatureGate
    /// Memories of the module: a memory index past them is the validator's "unknown memory",
    /// one below them but not 0 needs multi-memory.
    let memoryCount: Int

    /// Decodes a function body's instructions (`reader` spans exactly the expression).
    mutating func body(locals: [ValueType]) throws(KilnError) -> FunctionBody {
        var body = FunctionBody(locals: locals, instructions: [], offsets: [])
        try decode(into: &body)
        return body
    }

    /// Decodes the instructions into `body`'s arrays, replacing what they held: a caller that
    /// decodes body after body (validation) reuses their storage instead of allocating (and
    /// page-faulting in) fresh arrays for each.
    mutating func decode(into body: inout FunctionBody) throws(KilnError) {
        body.instructions.removeAll(keepingCapacity: true)
        body.offsets.removeAll(keepingCapacity: true)
        // Real code averages about three bytes an instruction (2.8 in CPython's 99 MB build):
        // reserving more costs page faults on huge modules, less costs a regrowth.
        let expected = reader.remaining / 3 + 2
        body.instructions.reserveCapacity(expected)
        body.offsets.reserveCapacity(expected)
        while !reader.isAtEnd {
            body.offsets.append(reader.position)
            body.instructions.append(try next())
        }
    }

    /// A constant expression: instructions up to and including the first `end`.
    mutating func constantExpression() throws(KilnError) -> ConstExpression {
        var instructions: ConstExpression = []
        while true {
            guard case .standard(let instruction) = try next() else {
                throw reader.malformed("illegal opcode in constant expression")
            }
            instructions.append(instruction)
            if instruction == .end { return instructions }
        }
    }

    // MARK: Instructions

    mutating func next() throws(KilnError) -> BodyInstruction {
        let start = reader.position
        let opcode = try reader.byte()
        switch opcode {
        case 0x02: return .standard(.block(blockType: try blockType()))
        case 0x03: return .standard(.loop(blockType: try blockType()))
        case 0x04: return .standard(.if(blockType: try blockType()))
        case 0x06:
            try gate.require(.legacyExceptions, "try")
            return .legacyTry(try blockType())
        case 0x07:
            try gate.require(.legacyExceptions, "catch")
            return .legacyCatch(tag: try reader.u32())
        case 0x08:
            try gate.require(.exceptions, "throw")
            return .standard(.throw(tagIndex: try reader.u32()))
        case 0x09:
            try gate.require(.legacyExceptions, "rethrow")
            return .legacyRethrow(relativeDepth: try reader.u32())
        case 0x0A:
            try gate.require(.exceptions, "throw_ref")
            return .standard(.throwRef)
        case 0x0C: return .standard(.br(relativeDepth: try reader.u32()))
        case 0x0D: return .standard(.brIf(relativeDepth: try reader.u32()))
        case 0x0E: return .standard(.brTable(targets: try branchTable()))
        case 0x10: return .standard(.call(functionIndex: try reader.u32()))
        case 0x11:
            let type = try reader.u32()
            return .standard(.callIndirect(typeIndex: type, tableIndex: try reader.u32()))
        case 0x12:
            try gate.require(.tailCalls, "return_call")
            return .standard(.returnCall(functionIndex: try reader.u32()))
        case 0x13:
            try gate.require(.tailCalls, "return_call_indirect")
            let type = try reader.u32()
            return .standard(.returnCallIndirect(typeIndex: type, tableIndex: try reader.u32()))
        case 0x14:
            try gate.require(.functionReferences, "call_ref")
            return .standard(.callRef(typeIndex: try reader.u32()))
        case 0x15:
            try gate.require(.tailCalls, "return_call_ref")
            return .standard(.returnCallRef(typeIndex: try reader.u32()))
        case 0x18:
            try gate.require(.legacyExceptions, "delegate")
            return .legacyDelegate(relativeDepth: try reader.u32())
        case 0x19:
            try gate.require(.legacyExceptions, "catch_all")
            return .legacyCatchAll
        case 0x1C:
            let count = try reader.u32()
            // The binary format allows a vector; validation requires exactly one type.
            guard count == 1 else {
                throw KilnError.invalid(reason: "invalid result arity", function: nil, offset: start)
            }
            return .standard(.typedSelect(type: try valueType()))
        case 0x1F:
            try gate.require(.exceptions, "try_table")
            return .standard(.tryTable(blockType: try blockType(), tryCatch: try catchClauses()))
        case 0x20: return .standard(.localGet(localIndex: try reader.u32()))
        case 0x21: return .standard(.localSet(localIndex: try reader.u32()))
        case 0x22: return .standard(.localTee(localIndex: try reader.u32()))
        case 0x23: return .standard(.globalGet(globalIndex: try reader.u32()))
        case 0x24: return .standard(.globalSet(globalIndex: try reader.u32()))
        case 0x25: return .standard(.tableGet(table: try reader.u32()))
        case 0x26: return .standard(.tableSet(table: try reader.u32()))
        case 0x28...0x35:
            return .standard(.load(OpcodeTables.loads[Int(opcode &- 0x28)], memarg: try memoryArgument()))
        case 0x36...0x3E:
            return .standard(.store(OpcodeTables.stores[Int(opcode &- 0x36)], memarg: try memoryArgument()))
        case 0x3F: return .standard(.memorySize(memory: try memoryIndex()))
        case 0x40: return .standard(.memoryGrow(memory: try memoryIndex()))
        case 0x41: return .standard(.i32Const(value: try reader.s32()))
        case 0x42: return .standard(.i64Const(value: try reader.s64()))
        case 0x43: return .standard(.f32Const(value: IEEE754.Float32(bitPattern: try reader.fixed32())))
        case 0x44: return .standard(.f64Const(value: IEEE754.Float64(bitPattern: try reader.fixed64())))
        case 0xD0:
            let heap = try heapType()
            try gate.require(ReferenceType(isNullable: true, heapType: heap))
            return .standard(.refNull(type: heap))
        case 0xD2: return .standard(.refFunc(functionIndex: try reader.u32()))
        case 0xD3:
            try gate.require(.gc, "ref.eq")
            return .standard(.refEq)
        case 0xD4:
            try gate.require(.functionReferences, "ref.as_non_null")
            return .standard(.refAsNonNull)
        case 0xD5:
            try gate.require(.functionReferences, "br_on_null")
            return .standard(.brOnNull(relativeDepth: try reader.u32()))
        case 0xD6:
            try gate.require(.functionReferences, "br_on_non_null")
            return .standard(.brOnNonNull(relativeDepth: try reader.u32()))
        case 0xFB: return .standard(try gcInstruction(start: start))
        case 0xFC: return .standard(try miscellaneousInstruction(start: start))
        case 0xFD: return .standard(try simdInstruction(start: start))
        case 0xFE: return .standard(try atomicInstruction(start: start))
        default:
            guard let instruction = OpcodeTables.plain[Int(opcode)] else { throw illegalOpcode(start) }
            return .standard(instruction)
        }
    }

    @inline(never)
    func illegalOpcode(_ start: Int) -> KilnError {
        reader.malformed("illegal opcode", at: start)
    }

    /// 0xFC: saturating truncation, bulk memory and table instructions.
    mutating func miscellaneousInstruction(start: Int) throws(KilnError) -> Instruction {
        let opcode = try reader.u32()
        switch opcode {
        case 0...7: return .conversion(OpcodeTables.saturatingTruncations[Int(opcode)])
        case 8:
            let data = try reader.u32()
            return .memoryInit(dataIndex: data, memory: try memoryIndex())
        case 9: return .dataDrop(dataIndex: try reader.u32())
        case 10:
            let destination = try memoryIndex()
            return .memoryCopy(dstMem: destination, srcMem: try memoryIndex())
        case 11: return .memoryFill(memory: try memoryIndex())
        case 12:
            let element = try reader.u32()
            return .tableInit(elemIndex: element, table: try reader.u32())
        case 13: return .elemDrop(elemIndex: try reader.u32())
        case 14:
            let destination = try reader.u32()
            return .tableCopy(dstTable: destination, srcTable: try reader.u32())
        case 15: return .tableGrow(table: try reader.u32())
        case 16: return .tableSize(table: try reader.u32())
        case 17: return .tableFill(table: try reader.u32())
        default: throw illegalOpcode(start)
        }
    }

    /// 0xFD: SIMD and relaxed SIMD.
    mutating func simdInstruction(start: Int) throws(KilnError) -> Instruction {
        try gate.require(.simd, "v128 instruction")
        let opcode = Int(try reader.u32())
        if opcode < OpcodeTables.simdPlainByOpcode.count, let simd = OpcodeTables.simdPlainByOpcode[opcode] {
            if opcode >= 0x100 { try gate.require(.relaxedSIMD, "relaxed SIMD instruction") }
            return .simd(simd)
        }
        if opcode < OpcodeTables.simdLoadsByOpcode.count, let load = OpcodeTables.simdLoadsByOpcode[opcode] {
            return .load(load, memarg: try memoryArgument())
        }
        if opcode < OpcodeTables.simdLanesByOpcode.count, let lane = OpcodeTables.simdLanesByOpcode[opcode] {
            return .simdLane(lane, lane: try reader.byte())
        }
        if opcode < OpcodeTables.simdMemoryLanesByOpcode.count, let memoryLane = OpcodeTables.simdMemoryLanesByOpcode[opcode] {
            let memarg = try memoryArgument()
            return .simdMemLane(memoryLane, memarg: memarg, lane: try reader.byte())
        }
        switch opcode {
        case 0x0B: return .store(.v128Store, memarg: try memoryArgument())
        case 0x0C: return .v128Const(value: V128(bytes: try reader.array(count: 16)))
        case 0x0D: return .i8x16Shuffle(lanes: V128ShuffleMask(lanes: try reader.array(count: 16)))
        default: throw illegalOpcode(start)
        }
    }

    /// 0xFE: threads' atomic memory instructions.
    mutating func atomicInstruction(start: Int) throws(KilnError) -> Instruction {
        try gate.require(.threads, "atomic instruction")
        let opcode = Int(try reader.u32())
        if opcode == 0x03 {
            guard try reader.byte() == 0 else { throw reader.malformed("zero byte expected") }
            return .atomicFence
        }
        if opcode < OpcodeTables.atomicLoadsByOpcode.count, let load = OpcodeTables.atomicLoadsByOpcode[opcode] {
            return .load(load, memarg: try memoryArgument())
        }
        if opcode < OpcodeTables.atomicStoresByOpcode.count, let store = OpcodeTables.atomicStoresByOpcode[opcode] {
            return .store(store, memarg: try memoryArgument())
        }
        if opcode < OpcodeTables.atomicMemoryOperatorsByOpcode.count,
            let make = OpcodeTables.atomicMemoryOperatorsByOpcode[opcode]
        {
            return make(try memoryArgument())
        }
        throw illegalOpcode(start)
    }

    /// 0xFB: GC (decoded so that the answer is "unsupported", not "malformed").
    mutating func gcInstruction(start: Int) throws(KilnError) -> Instruction {
        try gate.require(.gc, "GC instruction")
        let opcode = try reader.u32()
        switch opcode {
        case 0: return .structNew(typeIndex: try reader.u32())
        case 1: return .structNewDefault(typeIndex: try reader.u32())
        case 2...5:
            let type = try reader.u32()
            let field = try reader.u32()
            switch opcode {
            case 2: return .structGet(typeIndex: type, fieldIndex: field)
            case 3: return .structGetS(typeIndex: type, fieldIndex: field)
            case 4: return .structGetU(typeIndex: type, fieldIndex: field)
            default: return .structSet(typeIndex: type, fieldIndex: field)
            }
        case 6: return .arrayNew(typeIndex: try reader.u32())
        case 7: return .arrayNewDefault(typeIndex: try reader.u32())
        case 8:
            let type = try reader.u32()
            return .arrayNewFixed(typeIndex: type, size: try reader.u32())
        case 9:
            let type = try reader.u32()
            return .arrayNewData(typeIndex: type, dataIndex: try reader.u32())
        case 10:
            let type = try reader.u32()
            return .arrayNewElem(typeIndex: type, elemIndex: try reader.u32())
        case 11: return .arrayGet(typeIndex: try reader.u32())
        case 12: return .arrayGetS(typeIndex: try reader.u32())
        case 13: return .arrayGetU(typeIndex: try reader.u32())
        case 14: return .arraySet(typeIndex: try reader.u32())
        case 15: return .arrayLen
        case 16: return .arrayFill(typeIndex: try reader.u32())
        case 17:
            let destination = try reader.u32()
            return .arrayCopy(destType: destination, srcType: try reader.u32())
        case 18:
            let type = try reader.u32()
            return .arrayInitData(typeIndex: type, dataIndex: try reader.u32())
        case 19:
            let type = try reader.u32()
            return .arrayInitElem(typeIndex: type, elemIndex: try reader.u32())
        case 20: return .refTest(.refTest, type: try heapType())
        case 21: return .refTest(.refTestNull, type: try heapType())
        case 22: return .refCast(.refCast, type: try heapType())
        case 23: return .refCast(.refCastNull, type: try heapType())
        case 24, 25:
            let flags = try reader.byte()
            guard flags <= 3 else { throw reader.malformed("malformed cast flags", at: reader.position &- 1) }
            let depth = try reader.u32()
            let from = ReferenceType(isNullable: flags & 1 != 0, heapType: try heapType())
            let to = ReferenceType(isNullable: flags & 2 != 0, heapType: try heapType())
            return opcode == 24
                ? .brOnCast(relativeDepth: depth, castFrom: from, castTo: to)
                : .brOnCastFail(relativeDepth: depth, castFrom: from, castTo: to)
        case 26: return .anyConvertExtern
        case 27: return .externConvertAny
        case 28: return .refI31
        case 29: return .i31GetS
        case 30: return .i31GetU
        default: throw illegalOpcode(start)
        }
    }

    // MARK: Immediates

    mutating func branchTable() throws(KilnError) -> BrTable {
        let count = try reader.u32()
        // Each label takes at least a byte: a count past the bytes left is malformed, and
        // must not reserve memory.
        guard Int(count) < reader.remaining else { throw reader.malformed("unexpected end of section or function") }
        var labels: [UInt32] = []
        labels.reserveCapacity(Int(count))
        for _ in 0..<count { labels.append(try reader.u32()) }
        return BrTable(labelIndices: labels, defaultIndex: try reader.u32())
    }

    mutating func catchClauses() throws(KilnError) -> TryCatch {
        let count = try reader.u32()
        guard Int(count) <= reader.remaining else { throw reader.malformed("unexpected end of section or function") }
        var clauses: [CatchClause] = []
        clauses.reserveCapacity(Int(count))
        for _ in 0..<count {
            let kindOffset = reader.position
            switch try reader.byte() {
            case 0x00:
                let tag = try reader.u32()
                clauses.append(.catch(tagIndex: tag, labelIndex: try reader.u32()))
            case 0x01:
                let tag = try reader.u32()
                clauses.append(.catchRef(tagIndex: tag, labelIndex: try reader.u32()))
            case 0x02: clauses.append(.catchAll(labelIndex: try reader.u32()))
            case 0x03: clauses.append(.catchAllRef(labelIndex: try reader.u32()))
            default: throw reader.malformed("malformed catch clause", at: kindOffset)
            }
        }
        return TryCatch(catches: clauses)
    }

    /// A memarg: alignment flags (bit 6: a memory index follows), then a u64 offset (the
    /// validator bounds it by the memory's address type).
    mutating func memoryArgument() throws(KilnError) -> MemArg {
        let flagsOffset = reader.position
        let flags = try reader.u32()
        guard flags < 0x80 else { throw reader.malformed("malformed memop flags", at: flagsOffset) }
        var memory: UInt32 = 0
        if flags & 0x40 != 0 { memory = try memoryIndex() }
        let offset = try reader.u64()
        return MemArg(offset: offset, align: flags & 0x3F, memory: memory)
    }

    mutating func memoryIndex() throws(KilnError) -> UInt32 {
        let index = try reader.u32()
        if index != 0 && Int(index) < memoryCount { try gate.require(.multiMemory, "memory index \(index)") }
        return index
    }

    mutating func blockType() throws(KilnError) -> BlockType {
        guard let first = reader.peek() else { throw reader.malformed("unexpected end of section or function") }
        if first == 0x40 {
            reader.position &+= 1
            return .empty
        }
        if TypeDecoding.isValueTypeStart(first) { return .type(try valueType()) }
        let start = reader.position
        let index = try reader.s33()
        guard index >= 0 else { throw reader.malformed("malformed block type", at: start) }
        // Multi-value block types are Wasm 2.0; past 2^32 no type can exist.
        guard index <= Int64(UInt32.max) else { throw KilnError.invalid(reason: "unknown type \(index)", function: nil, offset: start) }
        return .funcType(UInt32(index))
    }

    mutating func valueType() throws(KilnError) -> ValueType {
        let type = try TypeDecoding.valueType(&reader)
        try gate.require(type)
        return type
    }

    mutating func heapType() throws(KilnError) -> HeapType {
        try TypeDecoding.heapType(&reader)
    }
}

/// Value, reference and heap types in the binary format.
enum TypeDecoding {
    /// Whether `byte` starts a value type (rather than a block type's type index).
    static func isValueTypeStart(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x7B...0x7F, 0x63, 0x64: return true
        default: return abstractHeapType(byte) != nil
        }
    }

    static func abstractHeapType(_ byte: UInt8) -> AbstractHeapType? {
        switch byte {
        case 0x70: return .funcRef
        case 0x6F: return .externRef
        case 0x69: return .exnRef
        case 0x6E: return .any
        case 0x6D: return .eq
        case 0x6C: return .i31
        case 0x6B: return .structRef
        case 0x6A: return .arrayRef
        case 0x71: return .noneRef
        case 0x72: return .noExtern
        case 0x73: return .noFunc
        case 0x74: return .noExn
        default: return nil
        }
    }

    static func valueType(_ reader: inout ByteReader) throws(KilnError) -> ValueType {
        let start = reader.position
        let byte = try reader.byte()
        switch byte {
        case 0x7F: return .i32
        case 0x7E: return .i64
        case 0x7D: return .f32
        case 0x7C: return .f64
        case 0x7B: return .v128
        case 0x63: return .ref(ReferenceType(isNullable: true, heapType: try heapType(&reader)))
        case 0x64: return .ref(ReferenceType(isNullable: false, heapType: try heapType(&reader)))
        default:
            guard let abstract = abstractHeapType(byte) else { throw reader.malformed("malformed value type", at: start) }
            return .ref(ReferenceType(isNullable: true, heapType: .abstract(abstract)))
        }
    }

    /// An abstract heap type (one byte) or a type index (a non-negative s33).
    static func heapType(_ reader: inout ByteReader) throws(KilnError) -> HeapType {
        let start = reader.position
        if let first = reader.peek(), let abstract = abstractHeapType(first) {
            reader.position &+= 1
            return .abstract(abstract)
        }
        let index = try reader.s33()
        guard index >= 0 else { throw reader.malformed("malformed heap type", at: start) }
        guard index <= Int64(UInt32.max) else { throw KilnError.invalid(reason: "unknown type \(index)", function: nil, offset: start) }
        return .concrete(typeIndex: UInt32(index))
    }
}

extension FeatureGate {
    /// The proposal a value type needs, if any beyond Wasm 2.0.
    static func feature(of type: ValueType) -> WasmFeatures? {
        switch type {
        case .i32, .i64, .f32, .f64: return nil
        case .v128: return .simd
        case .ref(let reference): return feature(of: reference)
        }
    }

    static func feature(of reference: ReferenceType) -> WasmFeatures? {
        switch reference.heapType {
        case .abstract(.funcRef), .abstract(.externRef):
            return reference.isNullable ? nil : .functionReferences
        case .abstract(.noFunc), .abstract(.noExtern), .concrete:
            // Bottom types and concrete indices arrive with typed function references (GC
            // rejects the concrete indices of struct and array types in the type section).
            return .functionReferences
        case .abstract(.exnRef), .abstract(.noExn):
            return .exceptions
        case .abstract:
            return .gc
        }
    }

    @inline(__always)
    func require(_ type: ValueType) throws(KilnError) {
        if case .i32 = type { return }
        if let feature = FeatureGate.feature(of: type) { try require(feature, "type \(type)") }
    }

    func require(_ reference: ReferenceType) throws(KilnError) {
        if let feature = FeatureGate.feature(of: reference) { try require(feature, "reference type \(reference)") }
    }
}
