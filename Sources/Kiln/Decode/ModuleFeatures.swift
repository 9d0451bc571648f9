import WasmParser
import WasmTypes

/// The proposals a module's sections use (function bodies are gated as they are decoded, by
/// `InstructionDecoder`): each must be allowed by the engine's `FeatureGate`, else the module is
/// `.unsupported` with the proposal's name, a clear answer instead of a misleading "malformed"
/// or "invalid", and the same answer from validation and compilation.
enum ModuleFeatures {
    static func check(_ info: ModuleInfo, gate: FeatureGate) throws(KilnError) {
        for definition in info.definitions {
            switch definition.body {
            case .function(let type):
                for value in type.parameters { try gate.require(value) }
                for value in type.results { try gate.require(value) }
            case .structType(let type):
                for field in type.fields { if case .value(let value) = field.storage { try gate.require(value) } }
            case .arrayType(let type):
                if case .value(let value) = type.element.storage { try gate.require(value) }
            }
        }
        for table in info.tables {
            try gate.require(table.elementType)
            if table.limits.isMemory64 { try gate.require(.memory64, "64-bit table") }
            if table.limits.shared { throw KilnError.unsupported(feature: "shared-everything threads (shared table)") }
        }
        for initializer in info.tableInitializers {
            guard let initializer else { continue }
            try gate.require(.functionReferences, "table initializer expression")
            try check(initializer, gate: gate)
        }
        for memory in info.memories {
            if memory.isMemory64 { try gate.require(.memory64, "64-bit memory") }
            if memory.shared {
                try gate.require(.threads, "shared memory")
                throw KilnError.unsupported(feature: "threads (shared memory)")
            }
        }
        if info.memories.count > 1 { try gate.require(.multiMemory, "\(info.memories.count) memories") }
        for global in info.globals { try gate.require(global.valueType) }
        for initializer in info.globalInitializers { try check(initializer, gate: gate) }
        if !info.tags.isEmpty { try gate.require(.exceptions, "tags") }
        for export in info.exports {
            if case .tag = export.descriptor { try gate.require(.exceptions, "tag export") }
        }
        for segment in info.elements {
            try gate.require(segment.type)
            if case .active(_, let offset) = segment.mode { try check(offset, gate: gate) }
            for item in segment.initializer { try check(item, gate: gate) }
        }
        for segment in info.data {
            guard case .active(let active) = segment else { continue }
            // An index past the memories is the validator's "unknown memory", not a feature.
            if active.index != 0, active.index < info.memories.count { try gate.require(.multiMemory, "data segment of memory \(active.index)") }
            try check(active.offset, gate: gate)
        }
    }

    /// A constant expression WasmParser decoded (or a segment's).
    static func check(_ expression: ConstExpression, gate: FeatureGate) throws(KilnError) {
        for instruction in expression {
            switch instruction {
            case .binary: try gate.require(.extendedConst, "arithmetic in a constant expression")
            case .refNull(let heap): try gate.require(ReferenceType(isNullable: true, heapType: heap))
            case .v128Const: try gate.require(.simd, "v128.const")
            case .refI31, .structNew, .structNewDefault, .arrayNew, .arrayNewDefault, .arrayNewFixed,
                .anyConvertExtern, .externConvertAny:
                try gate.require(.gc, "GC instruction in a constant expression")
            default: break
            }
        }
    }
}
