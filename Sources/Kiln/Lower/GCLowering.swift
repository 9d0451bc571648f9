import WasmParser
import WasmTypes

/// GC instructions (docs/gc-design.md): references are words (`GC_W`), objects are laid out by
/// `GCLayout`, allocation and bulk array operations call the runtime (gc.c), and casts are
/// inline tests of the object's RTT display against the target's canonical id, a compile-time
/// constant from the Engine, like `call_indirect`'s signature id.
extension FunctionLowering {
    static func isGC(_ instruction: Instruction) -> Bool {
        switch instruction {
        case .refI31, .i31GetS, .i31GetU, .structNew, .structNewDefault, .structGet, .structGetS,
            .structGetU, .structSet, .arrayNew, .arrayNewDefault, .arrayNewFixed, .arrayGet, .arrayGetS,
            .arrayGetU, .arraySet, .arrayLen, .refEq, .anyConvertExtern, .externConvertAny,
            .arrayNewData, .arrayNewElem, .arrayFill, .arrayCopy, .arrayInitData, .arrayInitElem,
            .refTest, .refCast, .brOnCast, .brOnCastFail:
            return true
        default:
            return false
        }
    }

    mutating func lowerGC(_ instruction: Instruction) throws(Unsupported) {
        switch instruction {
        case .refI31:
            let value = pop()
            push(.ref(ReferenceType(isNullable: false, heapType: .abstract(.i31))), .wrap("I31_NEW(", value.expr), value)
        case .i31GetS, .i31GetU:
            let reference = checkedReference("NULL_I31")
            let macro = instruction == .i31GetS ? "I31_S" : "I31_U"
            push(.i32, .text("\(macro)(\(expression(reference)))"), reference)
        case .refEq:
            let b = pop()
            let a = pop()
            push(.i32, .compare(op: " == ", cast: "", a.expr, b.expr), a, b)
        case .anyConvertExtern, .externConvertAny:
            // The same word in both hierarchies: host references are tagged, not boxed.
            var operand = pop()
            let nullable = if case .ref(let reference) = operand.type { reference.isNullable } else { true }
            let top: AbstractHeapType = instruction == .anyConvertExtern ? .any : .externRef
            operand.type = .ref(ReferenceType(isNullable: nullable, heapType: .abstract(top)))
            stack.append(operand)
        case .structNew(let typeIndex):
            try lowerStructNew(typeIndex, defaults: false)
        case .structNewDefault(let typeIndex):
            try lowerStructNew(typeIndex, defaults: true)
        case .structGet(let typeIndex, let field), .structGetS(let typeIndex, let field), .structGetU(let typeIndex, let field):
            let (type, layout) = try structType(typeIndex)
            let storage = type.fields[Int(field)].storage
            let reference = checkedReference("NULL_STRUCT")
            let read = "GC_AT(\(expression(reference)), \(layout.offsets[Int(field)]), \(GCLayout.cType(storage)))"
            push(GCLayout.valueType(storage), .text(Self.extend(read, storage, signed: instruction == .structGetS(typeIndex: typeIndex, fieldIndex: field))),
                 readsState: true, reference)
        case .structSet(let typeIndex, let field):
            let (type, layout) = try structType(typeIndex)
            let storage = type.fields[Int(field)].storage
            let value = popSimple()
            let reference = checkedReference("NULL_STRUCT")
            emit("GC_AT(\(expression(reference)), \(layout.offsets[Int(field)]), \(GCLayout.cType(storage))) = \(Self.narrow(expression(value), storage));")
        case .arrayNew(let typeIndex):
            let storage = try arrayElement(typeIndex)
            let lengthOperand = popSimple()
            let length = expression(lengthOperand)
            let valueOperand = popSimple()
            let value = expression(valueOperand)
            flushState()
            allocate(typeIndex) { result in
                "{ kiln_value kv = {0}; \(Self.member("kv", storage)) = \(value); \(result) = kiln_gc_array_new(ctx, \(typeIndex)u, \(length), &kv); }"
            }
        case .arrayNewDefault(let typeIndex):
            _ = try arrayElement(typeIndex)
            let lengthOperand = popSimple()
            let length = expression(lengthOperand)
            flushState()
            allocate(typeIndex) { "\($0) = kiln_gc_array_new(ctx, \(typeIndex)u, \(length), 0);" }
        case .arrayNewFixed(let typeIndex, let size):
            let storage = try arrayElement(typeIndex)
            for index in stack.indices.suffix(Int(size)) where !isSimple(stack[index]) { materialize(index) }
            let values = stack.suffix(Int(size)).map { expression($0) }
            stack.removeLast(Int(size))
            flushState()
            allocate(typeIndex) { result in
                var text = "{ void *o = kiln_gc_array_new(ctx, \(typeIndex)u, \(size)u, 0);"
                for (index, value) in values.enumerated() {
                    text += " GC_ELEM(o, \(index), \(GCLayout.cType(storage))) = \(Self.narrow(value, storage));"
                }
                return text + " \(result) = o; }"
            }
        case .arrayNewData(let typeIndex, let segment), .arrayNewElem(let typeIndex, let segment):
            _ = try arrayElement(typeIndex)
            let helper = if case .arrayNewData = instruction { "kiln_gc_array_new_data" } else { "kiln_gc_array_new_elem" }
            let lengthOperand = popSimple()
            let length = expression(lengthOperand)
            let offsetOperand = popSimple()
            let offset = expression(offsetOperand)
            flushState()
            allocate(typeIndex) { "\($0) = \(helper)(ctx, \(typeIndex)u, \(segment)u, \(offset), \(length));" }
        case .arrayGet(let typeIndex), .arrayGetS(let typeIndex), .arrayGetU(let typeIndex):
            let storage = try arrayElement(typeIndex)
            let index = popSimple()
            let array = checkedReference("NULL_ARRAY")
            emit("if (\(expression(index)) >= GC_LEN(\(expression(array)))) TRAP(ARRAY_OOB);")
            let read = "GC_ELEM(\(expression(array)), \(expression(index)), \(GCLayout.cType(storage)))"
            push(GCLayout.valueType(storage), .text(Self.extend(read, storage, signed: instruction == .arrayGetS(typeIndex: typeIndex))),
                 readsState: true, index, array)
        case .arraySet(let typeIndex):
            let storage = try arrayElement(typeIndex)
            let value = popSimple()
            let index = popSimple()
            let array = checkedReference("NULL_ARRAY")
            emit("if (\(expression(index)) >= GC_LEN(\(expression(array)))) TRAP(ARRAY_OOB);")
            emit("GC_ELEM(\(expression(array)), \(expression(index)), \(GCLayout.cType(storage))) = \(Self.narrow(expression(value), storage));")
        case .arrayLen:
            let array = checkedReference("NULL_ARRAY")
            // The length never changes: no state to order against.
            push(.i32, .text("GC_LEN(\(expression(array)))"), array)
        case .arrayFill(let typeIndex):
            let storage = try arrayElement(typeIndex)
            let count = popSimple()
            let value = popSimple()
            let offset = popSimple()
            let array = popSimple()
            flushState()
            emit("{ kiln_value kv = {0}; \(Self.member("kv", storage)) = \(expression(value)); kiln_gc_array_fill(ctx, \(expression(array)), \(expression(offset)), &kv, \(expression(count))); }")
        case .arrayCopy:
            gcRuntimeCall(operands: 5) { "kiln_gc_array_copy(ctx, \($0.joined(separator: ", ")));" }
        case .arrayInitData(_, let data):
            gcRuntimeCall(operands: 4) { "kiln_gc_array_init_data(ctx, \($0[0]), \(data)u, \($0[1...].joined(separator: ", ")));" }
        case .arrayInitElem(_, let element):
            gcRuntimeCall(operands: 4) { "kiln_gc_array_init_elem(ctx, \($0[0]), \(element)u, \($0[1...].joined(separator: ", ")));" }
        case .refTest(let kind, let heap):
            let reference = popSimple()
            let target = ReferenceType(isNullable: kind == .refTestNull, heapType: heap)
            push(.i32, .text("CMP(\(castTest(expression(reference), target)))"), reference)
        case .refCast(let kind, let heap):
            let reference = popSimple()
            let target = ReferenceType(isNullable: kind == .refCastNull, heapType: heap)
            flushState()
            emit("if (!\(castTest(expression(reference), target))) TRAP(CAST_FAILURE);")
            var cast = reference
            cast.type = .ref(target)
            stack.append(cast)
        case .brOnCast(let depth, let from, let to), .brOnCastFail(let depth, let from, let to):
            let reference = popSimple()
            flushAll()
            let test = castTest(expression(reference), to)
            let onCast: Bool = if case .brOnCast = instruction { true } else { false }
            emit(onCast ? "if \(test) {" : "if (!\(test)) {")
            var taken = reference
            taken.type = .ref(onCast ? to : from)
            stack.append(taken)
            branch(to: depth)
            stack.removeLast()
            emit("}")
            var kept = reference
            kept.type = .ref(onCast ? from : to)
            stack.append(kept)
        default:
            throw Unsupported(reason: "instruction \(instruction)")
        }
    }

