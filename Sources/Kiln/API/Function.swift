import KilnRuntimeC
import WasmParser
import WasmTypes

/// A Wasm or host function of a store.
///
/// Call it dynamically with ``Value``s, or look it up once as a ``TypedFunction`` and call that
/// with Swift values:
///
/// ```swift
/// let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
/// let sum = try add(1, 2)                                   // 3
/// let same = try instance.function("add")!.call([.i32(1), .i32(2)])   // [.i32(3)]
/// ```
///
/// A host function is a Swift closure. Its Wasm type is inferred from the closure's Swift types,
/// or given explicitly for a closure over `[Value]`; either kind can take a ``Caller`` first:
///
/// ```swift
/// let add = try Function(store: store) { (a: Int32, b: Int32) -> Int32 in a &+ b }
/// let log = try Function(store: store) { (caller: Caller, pointer: Int32, length: Int32) in
///     let bytes = try caller.memory("memory")!.read(at: Int(pointer), count: Int(length))
///     print(String(decoding: bytes, as: UTF8.self))
/// }
/// let double = try Function(store: store, type: FunctionType(parameters: [.i32], results: [.i32])) { _, arguments in
///     [Value(arguments[0].i32! &* 2)]
/// }
/// ```
///
/// An error a host function throws traps the Wasm code that called it, and comes out of the
/// outermost ``call(_:)-20wvs`` as that same error.
public final class Function: @unchecked Sendable {
    /// The store the function belongs to.
    public let store: Store
    let record: UnsafeMutablePointer<kiln_funcref>
    let entity: FunctionEntity

    init(store: Store, record: UnsafeMutablePointer<kiln_funcref>) {
        self.store = store
        self.record = record
        self.entity = store.functions[UnsafeMutableRawPointer(record)]!
    }

    /// The function's Wasm type.
    public var type: FunctionType { entity.type }

    /// Whether this is a host function (a Swift closure) rather than Wasm code.
    public var isHostFunction: Bool { entity.host != nil }

    // MARK: - Host functions

    /// Defines a host function from a closure over `[Value]`. The closure must return values of
    /// `type.results`, or throw.
    public convenience init(
        store: Store, type: FunctionType, _ body: @escaping (Caller, [Value]) throws -> [Value]
    ) throws(KilnError) {
        try self.init(store: store, type: type, rawBody: HostFunctionBox.dynamic(type, body))
    }

