import KilnRuntimeC
import WasmParser
import WasmTypes

/// Owns every runtime object of a group of instances: memories, tables, globals, function
/// records, host closures and the execution state.
///
/// Handles (``Function``, ``Memory``, ...) keep the store alive; the store never holds a
/// handle, so there are no cycles and everything is freed when the last handle goes. Objects of
/// one store cannot be used in another.
///
/// A store runs one call at a time: use it from one thread at a time (async calls, which run on
/// the store's own thread, are queued). After a trap the store stays usable.
public final class Store: @unchecked Sendable {
    /// The engine whose modules run in this store.
    public let engine: Engine
    /// Anything the embedder wants host functions to reach through ``Caller/userData``.
    public var userData: Any?

    let exec: UnsafeMutablePointer<kiln_exec>
    /// The GC heap (gc.c): its objects live as long as the store, or until collected.
    let heap: OpaquePointer
    /// Canonical record of every function this store knows, by record address.
    var functions: [UnsafeMutableRawPointer: FunctionEntity] = [:]
    var instances: [InstanceEntity] = []
    /// Each module of `instances` once, for backtraces (a store may hold thousands of instances
    /// of one module).
    private(set) var modules: [Module] = []
    private var moduleIDs: Set<ObjectIdentifier> = []

    func addInstance(_ instance: InstanceEntity) {
        instances.append(instance)
        if moduleIDs.insert(ObjectIdentifier(instance.module)).inserted { modules.append(instance.module) }
    }
    private(set) var memories: [UnsafeMutablePointer<kiln_memory>] = []
    private(set) var tables: [UnsafeMutablePointer<kiln_table>] = []
    private var allocations: [UnsafeMutableRawPointer] = []
    private var externRefs: [ObjectIdentifier: ExternRef] = [:]
    private var hostBoxes: [HostFunctionBox] = []
    /// The error a host function threw, waiting for the trap it caused to reach Swift.
    var pendingHostError: (any Error)?
    /// Limits and limiter (Limits.swift).
    let control = StoreControl()
    /// The store's thread for async calls, and the threads waiting in async host functions.
    let scheduler = StoreScheduler()
    /// Host functions made from a Linker's `defineFunction` closures, by definition.
    var linkerFunctions: [ObjectIdentifier: (definition: AnyObject, record: UnsafeMutablePointer<kiln_funcref>)] = [:]

    /// An empty store.
    public init(engine: Engine) {
        self.engine = engine
        exec = .allocate(capacity: 1)
        exec.initialize(to: kiln_exec())
        guard let heap = kiln_heap_create(exec) else { fatalError("kiln: out of memory creating a store") }
        self.heap = heap
        exec.pointee.heap = heap
        kiln_heap_set_limit(heap, engine.configuration.gcHeapLimit ?? 0)
        prepareControl()
    }

    deinit {
        scheduler.shutdown()
        for memory in memories {
            kiln_memory_destroy(memory)
            memory.deallocate()
        }
        for table in tables {
            kiln_table_destroy(table)
            table.deallocate()
        }
        for allocation in allocations { allocation.deallocate() }
        kiln_clock_detach(engine.clock, exec)
        kiln_exec_release(exec)
        kiln_heap_destroy(heap)
        exec.deallocate()
    }

    // MARK: - Allocation

