import KilnRuntimeC
import WasmTypes

/// A function whose Wasm type was checked once against Swift types, called with Swift values.
///
/// `Parameters` is the parameter type (`Void` for none, a tuple for several) and `Results` the
/// result type (likewise).
///
/// ```swift
/// let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
/// let sum = try add(1, 2)                               // Int32
/// let swap = try instance.typedFunction("swap", (Int32, Int64).self, (Int64, Int32).self)
/// let (a, b) = try swap(1, 2)                           // (Int64, Int32)
/// let tick = try instance.typedFunction("tick", Void.self, Void.self)
/// try tick()
/// ```
///
/// The lookup fails with ``KilnError/typeMismatch(reason:)`` when the Swift types do not match
/// the function's Wasm type; after that a call writes its arguments straight into the runtime's
/// value slots (no ``Value`` array) and enters the compiled code. Calls of up to eight
/// parameters are specialized for their types; more go through a generic path.
public struct TypedFunction<Parameters, Results>: @unchecked Sendable {
    /// Everything a call needs, behind one reference: copying a typed function costs one retain.
    @usableFromInline let core: _TypedFunctionCore<Results>

    @usableFromInline
    init(function: Function, expected: FunctionType, decode: @escaping (UnsafeMutableRawPointer, Store) -> Results) throws(KilnError) {
        let entity = function.entity
        guard entity.type == expected || GCValues.resultsWiden(entity.type, to: expected, info: entity.module?.info) else {
            throw KilnError.typeMismatch(reason: "function has type \(entity.type.wasmText), not \(expected.wasmText)")
        }
        core = _TypedFunctionCore(function: function, entity: entity, type: expected, decode: decode)
    }

    /// The function being called.
    public var function: Function { core.function }

    /// The function's Wasm type.
    public var type: FunctionType { core.function.type }

    // MARK: Calls on the current thread
    //
    // A trap comes out as ``Trap``, an error a host function threw as itself. Each arity has its
    // own overload because the optimizer does not specialize a loop over a parameter pack element
    // by element: the generic overload at the end serves any arity, a little slower.

    /// Calls a function without parameters.
    @inlinable @discardableResult
    public func callAsFunction() throws -> Results where Parameters == Void {
        try _call { _, _ in }
    }

    /// Calls a function of one parameter.
    @inlinable @discardableResult
    public func callAsFunction(_ a: Parameters) throws -> Results where Parameters: WasmValueConvertible {
        try _call { values, store in
            values.storeBytes(of: a._kilnBits(store: store), as: UInt64.self)
        }
    }

    /// Calls a function of two parameters.
    @inlinable @discardableResult
    public func callAsFunction<A: WasmValueConvertible, B: WasmValueConvertible>(_ a: A, _ b: B) throws -> Results where Parameters == (A, B) {
        try _call { values, store in
            values.storeBytes(of: a._kilnBits(store: store), toByteOffset: 0, as: UInt64.self)
            values.storeBytes(of: b._kilnBits(store: store), toByteOffset: 16, as: UInt64.self)
        }
    }

    /// Calls a function of three parameters.
    @inlinable @discardableResult
    public func callAsFunction<A: WasmValueConvertible, B: WasmValueConvertible, C: WasmValueConvertible>(_ a: A, _ b: B, _ c: C) throws -> Results where Parameters == (A, B, C) {
        try _call { values, store in
            values.storeBytes(of: a._kilnBits(store: store), toByteOffset: 0, as: UInt64.self)
            values.storeBytes(of: b._kilnBits(store: store), toByteOffset: 16, as: UInt64.self)
            values.storeBytes(of: c._kilnBits(store: store), toByteOffset: 32, as: UInt64.self)
        }
    }

    /// Calls a function of four parameters.
    @inlinable @discardableResult
    public func callAsFunction<A: WasmValueConvertible, B: WasmValueConvertible, C: WasmValueConvertible, D: WasmValueConvertible>(_ a: A, _ b: B, _ c: C, _ d: D) throws -> Results where Parameters == (A, B, C, D) {
        try _call { values, store in
            values.storeBytes(of: a._kilnBits(store: store), toByteOffset: 0, as: UInt64.self)
            values.storeBytes(of: b._kilnBits(store: store), toByteOffset: 16, as: UInt64.self)
            values.storeBytes(of: c._kilnBits(store: store), toByteOffset: 32, as: UInt64.self)
            values.storeBytes(of: d._kilnBits(store: store), toByteOffset: 48, as: UInt64.self)
        }
    }