    // MARK: - Helpers

    /// Pops a reference and traps with `trap` if it is null (unless its type says it cannot be).
    private mutating func checkedReference(_ trap: String) -> Operand {
        let reference = popSimple()
        flushState()
        if case .ref(let type) = reference.type, !type.isNullable { return reference }
        emit("if (!\(expression(reference))) TRAP(\(trap));")
        return reference
    }

    /// An allocation into the result slot (through a temporary: the slot may hold an operand).
    private mutating func allocate(_ typeIndex: UInt32, _ statement: (String) -> String) {
        emit("{ void *n;")
        emit(statement("n"))
        let type = ValueType.ref(ReferenceType(isNullable: false, heapType: .concrete(typeIndex: typeIndex)))
        // Bound first: printing reads the node array, which making the slot may grow.
        let slot = resultSlot(type)
        emit("\(expression(slot)) = n; }")
        pushSlot(type)
    }

    private mutating func lowerStructNew(_ typeIndex: UInt32, defaults: Bool) throws(Unsupported) {
        let (type, layout) = try structType(typeIndex)
        let count = defaults ? 0 : type.fields.count
        for index in stack.indices.suffix(count) where !isSimple(stack[index]) { materialize(index) }
        let values = stack.suffix(count).map { expression($0) }
        stack.removeLast(count)
        flushState()
        allocate(typeIndex) { result in
            var text = "{ void *s = kiln_gc_struct_new(ctx, \(typeIndex)u);"
            for (index, value) in values.enumerated() {
                let storage = type.fields[index].storage
                text += " GC_AT(s, \(layout.offsets[index]), \(GCLayout.cType(storage))) = \(Self.narrow(value, storage));"
            }
            return text + " \(result) = s; }"
        }
    }