    func allocate<T>(_ type: T.Type, count: Int, initialValue: T) -> UnsafeMutablePointer<T> {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        pointer.initialize(repeating: initialValue, count: max(count, 1))
        allocations.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    func makeMemory(_ type: MemoryType) throws(KilnError) -> UnsafeMutablePointer<kiln_memory> {
        try checkMemoryLimits(type.min)
        let memory = UnsafeMutablePointer<kiln_memory>.allocate(capacity: 1)
        memory.initialize(to: kiln_memory())
        // Memories of both address types hold at most 65536 pages (4 GiB): the generated code's
        // bounds checks rely on it (see MEM64 in the prelude).
        guard type.min <= 65536 else {
            memory.deallocate()
            throw KilnError.unlinkable(reason: "a memory of \(type.min) pages is larger than Kiln supports (65536 pages, 4 GiB)")
        }
        guard kiln_memory_create(memory, type.min, min(type.max ?? 65536, 65536)) == 0 else {
            memory.deallocate()
            throw KilnError.unlinkable(reason: "cannot reserve address space for a memory of \(type.min) pages")
        }
        memories.append(memory)
        memoryTypes[memory] = type
        return memory
    }

    private var memoryTypes: [UnsafeMutablePointer<kiln_memory>: MemoryType] = [:]
    /// The type of every tag of this store.
    var tagTypes: [UnsafeMutablePointer<kiln_tag>: FunctionType] = [:]
    private var tableLimits: [UnsafeMutablePointer<kiln_table>: Limits] = [:]

    /// The table's limits as declared (address type and maximum), with its current size as the minimum.
    func declaredLimits(of table: UnsafeMutablePointer<kiln_table>) -> Limits {
        var limits = tableLimits[table] ?? Limits(min: 0, max: table.pointee.max == UInt32.max ? nil : UInt64(table.pointee.max))
        limits.min = UInt64(table.pointee.size)
        return limits
    }

    /// The memory's limits as declared, with its current size as the minimum.
    func declaredLimits(of memory: UnsafeMutablePointer<kiln_memory>) -> Limits {
        var limits = memoryTypes[memory] ?? Limits(min: 0, max: nil)
        limits.min = memory.pointee.pages
        return limits
    }

    func makeTable(_ type: TableType, initial: UnsafeMutableRawPointer?) throws(KilnError) -> UnsafeMutablePointer<kiln_table> {
        try checkTableLimits(type.limits.min)
        let table = UnsafeMutablePointer<kiln_table>.allocate(capacity: 1)
        table.initialize(to: kiln_table())
        let maximum = UInt32(clamping: type.limits.max ?? UInt64(UInt32.max))
        guard type.limits.min <= UInt64(UInt32.max), kiln_table_reserve(table, UInt32(type.limits.min), maximum) == 0 else {
            table.deallocate()
            throw KilnError.unlinkable(reason: "cannot allocate a table of \(type.limits.min) elements")
        }
        tableLimits[table] = type.limits
        // Slots of function tables copy the function's record; other references are kept as is.
        switch type.elementType.heapType {
        case .funcRef, .abstract(.noFunc), .concrete: table.pointee.is_funcref = 1
        default: table.pointee.is_funcref = 0
        }
        tables.append(table)
        kiln_gc_add_table(heap, table)
        let slot = tableSlot(for: initial, isFuncRef: table.pointee.is_funcref != 0)
        // Fresh slots are zero pages, which is null: only a non-null initial value is written.
        if initial != nil { for index in 0..<Int(table.pointee.size) { table.pointee.elems[index] = slot } }
        return table
    }

    func tableSlot(for reference: UnsafeMutableRawPointer?, isFuncRef: Bool) -> kiln_funcref {
        kiln_table_element(reference, isFuncRef ? 1 : 0)
    }

    func makeGlobalCell(_ value: kiln_value) -> UnsafeMutablePointer<kiln_value> {
        let cell = allocate(kiln_value.self, count: 1, initialValue: value)
        kiln_gc_add_values(heap, cell, 1)
        return cell
    }

    func retainExtern(_ reference: ExternRef) { externRefs[ObjectIdentifier(reference)] = reference }

    // MARK: - Types of tables and globals across modules

    /// Reference types of tables and globals that instances defined, where the embedding API's
    /// view (funcref or externref tables; a global's type in its module's type indices) is not
    /// enough to check an import against: concrete reference types, made comparable across
    /// modules (`CanonicalTypes`), and non-nullable ones.
    private var tableElementTypes: [UnsafeMutablePointer<kiln_table>: ReferenceType] = [:]
    private var globalValueTypes: [UnsafeMutablePointer<kiln_value>: ValueType] = [:]

    func recordType(of table: UnsafeMutablePointer<kiln_table>, _ type: ReferenceType, signatureIDs: [UInt64]) {
        guard type != .funcRef && type != .externRef else { return }
        tableElementTypes[table] = CanonicalTypes.reference(type, signatureIDs: signatureIDs)
    }

    func recordType(of cell: UnsafeMutablePointer<kiln_value>, _ type: ValueType, signatureIDs: [UInt64]) {
        guard case .ref(let reference) = type, reference != .funcRef, reference != .externRef else { return }
        globalValueTypes[cell] = CanonicalTypes.value(type, signatureIDs: signatureIDs)
    }

    /// The element type of a table, for import matching.
    func elementType(of table: Table) -> ReferenceType {
        tableElementTypes[table.table] ?? table.elementType
    }

    /// The value type of a global, for import matching.
    func valueType(of global: Global) -> ValueType {
        globalValueTypes[global.cell] ?? global.type.valueType
    }

    /// A canonical function record owned by this store.
    /// `tailThunk(tailCode, context, values)` is how a tail call runs the function.
    func makeFunctionRecord(signature: UInt64, code: UnsafeMutableRawPointer, context: UnsafeMutableRawPointer,
                            tailThunk: UnsafeMutableRawPointer, tailCode: UnsafeMutableRawPointer, codeSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>? = nil,
                            entity: FunctionEntity) -> UnsafeMutablePointer<kiln_funcref> {
        let function = allocate(kiln_function.self, count: 1, initialValue: kiln_function())
        // The record comes first: a funcref value is a pointer to it, and to the whole.
        let record = UnsafeMutableRawPointer(function).assumingMemoryBound(to: kiln_funcref.self)
        function.pointee = kiln_function(
            record: kiln_funcref(sig: signature, code: code, ctx: context, ref: UnsafeMutableRawPointer(record)),
            tail_thunk: tailThunk, tail_code: tailCode, code_slot: codeSlot,
            rtt: engine.rtt(id: signature, body: .function(entity.type)))
        functions[UnsafeMutableRawPointer(record)] = entity
        reserveTailCallArguments(for: entity.type)
        return record
    }

    /// A copy of a function's whole record (`kiln_function`) with another context.
    func copyFunctionRecord(_ record: UnsafeMutablePointer<kiln_funcref>, context: UnsafeMutableRawPointer) -> UnsafeMutablePointer<kiln_funcref> {
        let original = UnsafeMutableRawPointer(record).assumingMemoryBound(to: kiln_function.self)
        let copy = allocate(kiln_function.self, count: 1, initialValue: original.pointee)
        copy.pointee.record.ctx = context
        return UnsafeMutableRawPointer(copy).assumingMemoryBound(to: kiln_funcref.self)
    }

    /// The tail-call buffer (allocated once, never moved) holds the arguments and results of any
    /// function Wasm code can tail-call: validation keeps types within `KILN_MAX_ARITY`. Only a
    /// host function may be larger, and no validated caller can tail-call one of its type.
    func reserveTailCallArguments(for type: FunctionType) {
        let count = UInt64(max(1, type.parameters.count, type.results.count))
        _ = kiln_exec_reserve_tail(exec, count)
    }

    func retain(_ box: HostFunctionBox) { hostBoxes.append(box) }

    // MARK: - Values across the boundary

    func rawValue(_ value: Value) -> kiln_value {
        var raw = kiln_value()
        switch value {
        case .i32(let v): raw.i32 = v
        case .i64(let v): raw.i64 = v
        case .f32(let v): raw.i32 = v
        case .f64(let v): raw.i64 = v
        case .v128(let bytes):
            withUnsafeMutableBytes(of: &raw) { buffer in
                for (index, byte) in bytes.prefix(16).enumerated() { buffer[index] = byte }
            }
        case .funcRef(let function): raw.ref = function?.record.pointee.ref
        case .exnRef(let reference): raw.ref = reference?.exception
        case .externRef(let reference):
            raw.ref = UnsafeMutableRawPointer(bitPattern: UInt(reference.map(hostWord) ?? 0))
        case .anyRef(let reference):
            raw.ref = UnsafeMutableRawPointer(bitPattern: UInt(reference?.word(in: self) ?? 0))
        }
        return raw
    }

    func value(_ raw: kiln_value, type: ValueType) -> Value {
        switch type {
        case .i32: return .i32(raw.i32)
        case .i64: return .i64(raw.i64)
        case .f32: return .f32(raw.i32)
        case .f64: return .f64(raw.i64)
        case .v128:
            var copy = raw
            return .v128(withUnsafeBytes(of: &copy) { Array($0.prefix(16)) })
        case .ref(let reference):
            if reference.heapType == .externRef || reference.heapType == .abstract(.noExtern) {
                return .externRef(externValue(UInt64(UInt(bitPattern: raw.ref))))
            }
            // The any hierarchy; a concrete type here is a module's index, which the word tells:
            // a function's record or a GC object.
            let word = UInt64(UInt(bitPattern: raw.ref))
            let isConcrete = if case .concrete = reference.heapType { true } else { false }
            if case .anyRef = GCValues.kind(of: reference.heapType, info: nil), !isConcrete {
                return .anyRef(word == 0 ? nil : AnyRef(store: self, word: word))
            }
            if isConcrete, word != 0, functions[raw.ref!] == nil {
                return .anyRef(AnyRef(store: self, word: word))
            }
            if reference.heapType == .abstract(.exnRef) || reference.heapType == .abstract(.noExn) {
                guard let pointer = raw.ref else { return .exnRef(nil) }
                // Held by Swift now: freed with the store, not when Wasm code catches it again.
                kiln_exception_keep(exec, pointer.assumingMemoryBound(to: kiln_exception.self))
                return .exnRef(ExnRef(exception: pointer, store: self))
            }
            return .funcRef(function(fromReference: raw.ref))
        }
    }

    func function(fromReference reference: UnsafeMutableRawPointer?) -> Function? {
        guard let reference, functions[reference] != nil else { return nil }
        return Function(store: self, record: reference.assumingMemoryBound(to: kiln_funcref.self))
    }

    // MARK: - Traps

    func trap(code: UInt32) -> any Error {
        if code == UInt32(KILN_TRAP_EXCEPTION) { return takeException() }
        if code == UInt32(KILN_TRAP_HOST), let error = pendingHostError {
            pendingHostError = nil
            // A trap of an inner call that a host function let through: its frames, then the
            // Wasm frames that called the host function.
            if var trap = error as? Trap {
                trap.backtrace += trapBacktrace()
                return trap
            }
            return error
        }
        return Trap(reason: TrapReason(rawValue: code) ?? .unreachable, backtrace: trapBacktrace(), underlying: nil)
    }

    /// The Wasm frames of the trap just taken, innermost first.
    private func trapBacktrace() -> [Trap.Frame] {
        var addresses = [UnsafeMutableRawPointer?](repeating: nil, count: 64)
        let count = Int(kiln_trap_backtrace(&addresses, 64))
        var frames: [Trap.Frame] = []
        for address in addresses.prefix(count) {
            guard let address else { continue }
            // A return address points just past the call: look one byte back.
            let lookup = UnsafeRawPointer(address) - (frames.isEmpty && count > 0 ? 0 : 1)
            for module in modules {
                if let index = module.functionIndex(containing: lookup) {
                    frames.append(Trap.Frame(functionIndex: index, functionName: module.functionName(index), moduleName: module.info.names.module))
                    break
                }
            }
        }
        return frames
    }
}

/// What a store knows about one function.
final class FunctionEntity {
    let type: FunctionType
    /// Entry thunk for calls from Swift; nil for host functions, which Swift calls directly.
    let thunk: kiln_thunk?
    let host: HostFunctionBox?
    /// Keeps the defining module's code alive.
    let module: Module?

    init(type: FunctionType, thunk: kiln_thunk?, host: HostFunctionBox?, module: Module?) {
        self.type = type
        self.thunk = thunk
        self.host = host
        self.module = module
    }
}

/// An instantiated module's runtime state.
final class InstanceEntity {
    let module: Module
    let context: UnsafeMutablePointer<kiln_instance>
    /// Exports by name bytes (names are compared as UTF-8 bytes, not as Swift strings).
    var exports: [[UInt8]: ExternAddress] = [:]
    var exportOrder: [(name: String, value: ExternAddress)] = []

    init(module: Module, context: UnsafeMutablePointer<kiln_instance>) {
        self.module = module
        self.context = context
    }
}

/// An extern as the store holds it: addresses, no handles (handles would keep the store alive).
enum ExternAddress {
    case function(UnsafeMutablePointer<kiln_funcref>)
    case table(UnsafeMutablePointer<kiln_table>)
    case memory(UnsafeMutablePointer<kiln_memory>)
    case global(UnsafeMutablePointer<kiln_value>, GlobalType)
    case tag(UnsafeMutablePointer<kiln_tag>)
}
