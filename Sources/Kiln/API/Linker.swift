import KilnRuntimeC
import WasmParser
import WasmTypes

/// Resolves imports by module and name, and instantiates modules against them.
///
/// ```swift
/// let linker = Linker(engine: engine)
/// linker.defineFunction(module: "env", name: "add") { (a: Int32, b: Int32) -> Int32 in a &+ b }
/// linker.define(module: "env", name: "memory", try Memory(store: store, minimum: 1))
/// let instance = try linker.instantiate(module, store: store)
/// linker.define(module: "lib", instance: instance)    // its exports, for the next module
/// ```
///
/// A definition made with `define` belongs to one store; one made with `defineFunction` is a
/// closure that becomes a host function of each store the linker instantiates into (created on
/// first use, then reused for that store). A later definition of the same module and name
/// replaces the earlier one.
///
/// Instantiation fails with ``KilnError/unlinkable(reason:)`` when an import is missing or does
/// not match: the message names the import, the expected and the actual type.
public final class Linker {
    /// The engine whose modules this linker instantiates.
    public let engine: Engine
    private var definitions: [[UInt8]: Definition] = [:]

    private enum Definition {
        case extern(Extern)
        case host(HostDefinition)
    }

    /// An empty linker.
    public init(engine: Engine) { self.engine = engine }

    private static func key(_ module: String, _ name: String) -> [UInt8] {
        var key = Array(module.utf8)
        key.append(0xff)  // never part of UTF-8: module and name cannot run together
        key += name.utf8
        return key
    }

    // MARK: - Store-bound definitions

    /// Defines `module`.`name` as an existing function, table, memory or global.
    public func define(module: String, name: String, _ extern: Extern) {
        definitions[Linker.key(module, name)] = .extern(extern)
    }

    /// Defines `module`.`name` as a function of a store.
    public func define(module: String, name: String, _ function: Function) {
        define(module: module, name: name, .function(function))
    }

    /// Defines `module`.`name` as a memory of a store.
    public func define(module: String, name: String, _ memory: Memory) {
        define(module: module, name: name, .memory(memory))
    }

    /// Defines `module`.`name` as a table of a store.
    public func define(module: String, name: String, _ table: Table) {
        define(module: module, name: name, .table(table))
    }

    /// Defines `module`.`name` as a global of a store.
    public func define(module: String, name: String, _ global: Global) {
        define(module: module, name: name, .global(global))
    }

    /// Defines `module`.`name` as an exception tag of a store.
    public func define(module: String, name: String, _ tag: Tag) {
        define(module: module, name: name, .tag(tag))
    }

    /// Defines every export of an instance under a module name.
    public func define(module: String, instance: Instance) {
        for (name, value) in instance.exports { define(module: module, name: name, value) }
    }

    /// The store-bound definition of `module`.`name` (nil for a `defineFunction` closure: see
    /// ``lookup(module:name:store:)``).
    public func lookup(module: String, name: String) -> Extern? {
        if case .extern(let extern) = definitions[Linker.key(module, name)] { return extern }
        return nil
    }

    /// The definition of `module`.`name` as seen from `store`: a `defineFunction` closure becomes
    /// that store's host function.
    public func lookup(module: String, name: String, store: Store) throws(KilnError) -> Extern? {
        switch definitions[Linker.key(module, name)] {
        case .extern(let extern): return extern
        case .host(let definition): return .function(try store.linkerFunction(definition))
        case nil: return nil
        }
    }

    // MARK: - Host functions for any store

    /// Defines a host function from a closure over `[Value]`, for every store.
    public func defineFunction(
        module: String, name: String, type: FunctionType, _ body: @escaping (Caller, [Value]) throws -> [Value]
    ) {
        defineHost(module, name, type) { store throws(KilnError) in try Function(store: store, type: type, body) }
    }

    /// Defines an async host function from a closure over `[Value]`, for every store.
    public func defineFunction(
        module: String, name: String, type: FunctionType,
        _ body: @escaping @Sendable (Caller, [Value]) async throws -> [Value]
    ) {
        defineHost(module, name, type) { store throws(KilnError) in try Function(store: store, type: type, body) }
    }

