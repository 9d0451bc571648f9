import KilnRuntimeC
import WasmParser
import WasmTypes

/// A table's element type and limits (in elements).
public typealias TableType = WasmParser.TableType
/// A memory's limits, in 64 KiB pages.
public typealias MemoryType = WasmParser.MemoryType
/// A global's value type and mutability.
public typealias GlobalType = WasmParser.GlobalType

/// Anything a module can import or export: a function, table, memory or global of a store.
public enum Extern: @unchecked Sendable {
    /// A Wasm or host function.
    case function(Function)
    /// A table of references.
    case table(Table)
    /// A linear memory.
    case memory(Memory)
    /// A global variable.
    case global(Global)
    /// An exception tag.
    case tag(Tag)

    init(store: Store, address: ExternAddress) {
        switch address {
        case .function(let record): self = .function(Function(store: store, record: record))
        case .table(let table): self = .table(Table(store: store, table: table))
        case .memory(let memory): self = .memory(Memory(store: store, memory: memory))
        case .global(let cell, let type): self = .global(Global(store: store, cell: cell, type: type))
        case .tag(let tag): self = .tag(Tag(store: store, tag: tag))
        }
    }

    var address: ExternAddress {
        switch self {
        case .function(let f): return .function(f.record)
        case .table(let t): return .table(t.table)
        case .memory(let m): return .memory(m.memory)
        case .global(let g): return .global(g.cell, g.type)
        case .tag(let t): return .tag(t.tag)
        }
    }

    var store: Store {
        switch self {
        case .function(let f): return f.store
        case .table(let t): return t.store
        case .memory(let m): return m.store
        case .global(let g): return g.store
        case .tag(let t): return t.store
        }
    }

    /// The function, if this is one.
    public var function: Function? { if case .function(let f) = self { f } else { nil } }
    /// The table, if this is one.
    public var table: Table? { if case .table(let t) = self { t } else { nil } }
    /// The memory, if this is one.
    public var memory: Memory? { if case .memory(let m) = self { m } else { nil } }
    /// The global, if this is one.
    public var global: Global? { if case .global(let g) = self { g } else { nil } }
    /// The tag, if this is one.
    public var tag: Tag? { if case .tag(let t) = self { t } else { nil } }

    /// The extern's type, as imports and exports describe it.
    public var type: Module.ExternType {
        switch self {
        case .function(let f): return .function(f.type)
        case .table(let t): return .table(t.type)
        case .memory(let m): return .memory(m.type)
        case .global(let g): return .global(g.type)
        case .tag(let t): return .tag(t.type)
        }
    }

    var kindText: String { type.wasmText }
}

/// A linear memory: bytes the Wasm code loads from and stores to, in pages of 64 KiB.
///
/// ```swift
/// let memory = try Memory(store: store, minimum: 1, maximum: 4)
/// try memory.write(Array("Hello".utf8), at: 16)
/// let bytes = try memory.read(at: 16, count: 5)          // bounds-checked copy
/// memory.grow(by: 1)                                      // old size in pages, or nil
/// memory.withUnsafeMutableBytes { buffer in buffer[0] = 42 }   // direct access
/// ```
///
/// Its base address never moves (the whole addressable range is reserved up front), so a buffer
/// from ``withUnsafeMutableBytes(_:)`` stays valid as long as the memory; only its length is
/// the size at the time of the call.
public final class Memory: @unchecked Sendable {
    /// The store the memory belongs to.
    public let store: Store
    let memory: UnsafeMutablePointer<kiln_memory>

    init(store: Store, memory: UnsafeMutablePointer<kiln_memory>) {
        self.store = store
        self.memory = memory
    }

    /// Creates a memory of `type.min` pages that can grow up to `type.max` pages (65536 when nil).
    /// A 64-bit memory (`type.isMemory64`, memory64) may declare a maximum up to 2^48 pages, but
    /// Kiln's memories of either address type hold at most 65536 pages (4 GiB): growing past
    /// that fails.
    public convenience init(store: Store, type: MemoryType) throws(KilnError) {
        guard !type.shared else { throw KilnError.unsupported(feature: "shared memory") }
        let bound: UInt64 = type.isMemory64 ? 1 << 48 : 65536
        guard type.min <= bound, (type.max ?? 0) <= bound, type.min <= (type.max ?? bound) else {
            throw KilnError.invalidOperation(reason: "memory limits \(type.wasmText) are invalid (at most \(type.isMemory64 ? "2^48" : "65536") pages, min <= max)")
        }
        self.init(store: store, memory: try store.makeMemory(type))
    }

