import Kiln

/// Command-line text <-> Wasm values: integers in decimal or hex (negative allowed), floats in
/// any Swift-readable form plus `nan`, `-nan`, `inf`; results printed so they round-trip.
enum ValueText {
    static func parse(_ text: String, as type: ValueType) -> Value? {
        switch type {
        case .i32:
            guard let value = integer(text, bits: 32) else { return nil }
            return .i32(UInt32(truncatingIfNeeded: value))
        case .i64:
            guard let value = integer(text, bits: 64) else { return nil }
            return .i64(value)
        case .f32:
            guard let value = Float(floatText(text)) else { return nil }
            return .f32(value.bitPattern)
        case .f64:
            guard let value = Double(floatText(text)) else { return nil }
            return .f64(value.bitPattern)
        default:
            return nil
        }
    }

    private static func floatText(_ text: String) -> String {
        text.replacingOccurrences(of: "_", with: "").lowercased()
            .replacingOccurrences(of: "infinity", with: "inf")
    }

    /// Signed or unsigned, decimal or 0x-hex; the bit pattern, or nil when out of range.
    private static func integer(_ text: String, bits: Int) -> UInt64? {
        var body = Substring(text.replacingOccurrences(of: "_", with: ""))
        var negative = false
        if body.hasPrefix("-") {
            negative = true
            body = body.dropFirst()
        } else if body.hasPrefix("+") {
            body = body.dropFirst()
        }
        var radix = 10
        if body.lowercased().hasPrefix("0x") {
            radix = 16
            body = body.dropFirst(2)
        }
        guard let magnitude = UInt64(body, radix: radix) else { return nil }
        let limit: UInt64 = bits == 64 ? UInt64.max : (1 << UInt64(bits)) - 1
        if negative {
            guard magnitude <= (limit >> 1) + 1 else { return nil }
            return (0 &- magnitude) & limit
        }
        return magnitude <= limit ? magnitude : nil
    }

    static func format(_ value: Value) -> String {
        switch value {
        case .i32(let bits): return String(Int32(bitPattern: bits))
        case .i64(let bits): return String(Int64(bitPattern: bits))
        case .f32(let bits): return describe(Float(bitPattern: bits))
        case .f64(let bits): return describe(Double(bitPattern: bits))
        case .v128(let bytes): return "v128:" + bytes.map { String($0, radix: 16) }.joined(separator: " ")
        case .funcRef(let function): return function == nil ? "null funcref" : "funcref"
        case .externRef(let reference): return reference == nil ? "null externref" : "externref"
        case .exnRef(let reference): return reference == nil ? "null exnref" : "exnref"
        case .anyRef(let reference):
            guard let reference else { return "null anyref" }
            if let value = reference.i31 { return "i31:\(value)" }
            return reference.isStruct ? "structref" : reference.isArray ? "arrayref" : "anyref"
        }
    }

    private static func describe<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F) -> String {
        if value.isNaN { return value.sign == .minus ? "-nan" : "nan" }
        if value.isInfinite { return value.sign == .minus ? "-inf" : "inf" }
        return value.description
    }
}
