import WasmParser
import WasmTypes

/// A module's generated C and what the runtime needs to find in it once compiled.
struct LoweredModule: Sendable {
    var source: String
    /// Symbol of the array holding every defined function's address, in index order.
    static let functionTableSymbol = "kiln_functions"
    /// Symbol of the array holding the entry thunk of every type index (NULL where unused).
    static let entryTableSymbol = "kiln_entries"
    /// Symbol of the array holding every defined function's tail-call thunk, in index order.
    static let tailEntryTableSymbol = "kiln_tail_entries"
}

/// Validated module -> C source. The source is the prelude's `#include` followed by one C
/// function per Wasm function, one entry thunk per function type, and two address tables.
enum ModuleLowering {
    static let preludeInclude = "#include \"kiln_prelude.h\"\n"

    static func lower(_ module: ModuleInfo, signatureIDs: [UInt64], options: LoweringOptions = LoweringOptions()) throws(KilnError) -> LoweredModule {
        var source = preludeInclude
        source += "\n/* Function types: first result returned, the others through pointers. */\n"
        for (index, type) in module.types.enumerated() {
            source += "typedef \(CSyntax.returnType(type)) (*\(CSyntax.functionPointerType(index)))("
            source += CSyntax.parameterList(type, context: "void *", named: false) + ");\n"
        }
        let defined = module.importedFunctionCount..<module.functionTypes.count
        source += "\n"
        for index in defined {
            let type = module.functionType(of: UInt32(index))
            source += "static \(CSyntax.returnType(type)) \(CSyntax.function(index))("
            source += CSyntax.parameterList(type, context: "kiln_instance *", named: false) + ");\n"
        }
        var functions = ""
        var helpers: Set<String> = []
        var tailEntries: [String] = []
        for index in defined {
            var lowering = FunctionLowering(module: module, functionIndex: index, signatureIDs: signatureIDs)
            lowering.metering = Metering(options: options)
            functions += "\n/* func \(index) */\n"
            functions += try lowering.lower()
            helpers.formUnion(lowering.helperDeclarations)
            tailEntries.append(lowering.makesTailCalls
                ? CSyntax.tailEntry(index) : CSyntax.entryThunk(Int(module.functionTypes[index])))
        }
        if !helpers.isEmpty {
            source += "\n/* Runtime helpers the prelude declares to TCC only on demand. */\n"
            source += helpers.sorted().joined(separator: "\n") + "\n"
        }
        source += functions
        source += "\n/* Entry thunks: Swift calls code through these with arguments and results in values. */\n"
        for (index, type) in module.types.enumerated() {
            source += entryThunk(typeIndex: index, type)
        }
        source += "\nvoid *\(LoweredModule.functionTableSymbol)[] = {"
        source += defined.map { "(void *)\(CSyntax.function($0))" }.joined(separator: ", ")
        source += defined.isEmpty ? "0};\n" : "};\n"
        source += "void *\(LoweredModule.entryTableSymbol)[] = {"
        source += module.types.indices.map { "(void *)\(CSyntax.entryThunk($0))" }.joined(separator: ", ")
        source += module.types.isEmpty ? "0};\n" : "};\n"
        source += "void *\(LoweredModule.tailEntryTableSymbol)[] = {"
        source += tailEntries.map { "(void *)\($0)" }.joined(separator: ", ")
        source += tailEntries.isEmpty ? "0};\n" : "};\n"
        return LoweredModule(source: source)
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
