import WasmParser
import WasmTypes

/// A Wasm value type: `.i32`, `.i64`, `.f32`, `.f64`, `.v128` or `.ref(...)`.
public typealias ValueType = WasmTypes.ValueType
/// A function's parameter and result types.
public typealias FunctionType = WasmTypes.FunctionType
/// A reference type: `.funcRef` or `.externRef`.
public typealias ReferenceType = WasmTypes.ReferenceType

/// A dynamically typed Wasm value, for ``Function/call(_:)-20wvs`` and host functions over
/// `[Value]`. Integers and floats are kept as bit patterns so NaN payloads survive the trip.
///
/// ```swift
/// let values: [Value] = [.i32(1), Value(Int32(-1)), Value(2.5), .funcRef(nil)]
/// values[1].i32   // -1
/// ```
public enum Value: Equatable, @unchecked Sendable {
    /// An `i32`, as its bits.
    case i32(UInt32)
    /// An `i64`, as its bits.
    case i64(UInt64)
    /// An `f32`, as its bits.
    case f32(UInt32)
    /// An `f64`, as its bits.
    case f64(UInt64)
    /// A `v128`, as 16 bytes, lane 0 first.
    case v128([UInt8])
    /// A function reference (nil for null).
    case funcRef(Function?)
    /// An external reference (nil for null).
    case externRef(ExternRef?)
    /// A caught Wasm exception (nil for null), as `catch_ref` and `catch_all_ref` make them.
    case exnRef(ExnRef?)
    /// A reference of the GC `any` hierarchy (anyref, eqref, i31ref, structref, arrayref, a
    /// concrete struct or array type; nil for null).
    case anyRef(AnyRef?)

    /// An `i32`.
    public init(_ value: Int32) { self = .i32(UInt32(bitPattern: value)) }
    /// An `i64`.
    public init(_ value: Int64) { self = .i64(UInt64(bitPattern: value)) }
    /// An `f32`.
    public init(_ value: Float) { self = .f32(value.bitPattern) }
    /// An `f64`.
    public init(_ value: Double) { self = .f64(value.bitPattern) }

    /// The value's Wasm type.
    public var type: ValueType {
        switch self {
        case .i32: return .i32
        case .i64: return .i64
        case .f32: return .f32
        case .f64: return .f64
        case .v128: return .v128
        case .funcRef: return .ref(.funcRef)
        case .externRef: return .ref(.externRef)
        case .exnRef: return .ref(ReferenceType(isNullable: true, heapType: .abstract(.exnRef)))
        case .anyRef: return .ref(ReferenceType(isNullable: true, heapType: .abstract(.any)))
        }
    }

    /// The value as a signed `i32`, if it is one.
    public var i32: Int32? { if case .i32(let v) = self { Int32(bitPattern: v) } else { nil } }
    /// The value as a signed `i64`, if it is one.
    public var i64: Int64? { if case .i64(let v) = self { Int64(bitPattern: v) } else { nil } }
    /// The value as an `f32`, if it is one.
    public var f32: Float? { if case .f32(let v) = self { Float(bitPattern: v) } else { nil } }
    /// The value as an `f64`, if it is one.
    public var f64: Double? { if case .f64(let v) = self { Double(bitPattern: v) } else { nil } }

    /// The zero value of a type (null for references).
    public static func zero(_ type: ValueType) -> Value {
        switch type {
        case .i32: return .i32(0)
        case .i64: return .i64(0)
        case .f32: return .f32(0)
        case .f64: return .f64(0)
        case .v128: return .v128(Array(repeating: 0, count: 16))
        case .ref(let reference):
            switch reference.heapType {
            case .externRef, .abstract(.noExtern): return .externRef(nil)
            case .abstract(.exnRef), .abstract(.noExn): return .exnRef(nil)
            case .abstract(.any), .abstract(.eq), .abstract(.i31), .abstract(.structRef), .abstract(.arrayRef), .abstract(.noneRef):
                return .anyRef(nil)
            default: return .funcRef(nil)
            }
        }
    }

    /// Same type and same bits; references are equal when they are the same function or object.
    public static func == (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.i32(let a), .i32(let b)): return a == b
        case (.i64(let a), .i64(let b)): return a == b
        case (.f32(let a), .f32(let b)): return a == b
        case (.f64(let a), .f64(let b)): return a == b
        case (.v128(let a), .v128(let b)): return a == b
        case (.funcRef(let a), .funcRef(let b)): return a?.record.pointee.ref == b?.record.pointee.ref
        case (.externRef(let a), .externRef(let b)):
            // An externalized GC reference comes out in a new wrapper each time.
            if let x = a?.internalized, let y = b?.internalized { return AnyRef.same(x, y) }
            return a === b
        case (.exnRef(let a), .exnRef(let b)): return a?.exception == b?.exception
        case (.anyRef(let a), .anyRef(let b)): return AnyRef.same(a, b)
        default: return false
        }
    }
}

