import KilnRuntimeC
import WasmTypes

/// A function whose Wasm type was checked once against Swift types, called with Swift values.
///
/// `Parameter` is the parameter types, `Results` the result: `Void` for none, the Swift type for
/// one, a tuple for several.
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
/// the function's Wasm type; after that a call packs its arguments straight into the runtime's
/// value slots (no ``Value`` array) and enters the compiled code.
public struct TypedFunction<each Parameter: WasmValueConvertible, Results>: @unchecked Sendable {
    /// The function being called.
    public let function: Function
    private let thunk: kiln_thunk?
    private let code: UnsafeMutableRawPointer?
    private let context: UnsafeMutableRawPointer?
    private let host: HostFunctionBox?
    /// 16-byte value slots a call needs: enough for the parameters and for the results.
    @usableFromInline let slots: Int
    /// Reads the results from the value slots; made where the result types are known.
    @usableFromInline let decode: (UnsafeMutableRawPointer, Store) -> Results

    @usableFromInline
    init(function: Function, expected: FunctionType, decode: @escaping (UnsafeMutableRawPointer, Store) -> Results) throws(KilnError) {
        let entity = function.entity
        guard entity.type == expected else {
            throw KilnError.typeMismatch(reason: "function has type \(entity.type.wasmText), not \(expected.wasmText)")
        }
        self.function = function
        self.thunk = entity.thunk
        self.code = function.record.pointee.code
        self.context = function.record.pointee.ctx
        self.host = entity.host
        self.decode = decode
        self.slots = max(1, max(expected.parameters.count, expected.results.count))
    }

    /// The function's Wasm type.
    public var type: FunctionType { function.type }

    /// Calls the function on the current thread.
    ///
    /// A trap comes out as ``Trap``, an error a host function threw as itself.
    @inlinable @discardableResult
    public func callAsFunction(_ arguments: repeat each Parameter) throws -> Results {
        try _call(repeat each arguments)
    }

    @inlinable @inline(__always)
    func _call(_ arguments: repeat each Parameter) throws -> Results {
        let store = function.store
        return try withUnsafeTemporaryAllocation(byteCount: slots &* 16, alignment: 16) { buffer in
            let values = buffer.baseAddress!
            var offset = 0
            for argument in repeat each arguments {
                values.storeBytes(of: argument._kilnBits(store: store), toByteOffset: offset, as: UInt64.self)
                offset &+= 16
            }
            try _enter(values)
            return decode(values, store)
        }
    }

    /// Runs the function on the arguments in `values`, leaving its results there.
    @usableFromInline
    func _enter(_ values: UnsafeMutableRawPointer) throws {
        let store = function.store
        try store.checkCanEnter()
        let slots = values.assumingMemoryBound(to: kiln_value.self)
        if let thunk {
            let status = kiln_enter(store.exec, thunk, code, context, slots)
            if status != 0 { throw store.trap(code: status) }
        } else {
            try host!.callFromSwift(slots)
        }
    }

    /// Calls the function from Swift concurrency without blocking a cooperative thread: the Wasm
    /// code runs on the store's own thread (see the async `Function.call(_:)`), and this task
    /// resumes when it returns.
    @discardableResult
    public func callAsFunction(_ arguments: repeat each Parameter) async throws -> Results {
        let arguments = SendableBox((repeat each arguments))
        let call = SendableBox(self)
        return try await function.store.scheduler.run(store: function.store) {
            SendableBox(try call.value._call(repeat each arguments.value))
        }.value
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
    ) throws(KilnError) -> TypedFunction<repeat each P, (repeat each R)> {
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
    ) throws(KilnError) -> TypedFunction<repeat each P, R> {
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
    ) throws(KilnError) -> TypedFunction<repeat each P, (repeat each R)> {
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
    ) throws(KilnError) -> TypedFunction<repeat each P, R> {
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
