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
    /// load and a few hundred KB; `prepareParallelCompilers` loads them), or 1 when no copy loads. `KILN_TCC_COMPILERS=n` in the
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
        _ = prepareParallelCompilers()
        let busy = pool.take()
        defer { pool.give(back: busy) }
        return try body()
    }

    /// Loads the copies of the compiler (once per process) before work is spread over threads;
    /// returns how many compilers there are.
    static func prepareParallelCompilers() -> Int { pool.prepare(parallelism) }

    /// Compilers loaded so far (the linked one included).
    static var loadedCompilers: Int { pool.loadedCount }
}

/// The compilers not compiling right now. Copies are loaded by `prepare` (before work is spread
/// over several threads), never by `take`: loading a copy compiles with the linked libtcc, which
/// must not be compiling anything else meanwhile, so `prepare` holds it while it loads.
private final class CompilerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private let original: UnsafePointer<kiln_tcc_api> = kiln_tcc_original()
    private var free: [UnsafePointer<kiln_tcc_api>] = [kiln_tcc_original()]
    private var loaded = 1
    private var loading = false
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

    /// Loads copies until there are `count` compilers (at most `maximum`); returns how many
    /// there are. A process that compiles one thing at a time never calls it.
    func prepare(_ count: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        while loading { condition.wait() }
        let target = min(count, maximum)
        guard loaded < target else { return loaded }
        loading = true
        // Hold the linked libtcc: the loads compile with it.
        while !free.contains(original) { condition.wait() }
        free.removeAll { $0 == original }
        condition.unlock()
        var copies: [UnsafePointer<kiln_tcc_api>] = []
        while loaded + copies.count < target,
            let copy = TCCCompiler.compilerArchive.flatMap({ kiln_tcc_load_copy($0) }) {
            copies.append(copy)
        }
        condition.lock()
        loaded += copies.count
        if loaded < target { maximum = loaded }
        free.append(original)
        free.append(contentsOf: copies)
        loading = false
        condition.broadcast()
        return loaded
    }

    func take() -> UnsafePointer<kiln_tcc_api> {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty { condition.wait() }
        return free.removeLast()
    }

    func give(back compiler: UnsafePointer<kiln_tcc_api>) {
        condition.lock()
        free.append(compiler)
        condition.broadcast()
        condition.unlock()
    }
}