    /// Calls a function of five parameters.
    @inlinable @discardableResult
    public func callAsFunction<A: WasmValueConvertible, B: WasmValueConvertible, C: WasmValueConvertible, D: WasmValueConvertible, E: WasmValueConvertible>(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E) throws -> Results where Parameters == (A, B, C, D, E) {
        try _call { values, store in
            values.storeBytes(of: a._kilnBits(store: store), toByteOffset: 0, as: UInt64.self)
            values.storeBytes(of: b._kilnBits(store: store), toByteOffset: 16, as: UInt64.self)
            values.storeBytes(of: c._kilnBits(store: store), toByteOffset: 32, as: UInt64.self)
            values.storeBytes(of: d._kilnBits(store: store), toByteOffset: 48, as: UInt64.self)
            values.storeBytes(of: e._kilnBits(store: store), toByteOffset: 64, as: UInt64.self)
        }
    }

    /// Calls a function of six parameters.
    @inlinable @discardableResult
    public func callAsFunction<A: WasmValueConvertible, B: WasmValueConvertible, C: WasmValueConvertible, D: WasmValueConvertible, E: WasmValueConvertible, F: WasmValueConvertible>(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E, _ f: F) throws -> Results where Parameters == (A, B, C, D, E, F) {
        try _call { values, store in
            values.storeBytes(of: a._kilnBits(store: store), toByteOffset: 0, as: UInt64.self)
            values.storeBytes(of: b._kilnBits(store: store), toByteOffset: 16, as: UInt64.self)
            values.storeBytes(of: c._kilnBits(store: store), toByteOffset: 32, as: UInt64.self)
            values.storeBytes(of: d._kilnBits(store: store), toByteOffset: 48, as: UInt64.self)
            values.storeBytes(of: e._kilnBits(store: store), toByteOffset: 64, as: UInt64.self)
            values.storeBytes(of: f._kilnBits(store: store), toByteOffset: 80, as: UInt64.self)
        }
    }

    /// Calls a function of seven parameters.
    @inlinable @discardableResult
    public func callAsFunction<A: WasmValueConvertible, B: WasmValueConvertible, C: WasmValueConvertible, D: WasmValueConvertible, E: WasmValueConvertible, F: WasmValueConvertible, G: WasmValueConvertible>(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E, _ f: F, _ g: G) throws -> Results where Parameters == (A, B, C, D, E, F, G) {
        try _call { values, store in
            values.storeBytes(of: a._kilnBits(store: store), toByteOffset: 0, as: UInt64.self)
            values.storeBytes(of: b._kilnBits(store: store), toByteOffset: 16, as: UInt64.self)
            values.storeBytes(of: c._kilnBits(store: store), toByteOffset: 32, as: UInt64.self)
            values.storeBytes(of: d._kilnBits(store: store), toByteOffset: 48, as: UInt64.self)
            values.storeBytes(of: e._kilnBits(store: store), toByteOffset: 64, as: UInt64.self)
            values.storeBytes(of: f._kilnBits(store: store), toByteOffset: 80, as: UInt64.self)
            values.storeBytes(of: g._kilnBits(store: store), toByteOffset: 96, as: UInt64.self)
        }
    }

    /// Calls a function of eight parameters.
    @inlinable @discardableResult
    public func callAsFunction<A: WasmValueConvertible, B: WasmValueConvertible, C: WasmValueConvertible, D: WasmValueConvertible, E: WasmValueConvertible, F: WasmValueConvertible, G: WasmValueConvertible, H: WasmValueConvertible>(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E, _ f: F, _ g: G, _ h: H) throws -> Results where Parameters == (A, B, C, D, E, F, G, H) {
        try _call { values, store in
            values.storeBytes(of: a._kilnBits(store: store), toByteOffset: 0, as: UInt64.self)
            values.storeBytes(of: b._kilnBits(store: store), toByteOffset: 16, as: UInt64.self)
            values.storeBytes(of: c._kilnBits(store: store), toByteOffset: 32, as: UInt64.self)
            values.storeBytes(of: d._kilnBits(store: store), toByteOffset: 48, as: UInt64.self)
            values.storeBytes(of: e._kilnBits(store: store), toByteOffset: 64, as: UInt64.self)
            values.storeBytes(of: f._kilnBits(store: store), toByteOffset: 80, as: UInt64.self)
            values.storeBytes(of: g._kilnBits(store: store), toByteOffset: 96, as: UInt64.self)
            values.storeBytes(of: h._kilnBits(store: store), toByteOffset: 112, as: UInt64.self)
        }
    }

