import WasmParser
import WasmTypes

/// The generated C of some of a module's functions, and what the runtime finds in it once
/// compiled. Functions call each other through the module's code table (`CODE_SLOT`), never
/// directly, so batches compile separately (lazily, or optimized later) and call each other.
struct LoweredBatch: Sendable {
    var source: String
    /// The defined functions (indices among the defined ones), in the order of `batchSymbol`.
    var functions: [Int]
    /// Whether the source holds the entry thunks (`entryTableSymbol`).
    var hasEntryThunks: Bool

    /// Symbol of the array holding two addresses per function of the batch, in order: its code
    /// and its tail entry (NULL when its tail entry is its type's entry thunk).
    static let batchSymbol = "kiln_batch"
    /// An empty function after the batch's functions: where their code ends, for backtraces.
    static let batchEndSymbol = "kiln_batch_end"
    /// Symbol of the array holding the entry thunk of every type index.
    static let entryTableSymbol = "kiln_entries"
}

/// Validated module -> C source: the prelude's `#include`, the function pointer types, one C
/// function per Wasm function of the batch, and (in the batch that has them) one entry thunk per
/// function type.
enum ModuleLowering {
    static let preludeInclude = "#include \"kiln_prelude.h\"\n"

    /// The whole module in one batch, with the entry thunks (what `kiln compile --emit-c` shows).
    static func lower(_ module: ValidatedModule, signatureIDs: [UInt64], options: LoweringOptions = LoweringOptions()) throws(KilnError) -> LoweredBatch {
        try lower(module, functions: Array(0..<module.info.definedFunctionCount), withEntryThunks: true, signatureIDs: signatureIDs, options: options)
    }

    /// The C of some of a batch's functions, and what they need declared.
    private struct LoweredChunk {
        var text: [UInt8] = []
        var helpers: Set<String> = []
        var usedTypes: Set<Int> = []
        var batchEntries: [String] = []
    }

    /// Functions per chunk below which a batch is lowered on one thread.
    static let parallelChunk = 128

    static func lower(_ validated: ValidatedModule, functions batch: [Int], withEntryThunks: Bool, signatureIDs: [UInt64], options: LoweringOptions) throws(KilnError) -> LoweredBatch {
        let module = validated.info
        // Functions lower independently: a big batch (a whole module, for --emit-c or the
        // optimized tier) is lowered in chunks on every core, each into its own buffer.
        let chunks = try inParallelChunks(count: batch.count, minimumChunk: parallelChunk) { (range) throws(KilnError) -> [LoweredChunk] in
            var chunk = LoweredChunk()
            chunk.text.reserveCapacity(batch[range].reduce(0) { $0 + module.code.byteCount($1) } * 6)
            for defined in batch[range] {
                let index = defined + module.importedFunctionCount
                var lowering = try FunctionLowering(module: validated, functionIndex: index, signatureIDs: signatureIDs)
                lowering.metering = Metering(options: options)
                chunk.text.append(contentsOf: "\n/* func \(index) */\n".utf8)
                try lowering.lower(into: &chunk.text)
                chunk.helpers.formUnion(lowering.helperDeclarations)
                chunk.usedTypes.formUnion(lowering.calledTypes)
                chunk.batchEntries.append("(void *)\(CSyntax.function(index))")
                chunk.batchEntries.append(lowering.makesTailCalls ? "(void *)\(CSyntax.tailEntry(index))" : "0")
            }
            return [chunk]
        }
        var helpers: Set<String> = []
        var usedTypes: Set<Int> = withEntryThunks ? Set(module.types.indices) : []
        var batchEntries: [String] = []
        for chunk in chunks {
            helpers.formUnion(chunk.helpers)
            usedTypes.formUnion(chunk.usedTypes)
            batchEntries += chunk.batchEntries
        }
        var source = preludeInclude
        if !usedTypes.isEmpty {
            source += "\n/* Function types: first result returned, the others through pointers. */\n"
            for index in usedTypes.sorted() {
                let type = module.types[index]
                source += "typedef \(CSyntax.returnType(type)) (*\(CSyntax.functionPointerType(index)))("
                source += CSyntax.parameterList(type, context: "void *", named: false) + ");\n"
            }
        }
        if !helpers.isEmpty {
            source += "\n/* Runtime helpers the prelude declares to TCC only on demand. */\n"
            source += helpers.sorted().joined(separator: "\n") + "\n"
        }
        var suffix = ""
        suffix += "\nvoid \(LoweredBatch.batchEndSymbol)(void) {}\n"
        suffix += "void *\(LoweredBatch.batchSymbol)[] = {" + (batchEntries.isEmpty ? "0" : batchEntries.joined(separator: ", ")) + "};\n"
        if withEntryThunks {
            suffix += "\n/* Entry thunks: Swift calls code through these with arguments and results in values. */\n"
            for (index, type) in module.types.enumerated() {
                suffix += entryThunk(typeIndex: index, type)
            }
            suffix += "void *\(LoweredBatch.entryTableSymbol)[] = {"
            suffix += module.types.indices.map { "(void *)\(CSyntax.entryThunk($0))" }.joined(separator: ", ")
            suffix += module.types.isEmpty ? "0};\n" : "};\n"
        }
        // One copy of every chunk's bytes into the final string.
        let prefix = source
        let total = prefix.utf8.count + chunks.reduce(0) { $0 + $1.text.count } + suffix.utf8.count
        source = String(unsafeUninitializedCapacity: total) { buffer in
            var offset = 0
            func copy(_ bytes: some Collection<UInt8>) {
                offset = buffer[offset...].initialize(fromContentsOf: bytes)
            }
            copy(prefix.utf8)
            for chunk in chunks { copy(chunk.text) }
            copy(suffix.utf8)
            return offset
        }
        return LoweredBatch(source: source, functions: batch, hasEntryThunks: withEntryThunks)
    }

