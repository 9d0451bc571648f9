/// Everything that can go wrong before Wasm code runs: decoding, validation, compiling, linking.
public enum KilnError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The bytes are not a well-formed module (binary format), or the text does not parse.
    case malformed(reason: String, offset: Int?)
    /// The module is well formed but fails validation; `function` is the function index.
    case invalid(reason: String, function: Int?, offset: Int?)
    /// The module uses a proposal Kiln does not implement yet.
    case unsupported(feature: String)
    /// Instantiation could not satisfy an import, or an initializer is out of bounds.
    case unlinkable(reason: String)
    /// libtcc rejected the generated C (a Kiln bug) or the runtime ran out of resources.
    case compilation(reason: String)

    public var description: String {
        switch self {
        case .malformed(let reason, let offset):
            return "malformed module: \(reason)" + (offset.map { " (at byte offset \($0))" } ?? "")
        case .invalid(let reason, let function, let offset):
            var where_: [String] = []
            if let function { where_.append("function \(function)") }
            if let offset { where_.append("byte offset \(offset)") }
            return "invalid module: \(reason)" + (where_.isEmpty ? "" : " (\(where_.joined(separator: ", ")))")
        case .unsupported(let feature):
            return "unsupported feature: \(feature)"
        case .unlinkable(let reason):
            return "unlinkable: \(reason)"
        case .compilation(let reason):
            return "compilation failed: \(reason)"
        }
    }
}

/// Why Wasm code trapped. Raw values match the runtime's KILN_TRAP_* codes.
public enum TrapReason: UInt32, Sendable, Equatable {
    case unreachable = 1
    case memoryOutOfBounds = 2
    case integerDivideByZero = 3
    case integerOverflow = 4
    case invalidConversionToInteger = 5
    case undefinedElement = 6
    case uninitializedElement = 7
    case indirectCallTypeMismatch = 8
    case callStackExhausted = 9
    case tableOutOfBounds = 10
    case nullReference = 11
    /// A host function threw; the error is in `Trap.underlying`.
    case hostError = 12

    /// The spec interpreter's wording, which the spec tests match.
    public var message: String {
        switch self {
        case .unreachable: return "unreachable"
        case .memoryOutOfBounds: return "out of bounds memory access"
        case .integerDivideByZero: return "integer divide by zero"
        case .integerOverflow: return "integer overflow"
        case .invalidConversionToInteger: return "invalid conversion to integer"
        case .undefinedElement: return "undefined element"
        case .uninitializedElement: return "uninitialized element"
        case .indirectCallTypeMismatch: return "indirect call type mismatch"
        case .callStackExhausted: return "call stack exhausted"
        case .tableOutOfBounds: return "out of bounds table access"
        case .nullReference: return "null reference"
        case .hostError: return "host function failed"
        }
    }
}

/// A Wasm trap surfaced in Swift: the reason, and the Wasm functions that were running.
public struct Trap: Error, CustomStringConvertible, @unchecked Sendable {
    public struct Frame: Sendable, Equatable {
        public var functionIndex: Int
        public var functionName: String?
        public var moduleName: String?
    }
    public var reason: TrapReason
    public var backtrace: [Frame]
    /// The error a host function threw, when `reason` is `.hostError`.
    public var underlying: (any Error)?

    public var message: String {
        if reason == .hostError, let underlying { return "\(reason.message): \(underlying)" }
        return reason.message
    }

    public var description: String {
        var lines = ["wasm trap: \(message)"]
        var depth = 0
        while depth < backtrace.count {
            // Recursion shows as one line with a count, not as a wall of identical frames.
            let frame = backtrace[depth]
            var repeats = 1
            while depth + repeats < backtrace.count && backtrace[depth + repeats] == frame { repeats += 1 }
            let name = frame.functionName ?? "<func \(frame.functionIndex)>"
            let module = frame.moduleName.map { "\($0)!" } ?? ""
            lines.append("  \(depth): \(module)\(name)" + (repeats > 1 ? " (\(repeats) frames)" : ""))
            depth += repeats
        }
        return lines.joined(separator: "\n")
    }
}