    /// Calls a function of any number of parameters.
    @inlinable @discardableResult
    public func callAsFunction<each A: WasmValueConvertible>(_ arguments: repeat each A) throws -> Results
    where Parameters == (repeat each A) {
        try _call { values, store in
            var offset = 0
            repeat _kilnStoreValue(each arguments, into: values, at: &offset, store: store)
        }
    }

    @inlinable @inline(__always)
    func _call(_ encode: (UnsafeMutableRawPointer, Store) -> Void) throws -> Results {
        let core = self.core
        return try withUnsafeTemporaryAllocation(byteCount: core.slots &* 16, alignment: 16) { buffer in
            let values = buffer.baseAddress!
            encode(values, core.store)
            try core.enter(values)
            return core.decode(values, core.store)
        }
    }

    // MARK: Calls from Swift concurrency

    /// Calls the function from Swift concurrency without blocking a cooperative thread: the Wasm
    /// code runs on the store's own thread (see the async `Function.call(_:)`), and this task
    /// resumes when it returns.
    @discardableResult
    public func callAsFunction<each A: WasmValueConvertible>(_ arguments: repeat each A) async throws -> Results
    where Parameters == (repeat each A) {
        let arguments = SendableBox((repeat each arguments))
        let call = SendableBox(self)
        return try await core.store.scheduler.run(store: core.store) {
            SendableBox(try call.value._callPack(repeat each arguments.value))
        }.value
    }

    func _callPack<each A: WasmValueConvertible>(_ arguments: repeat each A) throws -> Results {
        try _call { values, store in
            var offset = 0
            repeat _kilnStoreValue(each arguments, into: values, at: &offset, store: store)
        }
    }
}

/// The state behind a ``TypedFunction``.
@usableFromInline
final class _TypedFunctionCore<Results> {
    let function: Function
    @usableFromInline let store: Store
    /// 16-byte value slots a call needs: enough for the parameters and for the results.
    @usableFromInline let slots: Int
    /// Reads the results from the value slots; made where the result types are known.
    @usableFromInline let decode: (UnsafeMutableRawPointer, Store) -> Results
    private let exec: UnsafeMutablePointer<kiln_exec>
    private let thunk: kiln_thunk?
    private let code: UnsafeMutableRawPointer?
    private let context: UnsafeMutableRawPointer?
    private let host: HostFunctionBox?

    init(function: Function, entity: FunctionEntity, type: FunctionType, decode: @escaping (UnsafeMutableRawPointer, Store) -> Results) {
        self.function = function
        self.store = function.store
        self.slots = max(1, max(type.parameters.count, type.results.count))
        self.decode = decode
        self.exec = function.store.exec
        self.thunk = entity.thunk
        self.code = function.record.pointee.code
        self.context = function.record.pointee.ctx
        self.host = entity.host
    }

    /// Runs the function on the arguments in `values`, leaving its results there.
    @usableFromInline
    func enter(_ values: UnsafeMutableRawPointer) throws {
        try store.checkCanEnter()
        let slots = values.assumingMemoryBound(to: kiln_value.self)
        if let thunk {
            let status = kiln_enter(exec, thunk, code, context, slots)
            if status != 0 { throw store.trap(code: status) }
        } else {
            try host!.callFromSwift(slots)
        }
    }
}

