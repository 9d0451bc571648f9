import KilnRuntimeC
import WasmParser
import WasmTypes

/// Module + resolved imports -> a running instance: allocates the instance's runtime state,
/// evaluates initializers, applies active segments and runs the start function.
struct Instantiation {
    let module: Module
    let store: Store
    let imports: [Extern]

    private var info: ModuleInfo { module.info }

    func run() throws -> Instance {
        try checkImports()
        try store.checkInstantiationLimits(info)
        let context = store.allocate(kiln_instance.self, count: 1, initialValue: kiln_instance())
        let entity = InstanceEntity(module: module, context: context)
        context.pointee.exec = store.exec

        let memories = store.allocate(UnsafeMutablePointer<kiln_memory>?.self, count: info.memories.count, initialValue: nil)
        let tables = store.allocate(UnsafeMutablePointer<kiln_table>?.self, count: info.tables.count, initialValue: nil)
        let globals = store.allocate(UnsafeMutablePointer<kiln_value>?.self, count: info.globals.count, initialValue: nil)
        let functions = store.allocate(UnsafeMutablePointer<kiln_funcref>?.self, count: info.functionTypes.count, initialValue: nil)
        let tags = store.allocate(UnsafeMutablePointer<kiln_tag>?.self, count: info.tags.count, initialValue: nil)
        context.pointee.tags = tags
        context.pointee.memories = memories
        context.pointee.tables = tables
        context.pointee.globals = globals
        context.pointee.funcs = functions
        context.pointee.code = module.codeTable.slots
        context.pointee.rtts = module.rtts.pointer
        context.pointee.host = Unmanaged.passUnretained(entity).toOpaque()

        var counts = (function: 0, table: 0, memory: 0, global: 0, tag: 0)
        for (entry, extern) in zip(info.imports, imports) {
            switch (entry.descriptor, extern) {
            case (.function, .function(let function)):
                functions[counts.function] = importedFunctionRecord(function, caller: context)
                counts.function += 1
            case (.table, .table(let table)):
                tables[counts.table] = table.table
                counts.table += 1
            case (.memory, .memory(let memory)):
                memories[counts.memory] = memory.memory
                counts.memory += 1
            case (.global, .global(let global)):
                globals[counts.global] = global.cell
                counts.global += 1
            case (.tag, .tag(let tag)):
                tags[counts.tag] = tag.tag
                counts.tag += 1
            default: break
            }
        }
        for index in info.importedFunctionCount..<info.functionTypes.count {
            let typeIndex = Int(info.functionTypes[index])
            let function = FunctionEntity(type: info.types[typeIndex], thunk: module.entryThunks[typeIndex], host: nil, module: module)
            let defined = index - info.importedFunctionCount
            functions[index] = store.makeFunctionRecord(
                signature: module.signatureIDs[typeIndex], code: module.codeTable.codeStub(defined),
                context: UnsafeMutableRawPointer(context),
                tailThunk: module.codeTable.tailStub(defined), tailCode: module.codeTable.codeStub(defined),
                codeSlot: module.codeTable.elementCodeSlot(defined), entity: function)
        }
        for index in info.importedTagCount..<info.tags.count {
            let typeIndex = Int(info.tags[index])
            tags[index] = store.makeTag(signature: module.signatureIDs[typeIndex], type: info.types[typeIndex])
        }
        for index in info.importedMemoryCount..<info.memories.count {
            memories[index] = try store.makeMemory(info.memories[index])
        }
        if info.memories.count > 0, let memory = memories[0] { context.pointee.mem0 = memory.pointee.base }
        for index in info.importedGlobalCount..<info.globals.count {
            let value = try evaluate(info.globalInitializers[index - info.importedGlobalCount], context: context)
            let cell = store.makeGlobalCell(value)
            globals[index] = cell
            store.recordType(of: cell, info.globals[index].valueType, signatureIDs: module.signatureIDs)
        }
        for index in info.importedTableCount..<info.tables.count {
            let initializer = info.tableInitializers[index - info.importedTableCount]
            let initial = try initializer.map { try evaluate($0, context: context).ref } ?? nil
            let table = try store.makeTable(info.tables[index], initial: initial)
            tables[index] = table
            store.recordType(of: table, info.tables[index].elementType, signatureIDs: module.signatureIDs)
        }

        // Segments: element references evaluated now, passive data copied out of the module.
        let elements = store.allocate(kiln_elem_segment.self, count: info.elements.count, initialValue: kiln_elem_segment())
        for (index, segment) in info.elements.enumerated() {
            let references = store.allocate(UnsafeMutableRawPointer?.self, count: segment.initializer.count, initialValue: nil)
            for (offset, expression) in segment.initializer.enumerated() {
                references[offset] = try evaluate(expression, context: context).ref
            }
            elements[index] = kiln_elem_segment(refs: references, length: UInt64(segment.initializer.count))
        }
        context.pointee.elems = elements
        kiln_gc_add_elems(store.heap, elements, UInt64(info.elements.count))
        let data = store.allocate(kiln_segment.self, count: info.data.count, initialValue: kiln_segment())
        for (index, segment) in info.data.enumerated() {
            let bytes: ArraySlice<UInt8>
            switch segment {
            case .passive(let passive): bytes = passive
            case .active(let active): bytes = active.initializer
            }
            let copy = store.allocate(UInt8.self, count: bytes.count, initialValue: 0)
            bytes.withUnsafeBufferPointer { copy.update(from: $0.baseAddress!, count: $0.count) }
            data[index] = kiln_segment(bytes: copy, length: UInt64(bytes.count))
        }
        context.pointee.data = data

        for entry in info.exports {
            let address: ExternAddress
            switch entry.descriptor {
            case .function(let index): address = .function(functions[Int(index)]!)
            case .table(let index): address = .table(tables[Int(index)]!)
            case .memory(let index): address = .memory(memories[Int(index)]!)
            case .global(let index): address = .global(globals[Int(index)]!, info.globals[Int(index)])
            case .tag(let index): address = .tag(tags[Int(index)]!)
            }
            entity.exports[Array(entry.name.utf8)] = address
            entity.exportOrder.append((entry.name, address))
        }
        store.addInstance(entity)
        let instance = Instance(store: store, entity: entity)

        try applySegments(context: context)
        if let start = info.start {
            try Function(store: store, record: functions[Int(start)]!).call([])
        }
        return instance
    }