    /// Defines a host function from a typed closure, for every store:
    /// `linker.defineFunction(module: "env", name: "add") { (a: Int32, b: Int32) -> Int32 in a &+ b }`.
    @inlinable
    public func defineFunction<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        module: String, name: String, _ body: @escaping (repeat each P) throws -> (repeat each R)
    ) {
        defineHost(module, name, FunctionType.of((repeat each P).self, (repeat each R).self)) { store throws(KilnError) in
            try Function(store: store, body)
        }
    }

    /// Defines a host function from a typed closure that receives the ``Caller``, for every store.
    @inlinable
    public func defineFunction<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        module: String, name: String, _ body: @escaping (Caller, repeat each P) throws -> (repeat each R)
    ) {
        defineHost(module, name, FunctionType.of((repeat each P).self, (repeat each R).self)) { store throws(KilnError) in
            try Function(store: store, body)
        }
    }

    /// Defines an async host function from a typed closure, for every store.
    @inlinable
    public func defineFunction<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        module: String, name: String, _ body: @escaping @Sendable (repeat each P) async throws -> (repeat each R)
    ) {
        defineHost(module, name, FunctionType.of((repeat each P).self, (repeat each R).self)) { store throws(KilnError) in
            try Function(store: store, body)
        }
    }

    /// Defines an async host function from a typed closure that receives the ``Caller``, for
    /// every store.
    @inlinable
    public func defineFunction<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        module: String, name: String, _ body: @escaping @Sendable (Caller, repeat each P) async throws -> (repeat each R)
    ) {
        defineHost(module, name, FunctionType.of((repeat each P).self, (repeat each R).self)) { store throws(KilnError) in
            try Function(store: store, body)
        }
    }

    @usableFromInline
    func defineHost(_ module: String, _ name: String, _ type: FunctionType, _ make: @escaping (Store) throws(KilnError) -> Function) {
        definitions[Linker.key(module, name)] = .host(HostDefinition(type: type, make: make))
    }

    // MARK: - Instantiation

    /// Instantiates `module` in `store`, resolving its imports by module and name: allocates its
    /// memories, tables and globals, applies its segments and runs its start function.
    ///
    /// - Throws: ``KilnError/unlinkable(reason:)`` for a missing or mismatched import (or a
    ///   segment that does not fit); a ``Trap`` or a host function's error from the start
    ///   function.
    public func instantiate(_ module: Module, store: Store) throws -> Instance {
        let imports = try resolveImports(of: module, store: store)
        return try Instantiation(module: module, store: store, imports: imports).run()
    }

    func resolveImports(of module: Module, store: Store) throws(KilnError) -> [Extern] {
        guard module.engine === store.engine else {
            throw KilnError.invalidOperation(reason: "the module was compiled by another engine than the store's")
        }
        var imports: [Extern] = []
        for entry in module.imports {
            guard let extern = try lookup(module: entry.module, name: entry.name, store: store) else {
                throw KilnError.unlinkable(reason: "unknown import: \(entry.module).\(entry.name) (\(entry.type.wasmText)) is not defined")
            }
            imports.append(extern)
        }
        return imports
    }
}

/// A `defineFunction` closure: a host function for each store that needs it.
@usableFromInline
final class HostDefinition {
    let type: FunctionType
    let make: (Store) throws(KilnError) -> Function

    @usableFromInline
    init(type: FunctionType, make: @escaping (Store) throws(KilnError) -> Function) {
        self.type = type
        self.make = make
    }
}

extension Store {
    /// This store's host function for a linker's definition, created on first use.
    func linkerFunction(_ definition: HostDefinition) throws(KilnError) -> Function {
        let key = ObjectIdentifier(definition)
        if let cached = linkerFunctions[key] { return Function(store: self, record: cached.record) }
        let function = try definition.make(self)
        linkerFunctions[key] = (definition, function.record)
        return function
    }
}

extension Module.ExternType {
    /// `function (i32) -> i32`, `memory {min 1, max 2}`, ...
    var wasmText: String {
        switch self {
        case .function(let type): return "function \(type.wasmText)"
        case .table(let type): return "table \(type.wasmText)"
        case .memory(let type): return "memory \(type.wasmText)"
        case .global(let type): return "global \(type.wasmText)"
        case .tag(let type): return "tag \(type.wasmText)"
        }
    }
}

extension Limits {
    var wasmText: String { (isMemory64 ? "i64 " : "") + "{min \(min)" + (max.map { ", max \($0)" } ?? "") + "}" }
}

extension TableType {
    var wasmText: String { "\(elementType.wasmText) \(limits.wasmText)" }
}

extension ReferenceType {
    var wasmText: String { ValueType.ref(self).wasmText }
}

extension GlobalType {
    var wasmText: String { mutability == .variable ? "(mut \(valueType.wasmText))" : valueType.wasmText }
}
