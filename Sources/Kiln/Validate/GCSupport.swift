import WasmParser
import WasmTypes

/// What of GC the code generator can run today: types that only matter for validation and
/// function types in recursion groups (their signature ids are canonical, `CanonicalTypeRegistry`).
/// A valid module that needs more (a GC object, an i31, an `any`/`eq`/`none` reference, a cast,
/// or a `call_indirect` through a non-final type, whose signature check must accept subtypes)
/// is refused here as unsupported, after validation, so that it is never miscompiled; the
/// design of the rest is in docs/gc-design.md.
struct GCSupport {
    static func checkLowerable(_ module: ModuleInfo) throws(KilnError) {
        guard module.features.contains(.gc) else { return }
        let checker = GCSupport(module: module)
        for (index, definition) in module.definitions.enumerated() {
            guard case .function(let type) = definition.body else { continue }
            for value in type.parameters + type.results {
                try checker.require(value, "function type \(index)")
            }
        }
        for table in module.tables { try checker.require(ValueType.ref(table.elementType), "table") }
        for global in module.globals { try checker.require(global.valueType, "global") }
        for segment in module.elements {
            try checker.require(ValueType.ref(segment.type), "element segment")
            for item in segment.initializer { try checker.require(item, "element segment") }
        }
        for initializer in module.globalInitializers { try checker.require(initializer, "global initializer") }
        for initializer in module.tableInitializers {
            if let initializer { try checker.require(initializer, "table initializer") }
        }
        // Bodies: `requireLowerable`, as the validator checks each.
    }

    /// Refuses a body that needs GC code (locals of GC types, GC instructions).
    func requireLowerable(_ body: FunctionBody, functionIndex: Int) throws(KilnError) {
        guard module.features.contains(.gc) else { return }
        let function = "function \(functionIndex)"
        for local in body.locals { try require(local, function) }
        for instruction in body.instructions {
            guard case .standard(let instruction) = instruction else { continue }
            try require(instruction, function)
        }
    }

    let module: ModuleInfo

    @inline(never)
    func refusal(_ what: String, _ place: String) -> KilnError {
        KilnError.unsupported(feature: "GC (\(what) in \(place)): validated, but Kiln's code generator does not produce GC objects, casts or subtype-aware signature checks yet")
    }

    func isGC(_ heap: HeapType) -> Bool {
        switch heap {
        case .abstract(.any), .abstract(.eq), .abstract(.i31), .abstract(.structRef), .abstract(.arrayRef), .abstract(.noneRef):
            return true
        case .abstract:
            return false
        case .concrete(let index):
            guard Int(index) < module.definitions.count, case .function = module.definitions[Int(index)].body else { return true }
            return false
        }
    }

    func require(_ type: ValueType, _ place: String) throws(KilnError) {
        if case .ref(let reference) = type, isGC(reference.heapType) { throw refusal("type \(type)", place) }
    }

    func require(_ expression: ConstExpression, _ place: String) throws(KilnError) {
        for instruction in expression { try require(instruction, place) }
    }

    func require(_ instruction: Instruction, _ place: String) throws(KilnError) {
        switch instruction {
        case .refI31, .i31GetS, .i31GetU, .structNew, .structNewDefault, .structGet, .structGetS,
            .structGetU, .structSet, .arrayNew, .arrayNewDefault, .arrayNewFixed, .arrayGet, .arrayGetS,
            .arrayGetU, .arraySet, .arrayLen, .refEq, .anyConvertExtern, .externConvertAny,
            .arrayNewData, .arrayNewElem, .arrayFill, .arrayCopy, .arrayInitData, .arrayInitElem,
            .refTest, .refCast, .brOnCast, .brOnCastFail:
            throw refusal("instruction \(String(describing: instruction).prefix { $0 != "(" })", place)
        case .refNull(let heap):
            if isGC(heap) { throw refusal("ref.null \(heap)", place) }
        case .typedSelect(let type):
            try require(type, place)
        case .block(let type), .loop(let type), .if(let type), .tryTable(let type, _):
            if case .type(let value) = type { try require(value, place) }
        case .callIndirect(let typeIndex, _), .returnCallIndirect(let typeIndex, _):
            if Int(typeIndex) < module.definitions.count, !module.definitions[Int(typeIndex)].isFinal {
                throw refusal("call_indirect through the non-final type \(typeIndex)", place)
            }
        default:
            break
        }
    }
}