    /// Defines a host function of type `(P...) -> (R...)` from a typed closure:
    /// `Function(store: store) { (a: Int32, b: Int32) -> Int32 in a &+ b }`.
    @inlinable
    public convenience init<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        store: Store, _ body: @escaping (repeat each P) throws -> (repeat each R)
    ) throws(KilnError) {
        try self.init(
            store: store, type: FunctionType.of((repeat each P).self, (repeat each R).self),
            rawBody: { caller, values in
                let store = caller.store
                let arguments = _kilnLoadValues((repeat each P).self, from: values, store: store)
                let results = try body(repeat each arguments)
                _kilnStoreValues(repeat each results, into: values, store: store)
            })
    }

    /// Defines a host function of type `(P...) -> (R...)` from a typed closure that also receives
    /// the ``Caller``: `Function(store: store) { (caller: Caller, x: Int32) -> Int32 in ... }`.
    @inlinable
    public convenience init<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        store: Store, _ body: @escaping (Caller, repeat each P) throws -> (repeat each R)
    ) throws(KilnError) {
        try self.init(
            store: store, type: FunctionType.of((repeat each P).self, (repeat each R).self),
            rawBody: { caller, values in
                let store = caller.store
                let arguments = _kilnLoadValues((repeat each P).self, from: values, store: store)
                let results = try body(caller, repeat each arguments)
                _kilnStoreValues(repeat each results, into: values, store: store)
            })
    }

    /// A host function whose closure reads its arguments from, and writes its results to, 16-byte
    /// value slots.
    @usableFromInline
    init(store: Store, type: FunctionType, rawBody: @escaping (Caller, UnsafeMutableRawPointer) throws -> Void) throws(KilnError) {
        let box = HostFunctionBox(type: type, body: rawBody, store: store)
        let stub = try store.engine.hostStub(for: type)
        let context = box.makeContext(caller: nil)
        let entity = FunctionEntity(type: type, thunk: nil, host: box, module: nil)
        let record = store.makeFunctionRecord(
            signature: store.engine.signatureID(type), code: stub, context: UnsafeMutableRawPointer(context),
            tailThunk: hostTailThunk, tailCode: stub, entity: entity)
        box.stub = stub
        store.retain(box)
        self.store = store
        self.record = record
        self.entity = entity
    }

    // MARK: - Calls

    /// Calls the function with dynamically typed arguments.
    ///
    /// A trap comes out as ``Trap``; an error a host function threw as itself; arguments that do
    /// not match the parameters as ``KilnError/typeMismatch(reason:)``.
    @discardableResult
    public func call(_ arguments: [Value]) throws -> [Value] {
        let entity = self.entity
        let type = entity.type
        guard arguments.count == type.parameters.count else {
            throw KilnError.typeMismatch(reason: "\(type.wasmText) takes \(type.parameters.count) arguments, got \(arguments.count)")
        }
        for (index, (argument, parameter)) in zip(arguments, type.parameters).enumerated() {
            guard argument.matches(parameter) else {
                throw KilnError.typeMismatch(reason: "argument \(index) of \(type.wasmText) must be \(parameter.wasmText), got \(argument.type.wasmText)")
            }
            try store.checkOwnership(argument)
        }
        try store.checkCanEnter()
        let count = max(1, max(type.parameters.count, type.results.count))
        return try withUnsafeTemporaryAllocation(of: kiln_value.self, capacity: count) { buffer in
            let values = buffer.baseAddress!
            values.initialize(repeating: kiln_value(), count: count)
            for (index, argument) in arguments.enumerated() { values[index] = store.rawValue(argument) }
            if let host = entity.host {
                try host.callFromSwift(values)
            } else {
                try invoke(entity.thunk!, values)
            }
            return type.results.enumerated().map { store.value(values[$0.offset], type: $0.element) }
        }
    }

    /// Enters Wasm through the entry shim with raw values; throws the trap if there is one.
    func invoke(_ thunk: kiln_thunk, _ values: UnsafeMutablePointer<kiln_value>) throws {
        let code = kiln_enter(store.exec, thunk, record.pointee.code, record.pointee.ctx, values)
        if code != 0 { throw store.trap(code: code) }
    }
}

extension Value {
    func matches(_ type: ValueType) -> Bool {
        switch (self, type) {
        case (.i32, .i32), (.i64, .i64), (.f32, .f32), (.f64, .f64), (.v128, .v128): return true
        case (.funcRef, .ref(let reference)):
            switch reference.heapType {
            case .funcRef, .abstract(.noFunc), .concrete: return true
            default: return false
            }
        case (.externRef, .ref(let reference)): return reference.heapType == .externRef || reference.heapType == .abstract(.noExtern)
        case (.exnRef, .ref(let reference)): return reference.heapType == .abstract(.exnRef) || reference.heapType == .abstract(.noExn)
        case (.anyRef(let value), .ref(let reference)):
            // Generated code trusts a reference's static type: only what surely has it passes.
            guard let value else { return reference.isNullable && GCValues.isAnyHierarchy(reference.heapType) }
            switch reference.heapType {
            case .abstract(.any): return true
            case .abstract(.eq): return value.host == nil
            case .abstract(.i31): return value.i31 != nil
            case .abstract(.structRef): return value.isStruct
            case .abstract(.arrayRef): return value.isArray
            default: return false
            }
        default: return false
        }
    }
}

