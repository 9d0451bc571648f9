/// Everything that can go wrong outside of running Wasm code: decoding, validation, compiling,
/// linking, and using the embedding API with the wrong types.
///
/// A trap while Wasm runs is a ``Trap`` instead, and an error a host function throws comes out of
/// ``Function/call(_:)-20wvs`` as itself.
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
    /// A value or function does not have the type the embedder asked for: a typed function
    /// looked up with the wrong signature, call arguments of the wrong types, a global or table
    /// set to a value of the wrong type.
    case typeMismatch(reason: String)
    /// An instance has no export of this name (or not of the requested kind).
    case unknownExport(name: String)
    /// An operation the embedding API does not allow: setting an immutable global, mixing
    /// objects of different stores or engines, re-entering a store from the wrong thread.
    case invalidOperation(reason: String)
    /// Instantiation or creating a memory or table would exceed the store's ``StoreLimits``.
    case resourceLimitExceeded(reason: String)
    /// A precompiled artifact (`kiln compile -o`) that this Kiln cannot load: see the problem.
    case artifact(ArtifactError)

    /// The error as one line: its kind, then the reason.
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
        case .typeMismatch(let reason):
            return "type mismatch: \(reason)"
        case .unknownExport(let name):
            return "unknown export: \(name)"
        case .invalidOperation(let reason):
            return "invalid operation: \(reason)"
        case .resourceLimitExceeded(let reason):
            return "resource limit exceeded: \(reason)"
        case .artifact(let problem):
            return "cannot load the artifact: \(problem)"
        }
    }
}

/// Why Wasm code trapped. Raw values match the runtime's `KILN_TRAP_*` codes.
public enum TrapReason: UInt32, Sendable, Equatable {
    /// The `unreachable` instruction ran.
    case unreachable = 1
    /// A load, store or bulk memory operation outside the memory.
    case memoryOutOfBounds = 2
    /// Integer division or remainder by zero.
    case integerDivideByZero = 3
    /// Signed division of the minimum value by -1.
    case integerOverflow = 4
    /// A float-to-integer truncation of NaN or of a value out of range.
    case invalidConversionToInteger = 5
    /// `call_indirect` with an index past the end of the table.
    case undefinedElement = 6
    /// `call_indirect` through an empty (null) table slot.
    case uninitializedElement = 7
    /// `call_indirect` to a function of another type.
    case indirectCallTypeMismatch = 8
    /// Recursion too deep for the Wasm stack (see ``EngineConfiguration/stackSize``).
    case callStackExhausted = 9
    /// A table access or bulk table operation outside the table.
    case tableOutOfBounds = 10
    /// `ref.as_non_null` on a null reference.
    case nullReference = 11
    /// A host function threw; the error is in `Trap.underlying`.
    case hostError = 12
    /// `call_ref` on a null function reference.
    case nullFunctionReference = 13
    /// `throw_ref` on a null exception reference.
    case nullExceptionReference = 14
    /// An atomic access to an address that is not a multiple of its size.
    case unalignedAtomic = 16
    /// `memory.atomic.wait` on a memory that is not shared.
    case expectedSharedMemory = 17
    /// The store's fuel ran out (``EngineConfiguration/consumeFuel``); refuel and call again.
    case outOfFuel = 18
    /// The epoch deadline passed, or ``Store/interrupt()`` or task cancellation stopped the call
    /// (``EngineConfiguration/epochInterruption``).
    case interrupted = 19
    /// The runtime could not allocate what the Wasm code needed (an exception object).
    case outOfMemory = 20
    /// Compiling a function on its first call failed (lazy compilation): a bug in Kiln, or the
    /// process ran out of memory or address space.
    case compilationFailed = 21
    /// `struct.get`/`struct.set` on a null reference.
    case nullStructureReference = 22
    /// An `array.*` instruction on a null reference.
    case nullArrayReference = 23
    /// `i31.get_s`/`i31.get_u` on a null reference.
    case nullI31Reference = 24
    /// An array access or bulk array operation outside the array.
    case arrayOutOfBounds = 25
    /// `ref.cast` of a reference that is not of the target type.
    case castFailure = 26
    /// A GC allocation would exceed the heap limit (``EngineConfiguration/gcHeapLimit``) even
    /// after a collection; the store stays usable.
    case gcHeapExhausted = 27

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
        case .nullFunctionReference: return "null function reference"
        case .nullExceptionReference: return "null exception reference"
        case .unalignedAtomic: return "unaligned atomic"
        case .expectedSharedMemory: return "expected shared memory"
        case .outOfFuel: return "all fuel consumed"
        case .interrupted: return "interrupt"
        case .outOfMemory: return "out of memory"
        case .compilationFailed: return "lazy compilation failed"
        case .nullStructureReference: return "null structure reference"
        case .nullArrayReference: return "null array reference"
        case .nullI31Reference: return "null i31 reference"
        case .arrayOutOfBounds: return "out of bounds array access"
        case .castFailure: return "cast failure"
        case .gcHeapExhausted: return "out of memory: GC heap limit reached"
        }
    }
}

/// A Wasm trap surfaced in Swift: the reason, and the Wasm functions that were running.
///
/// ```swift
/// do {
///     try instance.function("crash")!.call([])
/// } catch let trap as Trap {
///     print(trap.reason)     // .unreachable
///     print(trap.message)    // "unreachable"
///     print(trap)            // the message and a backtrace, innermost frame first
/// }
/// ```
///
/// The store stays usable after a trap: what the trapping code wrote to memories, tables and
/// globals stays written, and the next call starts afresh.
public struct Trap: Error, CustomStringConvertible, @unchecked Sendable {
    /// One Wasm function of the backtrace.
    public struct Frame: Sendable, Equatable {
        /// The function's index in its module (imports included).
        public var functionIndex: Int
        /// The function's name from the name section, or the name it is exported under.
        public var functionName: String?
        /// The module's name from the name section.
        public var moduleName: String?

        /// A frame, for comparing against.
        public init(functionIndex: Int, functionName: String? = nil, moduleName: String? = nil) {
            self.functionIndex = functionIndex
            self.functionName = functionName
            self.moduleName = moduleName
        }
    }
    /// Why the code trapped.
    public var reason: TrapReason
    /// The Wasm functions that were running, innermost first. Empty for traps raised by the
    /// embedding API (an out-of-bounds `Memory.read`, say).
    public var backtrace: [Frame]
    /// The error a host function threw, when `reason` is `.hostError`.
    public var underlying: (any Error)?

    /// A trap to throw from a host function (or to compare against): it makes the Wasm code trap
    /// with this reason.
    public init(_ reason: TrapReason, backtrace: [Frame] = [], underlying: (any Error)? = nil) {
        self.reason = reason
        self.backtrace = backtrace
        self.underlying = underlying
    }

    init(reason: TrapReason, backtrace: [Frame], underlying: (any Error)?) {
        self.init(reason, backtrace: backtrace, underlying: underlying)
    }

    /// The spec's wording of the reason (and the host error, if any).

    public var message: String {
        if reason == .hostError, let underlying { return "\(reason.message): \(underlying)" }
        return reason.message
    }

    /// The message and the backtrace, one frame a line.
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