    /// A function import's record in the importer: the exporter's own record for Wasm functions;
    /// for host functions a copy whose context names the importing instance (for `Caller`).
    private func importedFunctionRecord(_ function: Function, caller: UnsafeMutablePointer<kiln_instance>) -> UnsafeMutablePointer<kiln_funcref> {
        guard let host = function.entity.host else { return function.record }
        let record = store.copyFunctionRecord(function.record, context: UnsafeMutableRawPointer(host.makeContext(caller: caller)))
        store.functions[UnsafeMutableRawPointer(record)] = function.entity
        return record
    }

    /// Active segments in order, element segments first; the first that does not fit traps, and
    /// what the earlier ones wrote stays written.
    private func applySegments(context: UnsafeMutablePointer<kiln_instance>) throws {
        for (index, segment) in info.elements.enumerated() {
            switch segment.mode {
            case .active(let table, let offset):
                let value = try evaluate(offset, context: context)
                let start = info.tables[Int(table)].limits.isMemory64 ? value.i64 : UInt64(value.i32)
                let elements = context.pointee.elems[index]
                let target = context.pointee.tables[Int(table)]!
                let size = UInt64(target.pointee.size)
                guard elements.length <= size, start <= size - elements.length else {
                    throw Trap(reason: .tableOutOfBounds, backtrace: [], underlying: nil)
                }
                for offset in 0..<Int(elements.length) {
                    target.pointee.elems[Int(start) + offset] = store.tableSlot(for: elements.refs[offset], isFuncRef: target.pointee.is_funcref != 0)
                }
                context.pointee.elems[index].length = 0
            case .declarative:
                context.pointee.elems[index].length = 0
            case .passive:
                break
            }
        }
        for (index, segment) in info.data.enumerated() {
            guard case .active(let active) = segment else { continue }
            let value = try evaluate(active.offset, context: context)
            let start = info.memories[Int(active.index)].isMemory64 ? value.i64 : UInt64(value.i32)
            let memory = context.pointee.memories[Int(active.index)]!
            let length = UInt64(active.initializer.count)
            let size = memory.pointee.pages * 65536
            guard length <= size, start <= size - length else {
                throw Trap(reason: .memoryOutOfBounds, backtrace: [], underlying: nil)
            }
            let segmentData = context.pointee.data[index]
            if length > 0 { (memory.pointee.base + Int(start)).update(from: segmentData.bytes, count: Int(length)) }
            context.pointee.data[index].length = 0
        }
    }