/// Moves a value whose Sendable-ness Kiln guarantees by other means (one store, one thread at a
/// time) across an isolation boundary.
struct SendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension Function {
    /// This function as a ``TypedFunction``, checked against the Swift types once:
    /// `try function.typed((Int32, Int32).self, Int32.self)`. Pass `Void.self` for no
    /// parameters or no results, a tuple type for several.
    ///
    /// - Throws: ``KilnError/typeMismatch(reason:)`` when the function's Wasm type differs.
    @inlinable
    public func typed<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        _ parameters: (repeat each P).Type, _ results: (repeat each R).Type
    ) throws(KilnError) -> TypedFunction<(repeat each P), (repeat each R)> {
        try TypedFunction(function: self, expected: FunctionType.of((repeat each P).self, (repeat each R).self)) { values, store in
            _kilnLoadValues((repeat each R).self, from: values, store: store)
        }
    }

    // One parameter or one result: without these overloads the type checker may take a single
    // parameter's or result's type from a literal in the surrounding expression (`Int`) instead
    // of from the metatype argument.

    /// This function as a ``TypedFunction`` of one parameter.
    @inlinable
    public func typed<P: WasmValueConvertible, each R: WasmValueConvertible>(
        _ parameter: P.Type, _ results: (repeat each R).Type
    ) throws(KilnError) -> TypedFunction<P, (repeat each R)> {
        try TypedFunction(function: self, expected: FunctionType.of(P.self, (repeat each R).self)) { values, store in
            _kilnLoadValues((repeat each R).self, from: values, store: store)
        }
    }

    /// This function as a ``TypedFunction`` of one result.
    @inlinable
    public func typed<each P: WasmValueConvertible, R: WasmValueConvertible>(
        _ parameters: (repeat each P).Type, _ result: R.Type
    ) throws(KilnError) -> TypedFunction<(repeat each P), R> {
        try TypedFunction(function: self, expected: FunctionType.of((repeat each P).self, R.self)) { values, store in
            R._kilnLoad(values.load(as: UInt64.self), store: store)
        }
    }

    /// This function as a ``TypedFunction`` of one parameter and one result.
    @inlinable
    public func typed<P: WasmValueConvertible, R: WasmValueConvertible>(
        _ parameter: P.Type, _ result: R.Type
    ) throws(KilnError) -> TypedFunction<P, R> {
        try TypedFunction(function: self, expected: FunctionType.of(P.self, R.self)) { values, store in
            R._kilnLoad(values.load(as: UInt64.self), store: store)
        }
    }
}

extension Instance {
    /// The exported function `name` as a ``TypedFunction``:
    /// `try instance.typedFunction("add", (Int32, Int32).self, Int32.self)`. Pass `Void.self`
    /// for no parameters or no results, a tuple type for several.
    ///
    /// - Throws: ``KilnError/unknownExport(name:)`` when there is no such exported function,
    ///   ``KilnError/typeMismatch(reason:)`` when its Wasm type differs from the Swift types.
    @inlinable
    public func typedFunction<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        _ name: String, _ parameters: (repeat each P).Type, _ results: (repeat each R).Type
    ) throws(KilnError) -> TypedFunction<(repeat each P), (repeat each R)> {
        try typedExport(name) { (function) throws(KilnError) in try function.typed((repeat each P).self, (repeat each R).self) }
    }

    /// The exported function `name` as a ``TypedFunction`` of one parameter.
    @inlinable
    public func typedFunction<P: WasmValueConvertible, each R: WasmValueConvertible>(
        _ name: String, _ parameter: P.Type, _ results: (repeat each R).Type
    ) throws(KilnError) -> TypedFunction<P, (repeat each R)> {
        try typedExport(name) { (function) throws(KilnError) in try function.typed(P.self, (repeat each R).self) }
    }

    /// The exported function `name` as a ``TypedFunction`` of one result.
    @inlinable
    public func typedFunction<each P: WasmValueConvertible, R: WasmValueConvertible>(
        _ name: String, _ parameters: (repeat each P).Type, _ result: R.Type
    ) throws(KilnError) -> TypedFunction<(repeat each P), R> {
        try typedExport(name) { (function) throws(KilnError) in try function.typed((repeat each P).self, R.self) }
    }

    /// The exported function `name` as a ``TypedFunction`` of one parameter and one result.
    @inlinable
    public func typedFunction<P: WasmValueConvertible, R: WasmValueConvertible>(
        _ name: String, _ parameter: P.Type, _ result: R.Type
    ) throws(KilnError) -> TypedFunction<P, R> {
        try typedExport(name) { (function) throws(KilnError) in try function.typed(P.self, R.self) }
    }

    @usableFromInline
    func typedExport<T>(_ name: String, _ make: (Function) throws(KilnError) -> T) throws(KilnError) -> T {
        guard let function = function(name) else { throw KilnError.unknownExport(name: name) }
        do {
            return try make(function)
        } catch .typeMismatch(let reason) {
            throw KilnError.typeMismatch(reason: "export \"\(name)\": \(reason)")
        } catch {
            throw error
        }
    }
}