/// A Wasm exception held as a value (`exnref`): Wasm code can throw it again with `throw_ref`.
/// It stays valid as long as its store.
public final class ExnRef: @unchecked Sendable {
    let exception: UnsafeMutableRawPointer
    /// The store that frees it: an exnref keeps its store alive.
    let store: Store
    init(exception: UnsafeMutableRawPointer, store: Store) {
        self.exception = exception
        self.store = store
    }
}

/// An opaque host value passed to Wasm as an `externref`. Identity is preserved through Wasm:
/// the object that comes back is the one that went in.
public final class ExternRef: @unchecked Sendable {
    /// The host value.
    public let value: Any
    /// Wraps a host value.
    public init(_ value: Any) {
        self.value = value
        internalized = nil
    }
    /// An anyref that `extern.convert_any` made an externref: it converts back to itself.
    let internalized: AnyRef?
    init(internalized: AnyRef) {
        value = internalized
        self.internalized = internalized
    }
}

extension ValueType {
    var isReference: Bool { if case .ref = self { true } else { false } }
}

// MARK: - Swift types that stand for Wasm value types

/// A Swift type that stands for one Wasm value type in typed calls and typed host functions.
///
/// | Swift type | Wasm type |
/// |---|---|
/// | `Int32`, `UInt32` | `i32` |
/// | `Int64`, `UInt64` | `i64` |
/// | `Float` | `f32` |
/// | `Double` | `f64` |
/// | `Function?` | `funcref` |
/// | `ExternRef?` | `externref` |
///
/// The conversions are bit casts: `UInt32(0xffff_ffff)` and `Int32(-1)` are the same `i32`,
/// and float NaN payloads are preserved. The underscored requirements are Kiln's own; conform
/// new types by converting to and from one of the types above.
public protocol WasmValueConvertible: Sendable {
    /// The Wasm type this Swift type converts to.
    static var wasmType: ValueType { get }
    /// This value as a dynamically typed ``Value``.
    var wasmValue: Value { get }
    /// Kiln's raw representation: the low 64 bits of a runtime value slot.
    static func _kilnLoad(_ bits: UInt64, store: Store) -> Self
    func _kilnBits(store: Store) -> UInt64
}

extension Int32: WasmValueConvertible {
    public static var wasmType: ValueType { .i32 }
    public var wasmValue: Value { .i32(UInt32(bitPattern: self)) }
    @inlinable public static func _kilnLoad(_ bits: UInt64, store: Store) -> Int32 { Int32(truncatingIfNeeded: bits) }
    @inlinable public func _kilnBits(store: Store) -> UInt64 { UInt64(UInt32(bitPattern: self)) }
}

extension UInt32: WasmValueConvertible {
    public static var wasmType: ValueType { .i32 }
    public var wasmValue: Value { .i32(self) }
    @inlinable public static func _kilnLoad(_ bits: UInt64, store: Store) -> UInt32 { UInt32(truncatingIfNeeded: bits) }
    @inlinable public func _kilnBits(store: Store) -> UInt64 { UInt64(self) }
}

extension Int64: WasmValueConvertible {
    public static var wasmType: ValueType { .i64 }
    public var wasmValue: Value { .i64(UInt64(bitPattern: self)) }
    @inlinable public static func _kilnLoad(_ bits: UInt64, store: Store) -> Int64 { Int64(bitPattern: bits) }
    @inlinable public func _kilnBits(store: Store) -> UInt64 { UInt64(bitPattern: self) }
}

extension UInt64: WasmValueConvertible {
    public static var wasmType: ValueType { .i64 }
    public var wasmValue: Value { .i64(self) }
    @inlinable public static func _kilnLoad(_ bits: UInt64, store: Store) -> UInt64 { bits }
    @inlinable public func _kilnBits(store: Store) -> UInt64 { self }
}

extension Float: WasmValueConvertible {
    public static var wasmType: ValueType { .f32 }
    public var wasmValue: Value { .f32(bitPattern) }
    @inlinable public static func _kilnLoad(_ bits: UInt64, store: Store) -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: bits)) }
    @inlinable public func _kilnBits(store: Store) -> UInt64 { UInt64(bitPattern) }
}