    /// Evaluates a constant expression (validated: constants, ref.null, ref.func, global.get and
    /// the extended-const integer arithmetic).
    private func evaluate(_ expression: ConstExpression, context: UnsafeMutablePointer<kiln_instance>) throws -> kiln_value {
        var stack: [kiln_value] = []
        func value(_ make: (inout kiln_value) -> Void) -> kiln_value {
            var v = kiln_value()
            make(&v)
            return v
        }
        for instruction in expression {
            switch instruction {
            case .i32Const(let v): stack.append(value { $0.i32 = UInt32(bitPattern: v) })
            case .i64Const(let v): stack.append(value { $0.i64 = UInt64(bitPattern: v) })
            case .f32Const(let v): stack.append(value { $0.i32 = v.bitPattern })
            case .f64Const(let v): stack.append(value { $0.i64 = v.bitPattern })
            case .v128Const(let v):
                stack.append(value { raw in
                    withUnsafeMutableBytes(of: &raw) { buffer in
                        for (index, byte) in v.bytes.enumerated() { buffer[index] = byte }
                    }
                })
            case .refNull: stack.append(value { $0.ref = nil })
            case .refFunc(let index): stack.append(value { $0.ref = context.pointee.funcs[Int(index)]!.pointee.ref })
            case .globalGet(let index): stack.append(context.pointee.globals[Int(index)]!.pointee)
            case .binary(let op):
                let b = stack.removeLast()
                let a = stack.removeLast()
                switch op {
                case .i32Add: stack.append(value { $0.i32 = a.i32 &+ b.i32 })
                case .i32Sub: stack.append(value { $0.i32 = a.i32 &- b.i32 })
                case .i32Mul: stack.append(value { $0.i32 = a.i32 &* b.i32 })
                case .i64Add: stack.append(value { $0.i64 = a.i64 &+ b.i64 })
                case .i64Sub: stack.append(value { $0.i64 = a.i64 &- b.i64 })
                case .i64Mul: stack.append(value { $0.i64 = a.i64 &* b.i64 })
                default: throw KilnError.invalid(reason: "constant expression required", function: nil, offset: nil)
                }
            case .end: break
            default:
                // GC allocations and conversions (GCConstants): never a collection here.
                guard try evaluateGC(instruction, stack: &stack, context: context) else {
                    throw KilnError.invalid(reason: "constant expression required", function: nil, offset: nil)
                }
            }
        }
        return stack.last ?? kiln_value()
    }

    private func checkImports() throws {
        guard imports.count == info.imports.count else {
            throw KilnError.unlinkable(reason: "expected \(info.imports.count) imports, got \(imports.count)")
        }
        guard module.engine === store.engine else {
            throw KilnError.invalidOperation(reason: "the module was compiled by another engine than the store's")
        }
        for (entry, extern) in zip(info.imports, imports) {
            let name = "\(entry.module).\(entry.name)"
            guard extern.store === store else { throw KilnError.unlinkable(reason: "import \(name) belongs to another store") }
            func incompatible(_ expected: String, _ actual: String) -> KilnError {
                KilnError.unlinkable(reason: "incompatible import type for \(name): expected \(expected), got \(actual)")
            }
            switch (entry.descriptor, extern) {
            case (.function(let typeIndex), .function(let function)):
                // The function's type may be a declared subtype of the import's (Wasm 3.0).
                guard module.engine.isSubtype(function.record.pointee.sig, of: module.signatureIDs[Int(typeIndex)]) else {
                    throw incompatible("function \(info.types[Int(typeIndex)].wasmText)", "function \(function.type.wasmText)")
                }
            case (.table(let type), .table(let table)):
                let actual = table.type
                // Element types must be equal (reference types compared across modules).
                let expectedElement = CanonicalTypes.reference(type.elementType, signatureIDs: module.signatureIDs)
                guard store.elementType(of: table) == expectedElement, limitsMatch(actual.limits, type.limits) else {
                    throw incompatible("table \(type.wasmText)", "table \(actual.wasmText)")
                }
            case (.memory(let type), .memory(let memory)):
                let actual = store.declaredLimits(of: memory.memory)
                guard limitsMatch(actual, type) else {
                    throw incompatible("memory \(type.wasmText)", "memory \(actual.wasmText)")
                }
            case (.global(let type), .global(let global)):
                // A constant global's type may be a subtype of the import's; a variable's must be equal.
                let actual = store.valueType(of: global)
                let expected = CanonicalTypes.value(type.valueType, signatureIDs: module.signatureIDs)
                let typesMatch = type.mutability == .variable ? actual == expected : CanonicalTypes.matches(actual, expected, isSubtype: module.engine.isSubtype)
                guard global.type.mutability == type.mutability, typesMatch else {
                    throw incompatible("global \(type.wasmText)", "global \(global.type.wasmText)")
                }
            case (.tag(let typeIndex), .tag(let tag)):
                guard tag.tag.pointee.sig == module.signatureIDs[Int(typeIndex)] else {
                    throw incompatible("tag \(info.types[Int(typeIndex)].wasmText)", "tag \(tag.type.wasmText)")
                }
            default:
                let expected: String
                switch entry.descriptor {
                case .function: expected = "a function"
                case .table: expected = "a table"
                case .memory: expected = "a memory"
                case .global: expected = "a global"
                case .tag: expected = "a tag"
                }
                throw incompatible(expected, extern.kindText)
            }
        }
    }

    private func limitsMatch(_ actual: Limits, _ required: Limits) -> Bool {
        // A 64-bit memory or table only matches a 64-bit import, a 32-bit one a 32-bit import.
        guard actual.isMemory64 == required.isMemory64 else { return false }
        guard actual.min >= required.min else { return false }
        guard let requiredMax = required.max else { return true }
        guard let actualMax = actual.max else { return false }
        return actualMax <= requiredMax
    }
}

extension Instance {
    /// Instantiates with imports given in the module's import order.
    public convenience init(store: Store, module: Module, imports: [Extern] = []) throws {
        let instance = try Instantiation(module: module, store: store, imports: imports).run()
        self.init(store: store, entity: instance.entity)
    }
}