extension FunctionType {
    /// The Wasm type that a typed closure or typed call with these Swift types stands for.
    @usableFromInline
    static func of<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        _ parameters: (repeat each P).Type, _ results: (repeat each R).Type
    ) -> FunctionType {
        var parameterTypes: [ValueType] = []
        for parameter in repeat (each P).self { parameterTypes.append(parameter.wasmType) }
        var resultTypes: [ValueType] = []
        for result in repeat (each R).self { resultTypes.append(result.wasmType) }
        return FunctionType(parameters: parameterTypes, results: resultTypes)
    }

    static func count<each T>(_ types: (repeat each T).Type) -> Int {
        var count = 0
        for _ in repeat (each T).self { count += 1 }
        return count
    }
}

/// Reads a pack of Swift values from 16-byte value slots (Kiln's runtime representation).
@inlinable @inline(__always)
public func _kilnLoadValues<each T: WasmValueConvertible>(
    _ types: (repeat each T).Type, from values: UnsafeMutableRawPointer, store: Store
) -> (repeat each T) {
    var offset = 0
    func next<V: WasmValueConvertible>(_ type: V.Type) -> V {
        defer { offset += 16 }
        return V._kilnLoad(values.load(fromByteOffset: offset, as: UInt64.self), store: store)
    }
    return (repeat next((each T).self))
}

/// Writes a pack of Swift values to 16-byte value slots.
@inlinable @inline(__always)
public func _kilnStoreValues<each T: WasmValueConvertible>(
    _ items: repeat each T, into values: UnsafeMutableRawPointer, store: Store
) {
    var offset = 0
    repeat _kilnStoreValue(each items, into: values, at: &offset, store: store)
}

/// Writes one Swift value to the 16-byte value slot at `offset`, and moves `offset` on.
@inlinable @inline(__always)
public func _kilnStoreValue<T: WasmValueConvertible>(
    _ item: T, into values: UnsafeMutableRawPointer, at offset: inout Int, store: Store
) {
    values.storeBytes(of: item._kilnBits(store: store), toByteOffset: offset, as: UInt64.self)
    offset &+= 16
}

// MARK: - Caller

/// What a host function sees of its caller: the store (and its ``Store/userData``) and, when it
/// was called through an import, the calling instance and its exports.
///
/// ```swift
/// let logString = try Function(store: store) { (caller: Caller, pointer: Int32, length: Int32) in
///     guard let memory = caller.memory("memory") else { throw MyError.noMemory }
///     let bytes = try memory.read(at: Int(pointer), count: Int(length))
///     print(String(decoding: bytes, as: UTF8.self))
/// }
/// ```
public struct Caller: @unchecked Sendable {
    /// The store the host function was called in.
    public let store: Store
    let instanceContext: UnsafeMutablePointer<kiln_instance>?

    /// The calling instance, when the host function was called through an import (nil when it
    /// was called from Swift, or from Wasm through a table or `ref.func`: a funcref names the
    /// function, not a caller, and finding the caller at run time would cost every indirect
    /// call). A host function that needs an instance's exports when reached through a table can
    /// capture the instance (or its memory) when it is defined, or be imported as well.
    public var instance: Instance? {
        guard let instanceContext, let opaque = instanceContext.pointee.host else { return nil }
        let entity = Unmanaged<InstanceEntity>.fromOpaque(opaque).takeUnretainedValue()
        return Instance(store: store, entity: entity)
    }

    /// The calling instance's export with this name.
    public func export(_ name: String) -> Extern? { instance?.export(name) }
    /// The calling instance's exported memory with this name (usually `"memory"`).
    public func memory(_ name: String = "memory") -> Memory? { export(name)?.memory }
    /// The calling instance's exported function with this name.
    public func function(_ name: String) -> Function? { export(name)?.function }
    /// The calling instance's exported table with this name.
    public func table(_ name: String) -> Table? { export(name)?.table }
    /// The calling instance's exported global with this name.
    public func global(_ name: String) -> Global? { export(name)?.global }

    /// The store's ``Store/userData``.
    public var userData: Any? { store.userData }
}

// MARK: - The Swift side of host functions