extension Double: WasmValueConvertible {
    public static var wasmType: ValueType { .f64 }
    public var wasmValue: Value { .f64(bitPattern) }
    @inlinable public static func _kilnLoad(_ bits: UInt64, store: Store) -> Double { Double(bitPattern: bits) }
    @inlinable public func _kilnBits(store: Store) -> UInt64 { bitPattern }
}

/// A reference type usable as `T?` in typed calls: ``Function`` (funcref), ``ExternRef``
/// (externref) and ``AnyRef`` (anyref). Only Kiln's own types conform.
public protocol WasmReference: AnyObject, Sendable {
    static var _kilnReferenceType: ReferenceType { get }
    static func _kilnLoadReference(_ bits: UInt64, store: Store) -> Self?
    static func _kilnReferenceBits(_ reference: Self?, store: Store) -> UInt64
    static func _kilnValue(_ reference: Self?) -> Value
}

extension Function: WasmReference {
    public static var _kilnReferenceType: ReferenceType { .funcRef }
    public static func _kilnLoadReference(_ bits: UInt64, store: Store) -> Self? {
        store.function(fromReference: UnsafeMutableRawPointer(bitPattern: UInt(bits))) as? Self
    }
    public static func _kilnReferenceBits(_ reference: Function?, store: Store) -> UInt64 {
        precondition(reference == nil || reference!.store === store, "a function of another store cannot be used in this store")
        return UInt64(UInt(bitPattern: reference?.record.pointee.ref))
    }
    public static func _kilnValue(_ reference: Function?) -> Value { .funcRef(reference) }
}

extension ExternRef: WasmReference {
    public static var _kilnReferenceType: ReferenceType { .externRef }
    public static func _kilnLoadReference(_ bits: UInt64, store: Store) -> Self? {
        store.externValue(bits) as? Self
    }
    public static func _kilnReferenceBits(_ reference: ExternRef?, store: Store) -> UInt64 {
        UInt64(UInt(bitPattern: store.rawValue(.externRef(reference)).ref))
    }
    public static func _kilnValue(_ reference: ExternRef?) -> Value { .externRef(reference) }
}

extension AnyRef: WasmReference {
    public static var _kilnReferenceType: ReferenceType { ReferenceType(isNullable: true, heapType: .abstract(.any)) }
    public static func _kilnLoadReference(_ bits: UInt64, store: Store) -> Self? {
        bits == 0 ? nil : AnyRef(store: store, word: bits) as? Self
    }
    public static func _kilnReferenceBits(_ reference: AnyRef?, store: Store) -> UInt64 {
        reference?.word(in: store) ?? 0
    }
    public static func _kilnValue(_ reference: AnyRef?) -> Value { .anyRef(reference) }
}

extension Optional: WasmValueConvertible where Wrapped: WasmReference {
    public static var wasmType: ValueType { .ref(Wrapped._kilnReferenceType) }
    public var wasmValue: Value { Wrapped._kilnValue(self) }
    public static func _kilnLoad(_ bits: UInt64, store: Store) -> Wrapped? { Wrapped._kilnLoadReference(bits, store: store) }
    public func _kilnBits(store: Store) -> UInt64 { Wrapped._kilnReferenceBits(self, store: store) }
}

extension Value {
    /// A Swift value as a Wasm value: `Value(Int32(1))`, `Value(3.5)`, `Value(function)`.
    public init(_ value: some WasmValueConvertible) { self = value.wasmValue }
    /// An `i32` from its bits.
    public init(_ value: UInt32) { self = .i32(value) }
    /// An `i64` from its bits.
    public init(_ value: UInt64) { self = .i64(value) }
    /// A function reference.
    public init(_ function: Function?) { self = .funcRef(function) }
    /// An external reference.
    public init(_ reference: ExternRef?) { self = .externRef(reference) }
}

extension ValueType {
    /// The text format's name: `i32`, `funcref`, ...
    var wasmText: String {
        switch self {
        case .i32: return "i32"
        case .i64: return "i64"
        case .f32: return "f32"
        case .f64: return "f64"
        case .v128: return "v128"
        case .ref(let reference):
            switch reference.heapType {
            case .externRef: return "externref"
            case .funcRef: return "funcref"
            default: return "\(reference)"
            }
        }
    }
}

extension FunctionType {
    /// `(i32, i32) -> i32`
    var wasmText: String {
        let parameters = "(" + self.parameters.map(\.wasmText).joined(separator: ", ") + ")"
        switch results.count {
        case 0: return parameters + " -> ()"
        case 1: return parameters + " -> " + results[0].wasmText
        default: return parameters + " -> (" + results.map(\.wasmText).joined(separator: ", ") + ")"
        }
    }
}
