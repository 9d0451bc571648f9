import WasmParser
import WasmTypes

public typealias ValueType = WasmTypes.ValueType
public typealias FunctionType = WasmTypes.FunctionType
public typealias ReferenceType = WasmTypes.ReferenceType

/// A Wasm value. Floats are kept as bit patterns so NaN payloads survive the trip.
public enum Value: Equatable, @unchecked Sendable {
    case i32(UInt32)
    case i64(UInt64)
    case f32(UInt32)
    case f64(UInt64)
    case v128([UInt8])
    case funcRef(Function?)
    case externRef(ExternRef?)

    public init(_ value: Int32) { self = .i32(UInt32(bitPattern: value)) }
    public init(_ value: Int64) { self = .i64(UInt64(bitPattern: value)) }
    public init(_ value: Float) { self = .f32(value.bitPattern) }
    public init(_ value: Double) { self = .f64(value.bitPattern) }

    public var type: ValueType {
        switch self {
        case .i32: return .i32
        case .i64: return .i64
        case .f32: return .f32
        case .f64: return .f64
        case .v128: return .v128
        case .funcRef: return .ref(.funcRef)
        case .externRef: return .ref(.externRef)
        }
    }

    public var i32: Int32? { if case .i32(let v) = self { Int32(bitPattern: v) } else { nil } }
    public var i64: Int64? { if case .i64(let v) = self { Int64(bitPattern: v) } else { nil } }
    public var f32: Float? { if case .f32(let v) = self { Float(bitPattern: v) } else { nil } }
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
            return reference.heapType == .externRef ? .externRef(nil) : .funcRef(nil)
        }
    }

    public static func == (lhs: Value, rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.i32(let a), .i32(let b)): return a == b
        case (.i64(let a), .i64(let b)): return a == b
        case (.f32(let a), .f32(let b)): return a == b
        case (.f64(let a), .f64(let b)): return a == b
        case (.v128(let a), .v128(let b)): return a == b
        case (.funcRef(let a), .funcRef(let b)): return a?.record.pointee.ref == b?.record.pointee.ref
        case (.externRef(let a), .externRef(let b)): return a === b
        default: return false
        }
    }
}

/// An opaque host value passed to Wasm as an `externref`. Identity is preserved through Wasm.
public final class ExternRef: @unchecked Sendable {
    public let value: Any
    public init(_ value: Any) { self.value = value }
}

extension ValueType {
    var isReference: Bool { if case .ref = self { true } else { false } }
}
