import WasmParser
import WasmTypes

/// Kiln implements WebAssembly 2.0 and typed function references (non-null and concrete
/// function reference types, table initializers, `call_ref`, `ref.as_non_null`, `br_on_null`,
/// `br_on_non_null`). Modules using other later proposals (GC, exceptions, tail calls, threads,
/// memory64, multi-memory) are decoded, then rejected here as unsupported: a clear answer
/// instead of a misleading "malformed" or "invalid".
enum FeatureScan {
    static func checkModule(_ info: ModuleInfo) throws(KilnError) {
        for type in info.types {
            for value in type.parameters + type.results { try check(value) }
        }
        for table in info.tables {
            try check(.ref(table.elementType))
            if table.limits.isMemory64 { throw KilnError.unsupported(feature: "memory64 (64-bit table)") }
        }
        for memory in info.memories {
            if memory.isMemory64 { throw KilnError.unsupported(feature: "memory64") }
            if memory.shared { throw KilnError.unsupported(feature: "threads (shared memory)") }
        }
        if info.memories.count > 1 { throw KilnError.unsupported(feature: "multi-memory") }
        for global in info.globals { try check(global.valueType) }
        for segment in info.elements { try check(.ref(segment.type)) }
        for segment in info.data {
            // An index past the memories is the validator's "unknown memory", not a feature.
            if case .active(let active) = segment, active.index != 0, active.index < info.memories.count {
                throw KilnError.unsupported(feature: "multi-memory")
            }
        }
    }

    static func check(_ type: ValueType) throws(KilnError) {
        guard case .ref(let reference) = type else { return }
        switch reference.heapType {
        case .abstract(.funcRef), .abstract(.externRef), .abstract(.noFunc), .abstract(.noExtern), .concrete,
            .abstract(.exnRef), .abstract(.noExn):
            // Concrete heap types can only name function types: the decoder rejects GC types.
            break
        case .abstract:
            throw KilnError.unsupported(feature: "GC (reference type \(reference.heapType))")
        }
    }

    /// `memoryCount`: memories of the module; an index past them is left to the validator.
    static func check(_ instruction: Instruction, memoryCount: Int) throws(KilnError) {
        func memory(_ index: UInt32) throws(KilnError) {
            if index != 0 && index < memoryCount { throw KilnError.unsupported(feature: "multi-memory") }
        }
        switch instruction {
        case .load(_, let memarg), .store(_, let memarg), .simdMemLane(_, let memarg, _):
            try memory(memarg.memory)
        case .memorySize(let index), .memoryGrow(let index), .memoryFill(let index), .memoryInit(_, let index):
            try memory(index)
        case .memoryCopy(let destination, let source):
            try memory(destination)
            try memory(source)
        case .refNull(let heapType):
            try check(.ref(ReferenceType(isNullable: true, heapType: heapType)))
        case .typedSelect(let type):
            try check(type)
        case .block(let blockType), .loop(let blockType), .if(let blockType):
            if case .type(let type) = blockType { try check(type) }
        case .unreachable, .nop, .else, .end, .br, .brIf, .brTable, .return, .call, .callIndirect,
            .drop, .select, .localGet, .localSet, .localTee, .globalGet, .globalSet,
            .i32Const, .i64Const, .f32Const, .f64Const, .refIsNull, .refFunc, .i32Eqz, .i64Eqz,
            .cmp, .unary, .binary, .conversion, .dataDrop, .tableInit, .elemDrop, .tableCopy,
            .tableFill, .tableGet, .tableSet, .tableGrow, .tableSize, .v128Const, .i8x16Shuffle,
            .simd, .simdLane, .callRef, .refAsNonNull, .brOnNull, .brOnNonNull, .throw, .throwRef, .tryTable,
            .returnCall, .returnCallIndirect, .returnCallRef:
            break
        case .atomicFence, .memoryAtomicNotify, .memoryAtomicWait32, .memoryAtomicWait64:
            break
        default:
            // Atomic read-modify-writes are supported (on unshared memories); GC is not.
            if AtomicAccess.readModifyWrite(instruction) != nil { break }
            throw KilnError.unsupported(feature: "post-2.0 instruction (GC)")
        }
    }
}