    /// `void kiln_entryN(void *code, void *ctx, kiln_value *v)`: unpack, call, pack.
    static func entryThunk(typeIndex: Int, _ type: FunctionType) -> String {
        valuesThunk(name: CSyntax.entryThunk(typeIndex), callee: "((\(CSyntax.functionPointerType(typeIndex)))code)", context: "ctx", type)
    }

    /// `static void NAME(void *code, void *ctx, kiln_value *v)`: calls `callee` with `context` and
    /// the arguments in `v`, and writes the results back into `v`; `beforePacking` runs in between
    /// (a tail entry returns there when the callee left a tail call pending).
    static func valuesThunk(name: String, callee: String, context: String, _ type: FunctionType, beforePacking: String? = nil) -> String {
        var text = "static void \(name)(void *code, void *ctx, kiln_value *v) {\n"
        var arguments = [context]
        for (index, parameter) in type.parameters.enumerated() {
            arguments.append(CSyntax.member("v[\(index)]", parameter))
        }
        for (index, result) in type.results.enumerated().dropFirst() {
            text += "    \(CSyntax.type(result)) r\(index);\n"
            arguments.append("&r\(index)")
        }
        let call = "\(callee)(\(arguments.joined(separator: ", ")))"
        text += type.results.first.map { "    \(CSyntax.type($0)) r0 = \(call);\n" } ?? "    \(call);\n"
        if let beforePacking { text += "    \(beforePacking)\n" }
        for (index, result) in type.results.enumerated() {
            text += "    \(CSyntax.member("v[\(index)]", result)) = r\(index);\n"
        }
        return text + "}\n"
    }

    /// The C of a host-function stub for one signature: a native function with the Wasm calling
    /// convention that packs its arguments, calls the Swift host through `kiln_host_call`, and
    /// turns a failure status into a trap. Compiled once per signature per Engine.
    static func hostStub(_ type: FunctionType) -> String {
        var source = preludeInclude
        source += "\(CSyntax.returnType(type)) kiln_host_stub("
        source += CSyntax.parameterList(type, context: "void *host", named: true) + ") {\n"
        let count = max(1, max(type.parameters.count, type.results.count))
        source += "    kiln_value v[\(count)];\n"
        for (index, parameter) in type.parameters.enumerated() {
            source += "    \(CSyntax.member("v[\(index)]", parameter)) = \(CSyntax.local(index));\n"
        }
        source += "    { u32 status = kiln_host_call(host, v); if (status) kiln_host_failed(((kiln_host_context *)host)->exec, status); }\n"
        for (index, result) in type.results.enumerated().dropFirst() {
            source += "    *\(CSyntax.resultPointer(index)) = \(CSyntax.member("v[\(index)]", result));\n"
        }
        if let first = type.results.first {
            source += "    return \(CSyntax.member("v[0]", first));\n"
        }
        return source + "}\n"
    }
}