    /// Creates a memory of `minimum` pages that can grow up to `maximum` pages.
    public convenience init(store: Store, minimum: Int, maximum: Int? = nil) throws(KilnError) {
        guard minimum >= 0, (maximum ?? 0) >= 0 else { throw KilnError.invalidOperation(reason: "negative memory limits") }
        try self.init(store: store, type: MemoryType(min: UInt64(minimum), max: maximum.map(UInt64.init)))
    }

    /// Bytes in a page: 65536.
    public static let pageSize = 65536
    /// The current size in pages.
    public var pages: Int { Int(memory.pointee.pages) }
    /// The current size in bytes.
    public var byteCount: Int { pages * Memory.pageSize }
    /// The most pages it can grow to.
    public var maximumPages: Int { Int(memory.pointee.max_pages) }
    /// The memory's type: its declared maximum, and its current size as the minimum.
    public var type: MemoryType { store.declaredLimits(of: memory) }

    /// Grows by `delta` pages (zero-filled); returns the old size in pages, or nil if it cannot
    /// grow that much.
    @discardableResult
    public func grow(by delta: Int) -> Int? {
        guard delta >= 0 else { return nil }
        let old = kiln_memory_grow_raw(memory, UInt64(delta))
        return old == UInt64.max ? nil : Int(old)
    }

    /// Copies `count` bytes out of the memory.
    /// - Throws: ``KilnError/invalidOperation(reason:)`` if the range is not inside it (host
    ///   misuse, not something Wasm code did; throwing it from a host function still stops the
    ///   Wasm call, and the call rethrows it).
    public func read(at offset: Int, count: Int) throws(KilnError) -> [UInt8] {
        try checkRange(offset, count, "read")
        return Array(UnsafeBufferPointer(start: memory.pointee.base + offset, count: count))
    }

    /// Copies bytes into the memory.
    /// - Throws: ``KilnError/invalidOperation(reason:)`` if the range is not inside it (nothing
    ///   is written then).
    public func write(_ bytes: [UInt8], at offset: Int) throws(KilnError) {
        try checkRange(offset, bytes.count, "write")
        bytes.withUnsafeBufferPointer { source in
            guard let start = source.baseAddress else { return }
            (memory.pointee.base + offset).update(from: start, count: source.count)
        }
    }

    /// Direct read access to the memory's current bytes. The buffer's base address stays valid
    /// while the memory lives; its count is the size now (it does not follow `grow`).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: memory.pointee.base, count: byteCount))
    }

    /// Direct access to the memory's current bytes; see ``withUnsafeBytes(_:)``.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: memory.pointee.base, count: byteCount))
    }

    private func checkRange(_ offset: Int, _ count: Int, _ operation: String) throws(KilnError) {
        let size = byteCount
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw KilnError.invalidOperation(
                reason: "Memory.\(operation)(at: \(offset), count: \(count)) is outside the memory's \(size) bytes (\(pages) pages); "
                    + "check the range against byteCount, or grow(by:) the memory first")
        }
    }
}

/// A table of references (`funcref` or `externref`), the targets of `call_indirect`.
///
/// ```swift
/// let table = try Table(store: store, elementType: .funcRef, minimum: 10, maximum: 20)
/// try table.set(0, .funcRef(add))
/// if case .funcRef(let function?) = table.get(0) {
///     print(function.type)                          // (i32, i32) -> i32
///     try function.call([.i32(1), .i32(2)])         // [.i32(3)]
/// }
/// table.grow(by: 5, value: .funcRef(nil))           // old size, or nil past the maximum
/// ```
public final class Table: @unchecked Sendable {
    /// The store the table belongs to.
    public let store: Store
    let table: UnsafeMutablePointer<kiln_table>

