import CTCC
import Foundation
import KilnRuntimeC

/// Native code that libtcc produced in memory; freed with the last reference.
final class NativeCode: @unchecked Sendable {
    private let state: OpaquePointer

    fileprivate init(state: OpaquePointer) { self.state = state }

    deinit { tcc_delete(state) }

    func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        tcc_get_symbol(state, name)
    }
}

/// C source -> native code, with libtcc. This libtcc keeps its compiler state in globals, so
/// every compile in the process goes through one lock.
enum TCCCompiler {
    private static let lock = NSLock()

    static let runtimeLibrary: String? = {
        let candidates = [
            "/usr/lib/x86_64-linux-gnu/tcc/libtcc1.a", "/usr/lib/aarch64-linux-gnu/tcc/libtcc1.a",
            "/usr/lib/tcc/libtcc1.a", "/usr/local/lib/tcc/libtcc1.a",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }()

    /// Compiles generated C whose first line includes the prelude.
    static func compile(_ source: String, extraSymbols: [(String, UnsafeRawPointer)] = []) throws(KilnError) -> NativeCode {
        precondition(source.hasPrefix(ModuleLowering.preludeInclude))
        let body = source.dropFirst(ModuleLowering.preludeInclude.utf8.count)
        let text = String(cString: kiln_prelude_text_pointer()) + "\n#line 2 \"module.c\"\n" + body
        lock.lock()
        defer { lock.unlock() }
        guard let state = tcc_new() else { throw KilnError.compilation(reason: "libtcc could not start") }
        let code = NativeCode(state: state)
        let errors = ErrorSink()
        tcc_set_error_func(state, Unmanaged.passUnretained(errors).toOpaque()) { opaque, message in
            guard let opaque, let message else { return }
            Unmanaged<ErrorSink>.fromOpaque(opaque).takeUnretainedValue().messages.append(String(cString: message))
        }
        tcc_set_options(state, "-nostdinc -nostdlib")
        tcc_set_output_type(state, TCC_OUTPUT_MEMORY)
        for index in 0..<Int(kiln_runtime_symbol_count) {
            let symbol = kiln_runtime_symbols_pointer()[index]
            tcc_add_symbol(state, symbol.name, symbol.address)
        }
        for (name, address) in extraSymbols { tcc_add_symbol(state, name, address) }
        let compiled = withExtendedLifetime(errors) { tcc_compile_string(state, text) }
        guard compiled == 0 else {
            throw KilnError.compilation(reason: errors.messages.prefix(5).joined(separator: "\n"))
        }
        // u64 <-> float conversions live in libtcc1.a; it must come after the code that needs it.
        if let library = runtimeLibrary { tcc_add_file(state, library) }
        guard kiln_tcc_relocate(state) >= 0 else {
            throw KilnError.compilation(reason: "libtcc relocation failed: " + errors.messages.joined(separator: "\n"))
        }
        return code
    }

    private final class ErrorSink { var messages: [String] = [] }
}
