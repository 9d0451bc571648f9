import WasmParser
import WasmTypes

/// A decoded module: every section in Kiln's own shape, function bodies as instruction lists.
/// Produced by `ModuleDecoder`, checked by `Validator`, consumed by `CLowering` and instantiation.
struct ModuleInfo: Sendable {
    /// The function type of every type index, for the code that only knows function types
    /// (lowering, instantiation): a struct or array type's entry is the empty function type, a
    /// placeholder the validator never lets stand for a function type (`definitions` tells).
    var types: [FunctionType] = []
    /// The type section as written (Wasm 3.0), one entry per type index: function, struct and
    /// array types with their `sub`/`final` declarations. A plain `(func ...)` is a final
    /// function type without supertypes.
    var definitions: [SubType] = []
    /// The recursion groups, as ranges of type indices covering `definitions` in order; a
    /// type outside a `rec` is a group of its own.
    var recursionGroups: [Range<Int>] = []
    var imports: [Import] = []
    /// Type index of every function, imported ones first.
    var functionTypes: [UInt32] = []
    var importedFunctionCount = 0
    /// Every table, imported ones first; `tableInitializers` covers the defined ones.
    var tables: [TableType] = []
    var tableInitializers: [ConstExpression?] = []
    var importedTableCount = 0
    var memories: [MemoryType] = []
    var importedMemoryCount = 0
    /// Every global, imported ones first; `globalInitializers` covers the defined ones.
    var globals: [GlobalType] = []
    var globalInitializers: [ConstExpression] = []
    var importedGlobalCount = 0
    /// Type index of every exception tag, imported ones first.
    var tags: [UInt32] = []
    var importedTagCount = 0
    var exports: [Export] = []
    var start: UInt32?
    var elements: [ElementSegment] = []
    var data: [DataSegment] = []
    var dataCount: UInt32?
    /// The function bodies, as bytes: decoded when needed (validation decodes each once, in
    /// parallel, and drops it; lowering decodes again), so that a 100 MB module never holds
    /// every body's instruction list at once.
    var code = FunctionCode()
    var names = NameInfo()
    /// The proposals the module was allowed to use (configured and implemented): the decoder
    /// has refused everything outside them; validation and lowering may consult them.
    var features: WasmFeatures = .default

    var definedFunctionCount: Int { functionTypes.count - importedFunctionCount }

    /// Bytes of function bodies (about the code section's size).
    var codeSize: Int { code.totalBytes }

    func functionType(of function: UInt32) -> FunctionType {
        types[Int(functionTypes[Int(function)])]
    }

    func blockSignature(_ blockType: BlockType) -> (parameters: [ValueType], results: [ValueType]) {
        switch blockType {
        case .empty: return ([], [])
        case .type(let type): return ([], [type])
        case .funcType(let index):
            let type = types[Int(index)]
            return (type.parameters, type.results)
        }
    }
}

/// Where each function body is in the module's bytes, and how to decode it.
struct FunctionCode: Sendable {
    struct Entry: Sendable {
        var locals: [ValueType]
        var start: Int
        var end: Int
    }

    var bytes: [UInt8] = []
    var entries: [Entry] = []
    var gate = FeatureGate(.default)
    var memoryCount = 0
    private(set) var totalBytes = 0

    init() {}

    init(bytes: [UInt8], entries: [Entry], gate: FeatureGate, memoryCount: Int) {
        self.bytes = bytes
        self.entries = entries
        self.gate = gate
        self.memoryCount = memoryCount
        self.totalBytes = entries.reduce(0) { $0 + $1.end - $1.start }
    }

    var count: Int { entries.count }

    /// Bytes of defined function `index`'s body.
    func byteCount(_ index: Int) -> Int { entries[index].end - entries[index].start }

    /// Decodes defined function `index`'s body: malformed bytes and instructions of proposals
    /// the gate refuses throw.
    func body(_ index: Int) throws(KilnError) -> FunctionBody {
        var body = FunctionBody(locals: [], instructions: [], offsets: [])
        try decodeBody(index, into: &body)
        return body
    }

    /// `body(index)` into `body`, reusing its arrays' storage (see `InstructionDecoder.decode`).
    func decodeBody(_ index: Int, into body: inout FunctionBody) throws(KilnError) {
        let entry = entries[index]
        body.locals = entry.locals
        try bytes.withUnsafeBufferPointer { (buffer) throws(KilnError) in
            for local in entry.locals { try gate.require(local) }
            var decoder = InstructionDecoder(
                reader: ByteReader(bytes: buffer, position: entry.start, end: entry.end), gate: gate, memoryCount: memoryCount)
            try decoder.decode(into: &body)
        }
    }
}

struct FunctionBody: Sendable {
    /// Declared locals, parameters excluded.
    var locals: [ValueType]
    var instructions: [BodyInstruction]
    /// Byte offset in the module of each instruction, for error messages.
    var offsets: [Int]
}

/// What the name section says, for backtraces.
struct NameInfo: Sendable {
    var module: String?
    var functions: [UInt32: String] = [:]
}

/// One instruction of a function body: WasmParser's `Instruction`, or one of the legacy
/// exception-handling instructions (the pre-3.0 proposal, still emitted by older LLVM), which
/// WasmParser does not know.
enum BodyInstruction: Sendable {
    case standard(Instruction)
    /// `try bt`: a block whose body's exceptions go to the `catch`/`catch_all` clauses after it.
    case legacyTry(BlockType)
    case legacyCatch(tag: UInt32)
    case legacyCatchAll
    /// `delegate l`: ends a `try` whose exceptions go on to the handlers of label `l`.
    case legacyDelegate(relativeDepth: UInt32)
    /// `rethrow l`: throws again the exception caught by the `catch` at label `l`.
    case legacyRethrow(relativeDepth: UInt32)
}