/// The Swift side of a host function: its closure, and the C contexts its stub receives.
final class HostFunctionBox {
    /// Reads the arguments from the value slots and writes the results back into them.
    typealias Body = (Caller, UnsafeMutableRawPointer) throws -> Void

    let type: FunctionType
    let body: Body
    unowned(unsafe) let store: Store
    var stub: UnsafeMutableRawPointer?
    private var contexts: [UnsafeMutablePointer<kiln_host_context>] = []

    init(type: FunctionType, body: @escaping Body, store: Store) {
        self.type = type
        self.body = body
        self.store = store
    }

    deinit {
        for context in contexts { context.deallocate() }
    }

    /// A raw body around a closure over `[Value]`, checking what it returns.
    static func dynamic(_ type: FunctionType, _ body: @escaping (Caller, [Value]) throws -> [Value]) -> Body {
        return { caller, raw in
            let values = raw.assumingMemoryBound(to: kiln_value.self)
            let store = caller.store
            var arguments: [Value] = []
            arguments.reserveCapacity(type.parameters.count)
            for (index, parameter) in type.parameters.enumerated() { arguments.append(store.value(values[index], type: parameter)) }
            let results = try body(caller, arguments)
            try HostFunctionBox.checkResults(results, type, store: store)
            for (index, result) in results.enumerated() { values[index] = store.rawValue(result) }
        }
    }

    static func checkResults(_ results: [Value], _ type: FunctionType, store: Store) throws {
        guard results.count == type.results.count, zip(results, type.results).allSatisfy({ $0.matches($1) }) else {
            throw KilnError.typeMismatch(
                reason: "host function of type \(type.wasmText) returned (\(results.map(\.type.wasmText).joined(separator: ", ")))")
        }
        for result in results { try store.checkOwnership(result) }
    }

    /// A C context for the stub; `caller` is the importing instance, if any.
    func makeContext(caller: UnsafeMutablePointer<kiln_instance>?) -> UnsafeMutablePointer<kiln_host_context> {
        let context = UnsafeMutablePointer<kiln_host_context>.allocate(capacity: 1)
        context.initialize(to: kiln_host_context(
            callback: hostTrampoline, swift_context: Unmanaged.passUnretained(self).toOpaque(),
            exec: store.exec, caller: caller.map(UnsafeMutableRawPointer.init)))
        contexts.append(context)
        return context
    }

    /// Runs the closure on raw values; returns non-zero after parking the error in the store.
    @inline(__always)
    func invoke(_ values: UnsafeMutablePointer<kiln_value>, caller: UnsafeMutableRawPointer?) -> UInt32 {
        do {
            try body(Caller(store: store, instanceContext: caller?.assumingMemoryBound(to: kiln_instance.self)), UnsafeMutableRawPointer(values))
            return 0
        } catch let exception as WasmException {
            return store.raise(exception)
        } catch {
            store.pendingHostError = error
            return UInt32(KILN_TRAP_HOST)
        }
    }

    /// Calls the closure directly from Swift (no Wasm in between): its error comes out as is.
    func callFromSwift(_ values: UnsafeMutablePointer<kiln_value>) throws {
        try body(Caller(store: store, instanceContext: nil), UnsafeMutableRawPointer(values))
    }
}

/// How a tail call runs a host function: the values buffer goes straight to the Swift side.
private var hostTailThunk: UnsafeMutableRawPointer { unsafeBitCast(kiln_host_tail as kiln_thunk, to: UnsafeMutableRawPointer.self) }

/// The one C entry point of every host function: a context pointer in, a status out.
private let hostTrampoline: kiln_host_callback = { context, values in
    guard let context, let values else { return UInt32(KILN_TRAP_HOST) }
    // The store keeps the box alive while Wasm can call it: no retain needed here.
    return Unmanaged<HostFunctionBox>.fromOpaque(context.pointee.swift_context)._withUnsafeGuaranteedRef {
        $0.invoke(values, caller: context.pointee.caller)
    }
}