    /// A runtime call with no result on the top `operands` operands, evaluated first in order.
    private mutating func gcRuntimeCall(operands: Int, _ call: ([String]) -> String) {
        for index in stack.indices.suffix(operands) where !isSimple(stack[index]) { materialize(index) }
        let arguments = stack.suffix(operands).map { expression($0) }
        stack.removeLast(operands)
        flushState()
        emit(call(arguments))
    }

    private func structType(_ index: UInt32) throws(Unsupported) -> (StructType, GCLayout.Struct) {
        guard Int(index) < module.definitions.count, case .structType(let type) = module.definitions[Int(index)].body else {
            throw Unsupported(reason: "type \(index) is not a struct type")
        }
        return (type, GCLayout.layout(type))
    }

    private func arrayElement(_ index: UInt32) throws(Unsupported) -> StorageType {
        guard Int(index) < module.definitions.count, case .arrayType(let type) = module.definitions[Int(index)].body else {
            throw Unsupported(reason: "type \(index) is not an array type")
        }
        return type.element.storage
    }

    /// A stored field read as its value type: packed fields extend to i32.
    private static func extend(_ read: String, _ storage: StorageType, signed: Bool) -> String {
        switch storage {
        case .packed(.i8): return signed ? "(u32)(s32)(s8)\(read)" : "(u32)\(read)"
        case .packed(.i16): return signed ? "(u32)(s32)(s16)\(read)" : "(u32)\(read)"
        case .value: return read
        }
    }