    init(store: Store, table: UnsafeMutablePointer<kiln_table>) {
        self.store = store
        self.table = table
    }

    /// Creates a table of `type.limits.min` elements, all `initialValue` (null when nil).
    public convenience init(store: Store, type: TableType, initialValue: Value? = nil) throws(KilnError) {
        guard type.elementType.heapType == .funcRef || type.elementType.heapType == .externRef else {
            throw KilnError.unsupported(feature: "table of \(type.elementType.wasmText)")
        }
        // A 64-bit table (table64) may declare any u64 maximum; tables hold at most 2^32-1
        // elements either way.
        let bound = type.limits.isMemory64 ? UInt64.max : UInt64(UInt32.max)
        guard type.limits.min <= UInt64(UInt32.max), (type.limits.max ?? 0) <= bound, type.limits.min <= (type.limits.max ?? bound)
        else { throw KilnError.invalidOperation(reason: "table limits \(type.limits.wasmText) are invalid") }
        if let initialValue {
            guard initialValue.matches(.ref(type.elementType)) else {
                throw KilnError.typeMismatch(reason: "initial value \(initialValue.type.wasmText) for a table of \(type.elementType.wasmText)")
            }
            try store.checkOwnership(initialValue)
        }
        let initial = initialValue.map { store.rawValue($0).ref } ?? nil
        self.init(store: store, table: try store.makeTable(type, initial: initial))
    }

    /// Creates a table of `minimum` null references (or `initialValue`s) of `elementType`
    /// (`.funcRef` or `.externRef`) that can grow up to `maximum` elements.
    public convenience init(
        store: Store, elementType: ReferenceType, minimum: Int, maximum: Int? = nil, initialValue: Value? = nil
    ) throws(KilnError) {
        guard minimum >= 0, (maximum ?? 0) >= 0 else { throw KilnError.invalidOperation(reason: "negative table limits") }
        try self.init(
            store: store, type: TableType(elementType: elementType, limits: Limits(min: UInt64(minimum), max: maximum.map(UInt64.init))),
            initialValue: initialValue)
    }

    /// The current number of elements.
    public var size: Int { Int(table.pointee.size) }
    var isFuncRef: Bool { table.pointee.is_funcref != 0 }
    /// `.funcRef` or `.externRef`.
    public var elementType: ReferenceType { isFuncRef ? .funcRef : .externRef }
    /// The most elements it can grow to, or nil when unbounded.
    public var maximumSize: Int? { table.pointee.max == UInt32.max ? nil : Int(table.pointee.max) }
    /// The table's type: its maximum as declared, and its current size as the minimum.
    public var type: TableType {
        TableType(elementType: elementType, limits: store.declaredLimits(of: table))
    }

    /// The element at `index` (`.funcRef(nil)` or `.externRef(nil)` when empty), or nil when
    /// `index` is out of bounds. A function read from a table can be inspected and called.
    public func get(_ index: Int) -> Value? {
        guard index >= 0, index < size else { return nil }
        var raw = kiln_value()
        raw.ref = table.pointee.elems[index].ref
        return store.value(raw, type: .ref(elementType))
    }

    /// Sets the element at `index`.
    /// - Throws: ``KilnError/invalidOperation(reason:)`` when `index` is out of bounds,
    ///   ``KilnError/typeMismatch(reason:)`` for a value of the wrong type.
    public func set(_ index: Int, _ value: Value) throws(KilnError) {
        guard index >= 0, index < size else {
            throw KilnError.invalidOperation(
                reason: "Table.set(\(index), _) is outside the table's \(size) elements; check the index against size, or grow(by:) the table first")
        }
        guard value.matches(.ref(elementType)) else {
            throw KilnError.typeMismatch(reason: "cannot store \(value.type.wasmText) in a table of \(elementType.wasmText)")
        }
        try store.checkOwnership(value)
        table.pointee.elems[index] = store.tableSlot(for: store.rawValue(value).ref, isFuncRef: isFuncRef)
    }

