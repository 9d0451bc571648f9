import WasmParser
import WasmTypes

/// The small set of building blocks every piece of generated C goes through: C types of Wasm
/// values, literals, names. Nothing derived from the module's text ever reaches the C source;
/// identifiers are synthesized from indices and data is written as numbers.
enum CSyntax {
    static func type(_ type: ValueType) -> String {
        switch type {
        case .i32: return "u32"
        case .i64: return "u64"
        case .f32: return "f32"
        case .f64: return "f64"
        case .v128: return "kiln_value"
        case .ref: return "void *"
        }
    }

    /// The `kiln_value` field that holds a value of this type.
    static func field(_ type: ValueType) -> String {
        switch type {
        case .i32: return "i32"
        case .i64: return "i64"
        case .f32: return "f32"
        case .f64: return "f64"
        case .v128: return "v128"
        case .ref: return "ref"
        }
    }

    /// One letter per type, for slot names.
    static func suffix(_ type: ValueType) -> String {
        switch type {
        case .i32: return "i"
        case .i64: return "j"
        case .f32: return "f"
        case .f64: return "d"
        case .v128: return "v"
        case .ref: return "r"
        }
    }

    /// A value held in a `kiln_value` (an lvalue such as `v[2]`): its field, or the whole union
    /// for a v128.
    static func member(_ value: String, _ type: ValueType) -> String {
        type == .v128 ? value : "\(value).\(field(type))"
    }

    /// The cell of global `index` as an lvalue of the global's C type.
    static func global(_ index: UInt32, _ type: ValueType) -> String {
        type == .v128 ? "(*ctx->globals[\(index)])" : "ctx->globals[\(index)]->\(field(type))"
    }

    static func function(_ index: Int) -> String { "fn\(index)" }  // not "f32": that is a type
    static func functionPointerType(_ typeIndex: Int) -> String { "kiln_ft\(typeIndex)" }
    static func entryThunk(_ typeIndex: Int) -> String { "kiln_entry\(typeIndex)" }
    static func local(_ index: Int) -> String { "l\(index)" }
    /// The fuel counter's address, computed once at entry by functions with loops (FUEL_P).
    static let fuelPointerDeclaration = "s64 *KF = &ctx->exec->fuel;"
    /// The stop flag's address, computed once at entry by functions with loops (EPOCH_CHECK_P).
    static let stopPointerDeclaration = "volatile u32 *KS = &ctx->exec->stop;"
    /// The function's cached base of memory `index` (a `u8 *`).
    static func memoryBase(_ index: UInt32) -> String { "M\(index)" }
    static func slot(_ height: Int, _ type: ValueType) -> String { "s\(height)\(suffix(type))" }

    /// `slot(height, type)` written into a byte buffer.
    static func writeSlot(_ height: Int, _ type: ValueType, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "s"))
        out.appendDecimal(UInt64(height))
        out.append(suffixes[Int(kind(type))])
    }

    private static let suffixes: [UInt8] = Array("ijfdvr".utf8)

    /// The index of a type's slot kind (one C type and suffix each): all references are one.
    static func kind(_ type: ValueType) -> UInt8 {
        switch type {
        case .i32: 0
        case .i64: 1
        case .f32: 2
        case .f64: 3
        case .v128: 4
        case .ref: 5
        }
    }

    /// `memoryBase(index)` written into a byte buffer.
    static func writeMemoryBase(_ index: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "M"))
        out.appendDecimal(UInt64(index))
    }

    /// A v128 constant's `static const`, named by its value.
    static func v128Constant(low: UInt64, high: UInt64) -> String {
        "kv_\(String(low, radix: 16))_\(String(high, radix: 16))"
    }
    static func label(_ id: Int) -> String { "L\(id)" }
    static func handler(_ index: Int) -> String { "H\(index)" }
    static func tailBody(_ index: Int) -> String { "fn\(index)_body" }
    static func tailEntry(_ index: Int) -> String { "fn\(index)_tail" }
    static let selfTailLabel = "Lself"
    static func caught(_ index: Int) -> String { "E\(index)" }
    static func resultPointer(_ index: Int) -> String { "kiln_r\(index)" }

    static func i32(_ value: UInt32) -> String { "\(value)u" }
    static func i64(_ value: UInt64) -> String { "\(value)ull" }

    /// Exact float literals: hex floats for positive finite values, bit patterns otherwise
    /// (negative zero and NaN payloads must survive TCC's constant folding).
    /// ±0 and ±1 go through FLOAT_OPAQUE: an optimizer folds x - 0, x * 1, x / 1, x * -1 to x
    /// or -x, which would let a signalling NaN through unquieted (Wasm wants a quiet NaN).
    static func f32(bits: UInt32) -> String {
        let value = Float(bitPattern: bits)
        if value == 0 || value.magnitude == 1 { return "FLOAT_OPAQUE(f32, BITS_F32(\(bits)u))" }
        if value.isFinite && value > 0 { return "(f32)\(hexFloat(Double(value)))" }
        return "BITS_F32(\(bits)u)"
    }

    static func f64(bits: UInt64) -> String {
        let value = Double(bitPattern: bits)
        if value == 0 || value.magnitude == 1 { return "FLOAT_OPAQUE(f64, BITS_F64(\(bits)ull))" }
        if value.isFinite && value > 0 { return hexFloat(value) }
        return "BITS_F64(\(bits)ull)"
    }

    private static func hexFloat(_ value: Double) -> String {
        // value = significand * 2^exponent, with the significand an integer below 2^53.
        let exponent = Int(value.exponent) - 52
        let significand = value.significandBitPattern | (value.isNormal ? (1 << 52) : 0)
        let adjusted = value.isNormal ? exponent : -1074
        return "0x\(String(significand, radix: 16))p\(adjusted)"
    }

    /// The C signature of a Wasm function type: first result returned, the others written
    /// through pointers after the parameters (TCC mishandles mixed int/float struct returns).
    static func returnType(_ type: FunctionType) -> String {
        type.results.first.map(Self.type) ?? "void"
    }

    /// `qualifier` goes between each named parameter's type and name (`TRY_VOLATILE ` in
    /// functions with try blocks: after the type, so that a pointer itself is qualified).
    static func parameterList(_ type: FunctionType, context: String, named: Bool, qualifier: String = "") -> String {
        var parts = [context]
        for (index, parameter) in type.parameters.enumerated() {
            parts.append(named ? "\(Self.type(parameter)) \(qualifier)\(local(index))" : Self.type(parameter))
        }
        for (index, result) in type.results.enumerated().dropFirst() {
            parts.append(named ? "\(Self.type(result)) *\(resultPointer(index))" : "\(Self.type(result)) *")
        }
        return parts.joined(separator: ", ")
    }
}
