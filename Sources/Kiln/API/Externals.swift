import KilnRuntimeC
import WasmParser
import WasmTypes

public typealias TableType = WasmParser.TableType
public typealias MemoryType = WasmParser.MemoryType
public typealias GlobalType = WasmParser.GlobalType

/// Anything a module can import or export.
public enum Extern: @unchecked Sendable {
    case function(Function)
    case table(Table)
    case memory(Memory)
    case global(Global)

    init(store: Store, address: ExternAddress) {
        switch address {
        case .function(let record): self = .function(Function(store: store, record: record))
        case .table(let table): self = .table(Table(store: store, table: table))
        case .memory(let memory): self = .memory(Memory(store: store, memory: memory))
        case .global(let cell, let type): self = .global(Global(store: store, cell: cell, type: type))
        }
    }

    var address: ExternAddress {
        switch self {
        case .function(let f): return .function(f.record)
        case .table(let t): return .table(t.table)
        case .memory(let m): return .memory(m.memory)
        case .global(let g): return .global(g.cell, g.type)
        }
    }

    var store: Store {
        switch self {
        case .function(let f): return f.store
        case .table(let t): return t.store
        case .memory(let m): return m.store
        case .global(let g): return g.store
        }
    }

    public var function: Function? { if case .function(let f) = self { f } else { nil } }
    public var table: Table? { if case .table(let t) = self { t } else { nil } }
    public var memory: Memory? { if case .memory(let m) = self { m } else { nil } }
    public var global: Global? { if case .global(let g) = self { g } else { nil } }
}

/// A linear memory. Its base address never moves: the whole range is reserved up front.
public final class Memory: @unchecked Sendable {
    public let store: Store
    let memory: UnsafeMutablePointer<kiln_memory>

    init(store: Store, memory: UnsafeMutablePointer<kiln_memory>) {
        self.store = store
        self.memory = memory
    }

    public convenience init(store: Store, type: MemoryType) throws(KilnError) {
        self.init(store: store, memory: try store.makeMemory(type))
    }

    public static let pageSize = 65536
    public var pages: Int { Int(memory.pointee.pages) }
    public var byteCount: Int { pages * Memory.pageSize }
    public var maximumPages: Int { Int(memory.pointee.max_pages) }
    public var type: MemoryType { store.declaredLimits(of: memory) }

    /// Grows by `delta` pages; returns the old size in pages, or nil if it cannot grow.
    @discardableResult
    public func grow(by delta: Int) -> Int? {
        let old = kiln_memory_grow_raw(memory, UInt64(delta))
        return old == UInt64.max ? nil : Int(old)
    }

    public func read(at offset: Int, count: Int) throws -> [UInt8] {
        try checkRange(offset, count)
        return Array(UnsafeBufferPointer(start: memory.pointee.base + offset, count: count))
    }

    public func write(_ bytes: [UInt8], at offset: Int) throws {
        try checkRange(offset, bytes.count)
        bytes.withUnsafeBufferPointer { source in
            (memory.pointee.base + offset).update(from: source.baseAddress!, count: source.count)
        }
    }

    /// Direct access to the memory's bytes; valid until the memory grows.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: memory.pointee.base, count: byteCount))
    }

    private func checkRange(_ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset <= byteCount, count <= byteCount - offset else {
            throw Trap(reason: .memoryOutOfBounds, backtrace: [], underlying: nil)
        }
    }
}

/// A table of references: funcref or externref.
public final class Table: @unchecked Sendable {
    public let store: Store
    let table: UnsafeMutablePointer<kiln_table>

    init(store: Store, table: UnsafeMutablePointer<kiln_table>) {
        self.store = store
        self.table = table
    }

    public convenience init(store: Store, type: TableType, initialValue: Value? = nil) throws(KilnError) {
        let initial = initialValue.map { store.rawValue($0).ref } ?? nil
        self.init(store: store, table: try store.makeTable(type, initial: initial))
    }

    public var size: Int { Int(table.pointee.size) }
    var isFuncRef: Bool { table.pointee.is_funcref != 0 }
    public var elementType: ReferenceType { isFuncRef ? .funcRef : .externRef }
    public var type: TableType {
        TableType(elementType: elementType, limits: Limits(min: UInt64(table.pointee.size), max: table.pointee.max == UInt32.max ? nil : UInt64(table.pointee.max)))
    }

    public func get(_ index: Int) -> Value? {
        guard index >= 0, index < size else { return nil }
        var raw = kiln_value()
        raw.ref = table.pointee.elems[index].ref
        return store.value(raw, type: .ref(elementType))
    }

    public func set(_ index: Int, _ value: Value) throws {
        guard index >= 0, index < size else { throw Trap(reason: .tableOutOfBounds, backtrace: [], underlying: nil) }
        guard value.matches(.ref(elementType)) else { throw KilnError.unlinkable(reason: "table element type mismatch") }
        table.pointee.elems[index] = store.tableSlot(for: store.rawValue(value).ref, isFuncRef: isFuncRef)
    }

    /// Grows by `delta` elements set to `value`; returns the old size, or nil past the maximum.
    @discardableResult
    public func grow(by delta: Int, value: Value? = nil) -> Int? {
        let slot = store.tableSlot(for: value.map { store.rawValue($0).ref } ?? nil, isFuncRef: isFuncRef)
        let old = kiln_table_grow_raw(table, UInt32(clamping: delta), slot)
        return old == UInt32.max ? nil : Int(old)
    }
}

/// A global variable: a cell that importers share with the exporter.
public final class Global: @unchecked Sendable {
    public let store: Store
    let cell: UnsafeMutablePointer<kiln_value>
    public let type: GlobalType

    init(store: Store, cell: UnsafeMutablePointer<kiln_value>, type: GlobalType) {
        self.store = store
        self.cell = cell
        self.type = type
    }

    public convenience init(store: Store, type: GlobalType, value: Value) throws(KilnError) {
        guard value.matches(type.valueType) else { throw KilnError.unlinkable(reason: "global initial value has the wrong type") }
        self.init(store: store, cell: store.makeGlobalCell(store.rawValue(value)), type: type)
    }

    public var value: Value { store.value(cell.pointee, type: type.valueType) }

    public func set(_ value: Value) throws {
        guard type.mutability == .variable else { throw KilnError.unlinkable(reason: "global is immutable") }
        guard value.matches(type.valueType) else { throw KilnError.unlinkable(reason: "global type mismatch") }
        cell.pointee = store.rawValue(value)
    }
}

/// An instantiated module.
public final class Instance: @unchecked Sendable {
    public let store: Store
    let entity: InstanceEntity

    init(store: Store, entity: InstanceEntity) {
        self.store = store
        self.entity = entity
    }

    public var module: Module { entity.module }

    /// The export with this name, compared as UTF-8 bytes.
    public func export(_ name: String) -> Extern? {
        entity.exports[Array(name.utf8)].map { Extern(store: store, address: $0) }
    }
    public func function(_ name: String) -> Function? { export(name)?.function }
    public func memory(_ name: String) -> Memory? { export(name)?.memory }
    public func table(_ name: String) -> Table? { export(name)?.table }
    public func global(_ name: String) -> Global? { export(name)?.global }

    public var exports: [(name: String, value: Extern)] {
        entity.exportOrder.map { ($0.name, Extern(store: store, address: $0.value)) }
    }
}
