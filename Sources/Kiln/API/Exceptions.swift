import KilnRuntimeC
import WasmParser
import WasmTypes

/// An exception tag: what `throw` names and `catch` matches. Its identity is the object: two
/// modules that import the same tag catch each other's exceptions; two tags of the same type
/// defined separately never match.
///
/// ```swift
/// let tag = Tag(store: store, parameters: [.i32])
/// linker.define(module: "env", name: "error", tag)
/// // a host function throws into Wasm:
/// throw WasmException(tag: tag, values: [.i32(7)])
/// ```
public final class Tag: Hashable, @unchecked Sendable {
    /// The store the tag belongs to.
    public let store: Store
    let tag: UnsafeMutablePointer<kiln_tag>

    /// A new tag of a store whose exceptions carry values of these types.
    public convenience init(store: Store, parameters: [ValueType]) {
        let type = FunctionType(parameters: parameters, results: [])
        self.init(store: store, tag: store.makeTag(signature: store.engine.signatureID(type), type: type))
    }

    init(store: Store, tag: UnsafeMutablePointer<kiln_tag>) {
        self.store = store
        self.tag = tag
    }

    /// The tag's type: its parameters are the exception's payload.
    public var type: FunctionType { store.tagType(tag) }

    public static func == (a: Tag, b: Tag) -> Bool { a.tag == b.tag }
    public func hash(into hasher: inout Hasher) { hasher.combine(tag) }
}

/// A Wasm exception as Swift sees it: it leaves a call that Wasm code threw out of, and a host
/// function throws it to raise a Wasm exception that Wasm code can catch.
public struct WasmException: Error, CustomStringConvertible, @unchecked Sendable {
    /// The exception's tag.
    public var tag: Tag
    /// The payload, one value per parameter of the tag's type.
    public var values: [Value]

    /// An exception to throw from a host function.
    public init(tag: Tag, values: [Value]) {
        self.tag = tag
        self.values = values
    }

    public var description: String {
        "uncaught wasm exception (tag of type \(tag.type.wasmText)) with payload [\(values.map(Self.text).joined(separator: ", "))]"
    }

    /// A payload value as Wasm text writes it: `i32 -1`, `f64 2.5`.
    private static func text(_ value: Value) -> String {
        switch value {
        case .i32(let bits): return "i32 \(Int32(bitPattern: bits))"
        case .i64(let bits): return "i64 \(Int64(bitPattern: bits))"
        case .f32(let bits): return "f32 \(Float(bitPattern: bits))"
        case .f64(let bits): return "f64 \(Double(bitPattern: bits))"
        case .v128(let bytes): return "v128 " + bytes.map { String($0, radix: 16) }.joined(separator: " ")
        case .funcRef(let function): return function == nil ? "ref.null func" : "funcref"
        case .externRef(let reference): return reference == nil ? "ref.null extern" : "externref"
        case .exnRef(let reference): return reference == nil ? "ref.null exn" : "exnref"
        case .anyRef(let reference): return reference == nil ? "ref.null any" : "anyref"
        }
    }
}

extension Store {
    /// A tag owned by this store.
    func makeTag(signature: UInt64, type: FunctionType) -> UnsafeMutablePointer<kiln_tag> {
        let tag = allocate(kiln_tag.self, count: 1, initialValue: kiln_tag(sig: signature))
        tagTypes[tag] = type
        return tag
    }

    func tagType(_ tag: UnsafeMutablePointer<kiln_tag>) -> FunctionType {
        tagTypes[tag] ?? FunctionType(parameters: [], results: [])
    }

    /// The exception that left Wasm (`exec->exception`) as a Swift error; frees it unless an
    /// exnref still names it.
    func takeException() -> WasmException {
        guard let raw = exec.pointee.exception else {
            return WasmException(tag: Tag(store: self, parameters: []), values: [])
        }
        let exception = raw
        let tag = Tag(store: self, tag: exception.pointee.tag)
        let type = tagType(exception.pointee.tag)
        var values: [Value] = []
        let payload = kiln_exception_payload(exception)!
        for (index, parameter) in type.parameters.enumerated() {
            values.append(value(payload[index], type: parameter))
        }
        kiln_exception_release(exec, exception)
        exec.pointee.exception = nil
        return WasmException(tag: tag, values: values)
    }

    /// Raises `exception` in the Wasm code that called a host function: parks it in
    /// `exec->exception` for the stub to throw. Returns the status the stub expects.
    func raise(_ exception: WasmException) -> UInt32 {
        let type = exception.tag.type
        guard exception.tag.store === self else {
            pendingHostError = KilnError.invalidOperation(reason: "a host function threw a WasmException whose tag belongs to another store")
            return UInt32(KILN_TRAP_HOST)
        }
        guard exception.values.count == type.parameters.count,
            zip(exception.values, type.parameters).allSatisfy({ $0.matches($1) })
        else {
            pendingHostError = KilnError.typeMismatch(
                reason: "a host function threw a WasmException whose payload does not match its tag's type \(type.wasmText)")
            return UInt32(KILN_TRAP_HOST)
        }
        do {
            for value in exception.values { try checkOwnership(value) }
        } catch {
            pendingHostError = error
            return UInt32(KILN_TRAP_HOST)
        }
        guard let raw = kiln_exception_new(exec, exception.tag.tag, UInt32(exception.values.count)) else {
            pendingHostError = Trap(.outOfMemory)
            return UInt32(KILN_TRAP_HOST)
        }
        let payload = kiln_exception_payload(raw)!
        for (index, value) in exception.values.enumerated() { payload[index] = rawValue(value) }
        exec.pointee.exception = raw
        return UInt32(KILN_TRAP_EXCEPTION)
    }
}
