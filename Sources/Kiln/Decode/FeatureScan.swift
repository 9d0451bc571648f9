import WasmParser
import WasmTypes

/// Kiln implements WebAssembly 2.0, typed function references (non-null and concrete
/// function reference types, table initializers, `call_ref`, `ref.as_non_null`, `br_on_null`,
/// `br_on_non_null`), multi-memory, memory64 and table64, relaxed SIMD and extended constant
/// expressions. Modules using other later proposals (GC, exceptions, tail calls, threads) are
/// decoded, then rejected here as unsupported: a clear answer instead of a misleading
/// "malformed" or "invalid".
enum FeatureScan {
    static func checkModule(_ info: ModuleInfo) throws(KilnError) {
        for type in info.types {
            for value in type.parameters + type.results { try check(value) }
        }
        for table in info.tables { try check(.ref(table.elementType)) }
        for memory in info.memories where memory.shared {
            throw KilnError.unsupported(feature: "threads (shared memory)")
        }
        for global in info.globals { try check(global.valueType) }
        for segment in info.elements { try check(.ref(segment.type)) }
    }

    static func check(_ type: ValueType) throws(KilnError) {
        guard case .ref(let reference) = type else { return }
        switch reference.heapType {
        case .abstract(.funcRef), .abstract(.externRef), .abstract(.noFunc), .abstract(.noExtern), .concrete:
            // Concrete heap types can only name function types: the decoder rejects GC types.
            break
        case .abstract(.exnRef), .abstract(.noExn):
            throw KilnError.unsupported(feature: "exception handling (exnref)")
        case .abstract:
            throw KilnError.unsupported(feature: "GC (reference type \(reference.heapType))")
        }
    }

    static func check(_ instruction: Instruction) throws(KilnError) {
        switch instruction {
        case .load, .store, .simdMemLane, .memorySize, .memoryGrow, .memoryFill, .memoryInit, .memoryCopy:
            break
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
            .simd, .simdLane, .callRef, .refAsNonNull, .brOnNull, .brOnNonNull:
            break
        case .returnCall, .returnCallIndirect, .returnCallRef:
            throw KilnError.unsupported(feature: "tail calls")
        case .throw, .throwRef, .tryTable:
            throw KilnError.unsupported(feature: "exception handling")
        default:
            throw KilnError.unsupported(feature: "post-2.0 instruction (GC or threads)")
        }
    }
}
