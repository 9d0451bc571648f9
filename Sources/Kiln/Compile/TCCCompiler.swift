import CTCC
import Foundation
import KilnRuntimeC

/// Native code that libtcc produced in memory; freed with the last reference.
final class NativeCode: @unchecked Sendable {
    private let state: OpaquePointer
    private let compiler: UnsafePointer<kiln_tcc_api>

    fileprivate init(state: OpaquePointer, compiler: UnsafePointer<kiln_tcc_api>) {
        self.state = state
        self.compiler = compiler
    }

    deinit { compiler.pointee.delete_state(state) }

    func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        compiler.pointee.get_symbol(state, name)
    }
}

/// C source -> native code, with libtcc.
///
/// This libtcc keeps its compiler state in globals: one compile at a time per copy of the
/// library. Kiln links one copy and, to compile on several cores, loads more from libtcc's
/// static archive with libtcc itself (`kiln_tcc_load_copy`: each copy's globals are its own).
/// `TCCCompiler.compile` takes whichever compiler is free; without the archive there is just
/// the linked one.
enum TCCCompiler {
    static let runtimeLibrary: String? = firstExisting([
        "/usr/lib/x86_64-linux-gnu/tcc/libtcc1.a", "/usr/lib/aarch64-linux-gnu/tcc/libtcc1.a",
        "/usr/lib/tcc/libtcc1.a", "/usr/local/lib/tcc/libtcc1.a",
    ])

    /// libtcc's static archive, where copies of the compiler come from.
    static let compilerArchive: String? = firstExisting([
        "/usr/lib/x86_64-linux-gnu/libtcc.a", "/usr/lib/aarch64-linux-gnu/libtcc.a",
        "/usr/lib/libtcc.a", "/usr/local/lib/libtcc.a",
    ])

    private static func firstExisting(_ paths: [String]) -> String? {
        paths.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// How many compiles may run at once: one per core, up to four (each copy costs ~2 ms to
    /// load and a few hundred KB), or 1 when no copy loads. `KILN_TCC_COMPILERS=n` in the
    /// environment sets the number (1: the linked libtcc alone), for measuring.
    static var parallelism: Int { pool.capacity }

    private static let pool = CompilerPool(capacity: {
        if let text = ProcessInfo.processInfo.environment["KILN_TCC_COMPILERS"], let count = Int(text), count >= 1 {
            return count
        }
        return min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))
    }())

    /// Compiles generated C whose first line includes the prelude.
    static func compile(_ source: String, extraSymbols: [(String, UnsafeRawPointer)] = []) throws(KilnError) -> NativeCode {
        precondition(source.hasPrefix(ModuleLowering.preludeInclude))
        let body = source.dropFirst(ModuleLowering.preludeInclude.utf8.count)
        let text = String(cString: kiln_prelude_text_pointer()) + "\n#line 2 \"module.c\"\n" + body
        let compiler = pool.take()
        defer { pool.give(back: compiler) }
        let api = compiler.pointee
        guard let state = api.new_state() else { throw KilnError.compilation(reason: "libtcc could not start") }
        let code = NativeCode(state: state, compiler: compiler)
        let errors = ErrorSink()
        api.set_error_func(state, Unmanaged.passUnretained(errors).toOpaque()) { opaque, message in
            guard let opaque, let message else { return }
            Unmanaged<ErrorSink>.fromOpaque(opaque).takeUnretainedValue().messages.append(String(cString: message))
        }
        api.set_options(state, "-nostdinc -nostdlib")
        _ = api.set_output_type(state, TCC_OUTPUT_MEMORY)
        for index in 0..<Int(kiln_runtime_symbol_count) {
            let symbol = kiln_runtime_symbols_pointer()[index]
            _ = api.add_symbol(state, symbol.name, symbol.address)
        }
        for (name, address) in extraSymbols { _ = api.add_symbol(state, name, address) }
        let compiled = withExtendedLifetime(errors) { api.compile_string(state, text) }
        guard compiled == 0 else {
            throw KilnError.compilation(reason: errors.messages.prefix(5).joined(separator: "\n"))
        }
        // u64 <-> float conversions live in libtcc1.a; it must come after the code that needs it.
        if let library = runtimeLibrary { _ = api.add_file(state, library) }
        guard api.relocate(state) >= 0 else {
            throw KilnError.compilation(reason: "libtcc relocation failed: " + errors.messages.joined(separator: "\n"))
        }
        return code
    }

    private final class ErrorSink { var messages: [String] = [] }

    /// Runs `body` while one compiler is kept busy, so that its compiles take another (tests).
    static func whileOneCompilerIsBusy<T>(_ body: () throws -> T) rethrows -> T {
        let busy = pool.take()
        defer { pool.give(back: busy) }
        return try body()
    }

    /// Compilers loaded so far (the linked one included).
    static var loadedCompilers: Int { pool.loadedCount }
}

/// The compilers not compiling right now. Copies load on first need, when every compiler
/// loaded so far is busy, so a process that compiles one thing at a time never loads one.
private final class CompilerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var free: [UnsafePointer<kiln_tcc_api>] = [kiln_tcc_original()]
    private var loaded = 1
    /// Compilers there may be; lowered to what loaded when a copy fails to.
    private var maximum: Int
    var capacity: Int {
        condition.lock()
        defer { condition.unlock() }
        return maximum
    }

    init(capacity: Int) { maximum = capacity }

    var loadedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return loaded
    }

    func take() -> UnsafePointer<kiln_tcc_api> {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty {
            if loaded < maximum {
                loaded += 1
                // Loading takes a couple of milliseconds: other threads may give compilers back.
                condition.unlock()
                let copy = TCCCompiler.compilerArchive.flatMap { kiln_tcc_load_copy($0) }
                condition.lock()
                if let copy { return copy }
                loaded -= 1
                maximum = loaded
                continue
            }
            condition.wait()
        }
        return free.removeLast()
    }

    func give(back compiler: UnsafePointer<kiln_tcc_api>) {
        condition.lock()
        free.append(compiler)
        condition.signal()
        condition.unlock()
    }
}