    /// A value stored into a field: packed fields keep the low bits.
    private static func narrow(_ value: String, _ storage: StorageType) -> String {
        switch storage {
        case .packed(.i8): return "(u8)(\(value))"
        case .packed(.i16): return "(u16)(\(value))"
        case .value: return value
        }
    }

    /// The member of a `kiln_value` named `name` that holds a field's value.
    private static func member(_ name: String, _ storage: StorageType) -> String {
        CSyntax.member(name, GCLayout.valueType(storage))
    }

    // MARK: - Casts

    /// Depth of a type in its declared supertype chain (the Engine's chains agree: they are
    /// built from the same declarations).
    func typeDepth(_ index: Int) -> Int {
        var depth = 0
        var current = index
        while let parent = module.definitions[current].supertypes.first {
            depth += 1
            current = Int(parent)
        }
        return depth
    }

    /// `rtt` (an expression of a `kiln_rtt *`) is the type `index` or one of its subtypes.
    func rttMatches(_ rtt: String, typeIndex index: Int) -> String {
        let depth = typeDepth(index)
        let id = signatureIDs[index]
        if depth < 8 { return "\(rtt)->display[\(depth)] == \(id)ull" }
        return "(\(rtt)->depth >= \(depth)u && \(rtt)->chain[\(depth)] == \(id)ull)"
    }

    /// The signature check of an indirect call: true when the callee (record `record` with
    /// signature `sig`) is not of type `typeIndex` or a subtype. A final type compares ids; a
    /// non-final one falls back to the callee's RTT when the ids differ.
    func signatureMismatch(typeIndex: Int, sig: String, record: String) -> String {
        let id = signatureIDs[typeIndex]
        if module.definitions.indices.contains(typeIndex), !module.definitions[typeIndex].isFinal {
            return "(\(sig) != \(id)ull && !(\(record) && \(rttMatches("FUNC_RTT(\(record))", typeIndex: typeIndex))))"
        }
        return "(\(sig) != \(id)ull)"
    }

    /// The C condition "the word `v` (a simple expression) is a reference of type `target`".
    func castTest(_ v: String, _ target: ReferenceType) -> String {
        let word = "GC_W(\(v))"
        let test: String
        switch target.heapType {
        case .abstract(.any), .abstract(.funcRef), .abstract(.externRef), .abstract(.exnRef):
            test = "(\(v) != 0)"
        case .abstract(.eq):
            test = "(\(word) && (\(word) & 3) != 2)"
        case .abstract(.i31):
            test = "(\(word) & 1)"
        case .abstract(.structRef):
            test = "(GC_IS_OBJ(\(v)) && GC_RTT(\(v))->kind == KILN_RTT_STRUCT)"
        case .abstract(.arrayRef):
            test = "(GC_IS_OBJ(\(v)) && GC_RTT(\(v))->kind == KILN_RTT_ARRAY)"
        case .abstract:
            test = "0"  // none, nofunc, noextern, noexn: only null
        case .concrete(let index):
            if case .function = module.definitions[Int(index)].body {
                test = "(\(v) && (!\(signatureMismatch(typeIndex: Int(index), sig: "((kiln_funcref *)(\(v)))->sig", record: v))))"
            } else {
                test = "(GC_IS_OBJ(\(v)) && \(rttMatches("GC_RTT(\(v))", typeIndex: Int(index))))"
            }
        }
        return target.isNullable ? "(!\(v) || \(test))" : test
    }
}