    /// Grows by `delta` elements set to `value` (null when nil); returns the old size, or nil
    /// when it cannot grow that much (or `value` has the wrong type or store).
    @discardableResult
    public func grow(by delta: Int, value: Value? = nil) -> Int? {
        guard delta >= 0, delta <= Int(UInt32.max) else { return nil }
        if let value {
            guard value.matches(.ref(elementType)), (try? store.checkOwnership(value)) != nil else { return nil }
        }
        let slot = store.tableSlot(for: value.map { store.rawValue($0).ref } ?? nil, isFuncRef: isFuncRef)
        let old = kiln_table_grow_raw(table, UInt32(delta), slot)
        return old == UInt32.max ? nil : Int(old)
    }
}

/// A global variable: a cell that importers share with the exporter.
///
/// ```swift
/// let counter = try Global(store: store, value: .i32(0), mutable: true)
/// try counter.set(.i32(5))
/// counter.value                                      // .i32(5)
/// ```
public final class Global: @unchecked Sendable {
    /// The store the global belongs to.
    public let store: Store
    let cell: UnsafeMutablePointer<kiln_value>
    /// The global's value type and mutability.
    public let type: GlobalType

    init(store: Store, cell: UnsafeMutablePointer<kiln_value>, type: GlobalType) {
        self.store = store
        self.cell = cell
        self.type = type
    }

    /// Creates a global of `type` holding `value`.
    public convenience init(store: Store, type: GlobalType, value: Value) throws(KilnError) {
        guard value.matches(type.valueType) else {
            throw KilnError.typeMismatch(reason: "initial value \(value.type.wasmText) for a global of \(type.valueType.wasmText)")
        }
        try store.checkOwnership(value)
        self.init(store: store, cell: store.makeGlobalCell(store.rawValue(value)), type: type)
    }

    /// Creates a global of `value`'s type, mutable or not.
    public convenience init(store: Store, value: Value, mutable: Bool = false) throws(KilnError) {
        try self.init(store: store, type: GlobalType(mutability: mutable ? .variable : .constant, valueType: value.type), value: value)
    }

    /// The current value.
    public var value: Value { store.value(cell.pointee, type: type.valueType) }

    /// Whether `set` may change the value.
    public var isMutable: Bool { type.mutability == .variable }

    /// Sets the value.
    /// - Throws: ``KilnError/invalidOperation(reason:)`` when the global is immutable,
    ///   ``KilnError/typeMismatch(reason:)`` for a value of another type.
    public func set(_ value: Value) throws {
        guard type.mutability == .variable else { throw KilnError.invalidOperation(reason: "global is immutable") }
        guard value.matches(type.valueType) else {
            throw KilnError.typeMismatch(reason: "cannot set a global of \(type.valueType.wasmText) to \(value.type.wasmText)")
        }
        try store.checkOwnership(value)
        cell.pointee = store.rawValue(value)
    }
}

/// An instantiated module: its functions, tables, memories and globals in a store.
///
/// Create one with ``Linker/instantiate(_:store:)-4g46t`` (imports by name) or
/// ``init(store:module:imports:)`` (imports in order); reach its exports by name.
public final class Instance: @unchecked Sendable {
    /// The store the instance lives in.
    public let store: Store
    let entity: InstanceEntity

    init(store: Store, entity: InstanceEntity) {
        self.store = store
        self.entity = entity
    }

    /// The module this is an instance of.
    public var module: Module { entity.module }

    /// The export with this name, compared as UTF-8 bytes.
    public func export(_ name: String) -> Extern? {
        entity.exports[Array(name.utf8)].map { Extern(store: store, address: $0) }
    }
    /// The exported function with this name (nil if there is none, or it is not a function).
    public func function(_ name: String) -> Function? { export(name)?.function }
    /// The exported memory with this name.
    public func memory(_ name: String) -> Memory? { export(name)?.memory }
    /// The exported table with this name.
    public func table(_ name: String) -> Table? { export(name)?.table }
    /// The exported global with this name.
    public func global(_ name: String) -> Global? { export(name)?.global }

    /// Every export, in the module's order.
    public var exports: [(name: String, value: Extern)] {
        entity.exportOrder.map { ($0.name, Extern(store: store, address: $0.value)) }
    }
}
