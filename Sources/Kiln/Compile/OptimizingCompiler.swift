import Foundation
import KilnRuntimeC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Native code for one module, whichever compiler produced it: the runtime looks up the
/// module's address tables (`kiln_functions`, `kiln_entries`, `kiln_tail_entries`) by name and
/// keeps the code alive as long as it holds the value.
protocol LoadedCode: AnyObject, Sendable {
    func symbol(_ name: String) -> UnsafeMutableRawPointer?
}

extension NativeCode: LoadedCode {}

/// Code of the optimized tier: a shared object that an optimizing C compiler built from the
/// module's C, loaded with dlopen and bound to the runtime (`kiln_bind`). Unloaded with the last
/// reference.
final class SharedObjectCode: LoadedCode, @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    /// A private copy of the object, deleted once unloaded (not before: while the file exists its
    /// inode cannot be reused, and dlopen identifies loaded objects by inode).
    private let ownedFile: String?

    private init(handle: UnsafeMutableRawPointer, ownedFile: String?) {
        self.handle = handle
        self.ownedFile = ownedFile
    }

    deinit {
        dlclose(handle)
        if let ownedFile { unlink(ownedFile) }
    }

    func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }

    /// Loads the object at `path`, checks that it is the one built for `key` (dlopen returns an
    /// object it already holds when the name or the inode matches), and fills its runtime
    /// pointers before any of its code can run. Nil when dlopen returned another object.
    static func load(path: String, key: [UInt8], ownedFile: String? = nil) throws(KilnError) -> SharedObjectCode? {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            if let ownedFile { unlink(ownedFile) }
            throw KilnError.compilation(reason: "cannot load optimized code: \(reason)")
        }
        let code = SharedObjectCode(handle: handle, ownedFile: ownedFile)
        guard let embedded = dlsym(handle, "kiln_module_key"),
            Array(UnsafeRawBufferPointer(start: embedded, count: 32)) == key
        else { return nil }
        guard let bind = dlsym(handle, "kiln_bind") else {
            throw KilnError.compilation(reason: "optimized code lacks kiln_bind (not built by Kiln?)")
        }
        typealias Bind = @convention(c) (UnsafeRawPointer, UInt32) -> Int32
        let status = unsafeBitCast(bind, to: Bind.self)(UnsafeRawPointer(kiln_runtime_symbols_pointer()), kiln_runtime_symbol_count)
        guard status == 0 else {
            throw KilnError.compilation(reason: "optimized code needs a runtime function this Kiln lacks")
        }
        return code
    }

    /// Loads `object` (built for `key`) from a private copy, kept until the code is unloaded.
    static func loadCopy(of object: [UInt8], key: [UInt8]) throws(KilnError) -> SharedObjectCode {
        for _ in 0..<3 {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).so").path
            guard FileManager.default.createFile(atPath: path, contents: Data(object), attributes: [.posixPermissions: 0o700]) else {
                throw KilnError.compilation(reason: "cannot write optimized code to \(path)")
            }
            if let code = try load(path: path, key: key, ownedFile: path) { return code }
        }
        throw KilnError.compilation(reason: "dlopen keeps returning another module's optimized code")
    }
}

/// The execution tier of an engine's modules.
public enum ExecutionTier: String, Sendable, CaseIterable {
    /// libtcc only: the fastest start, code about 2-3x slower than an optimizing compiler's.
    case baseline
    /// The whole module compiled with an optimizing C compiler (clang, cc) before it runs, or
    /// loaded from the on-disk cache. Without a compiler, falls back to `baseline` (see
    /// ``Module/tierNote``).
    case optimized
    /// Start on libtcc and switch to optimized code when it is ready. The switch is not
    /// implemented yet: today this behaves exactly like `baseline`.
    case tiered
}

/// C source of a module -> optimized native code, through an optimizing C compiler found on the
/// system, cached on disk (``OptimizedCodeCache``).
struct OptimizingCompiler: Sendable {
    /// The compiler's path.
    let path: String
    /// Its `--version` output: part of every cache key.
    let identity: String

    /// Flags of every compile. -O2 with exact floats (no contraction, no fast-math), wrapping
    /// integers and no type-based alias analysis, as belt and braces over C that avoids that
    /// undefined behaviour itself; frame pointers for trap backtraces; no system headers or
    /// libraries (the text includes nothing, and the runtime is bound after loading). No sibling
    /// calls: a Wasm call must use stack (infinite recursion traps as exhausted, not loops). Only
    /// `inline` functions (the prelude's helpers) inline: every Wasm function keeps its own
    /// frame, so backtraces name every frame and STACK_CHECK's frame estimates hold (wasmtime
    /// does not inline Wasm functions either).
    static let flags: [String] = {
        var flags = ["-O2", "-std=gnu11", "-fPIC", "-shared", "-nostdinc", "-nostdlib", "-ffp-contract=off",
                     "-fno-strict-aliasing", "-fwrapv", "-fno-math-errno", "-fno-omit-frame-pointer",
                     "-fno-delete-null-pointer-checks", "-fno-optimize-sibling-calls", "-fno-inline-functions", "-w", "-DKILN_OPTIMIZED=1"]
        #if arch(x86_64)
        flags.append("-march=native")
        #elseif arch(arm64)
        flags.append("-mcpu=native")
        #endif
        return flags
    }()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var located: [String: OptimizingCompiler?] = [:]
    nonisolated(unsafe) private static var compiles = 0

    /// How many modules this process compiled with an optimizing compiler (a cache hit
    /// compiles none).
    static var compileCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return compiles
    }

    /// The compiler to use: `KILN_CC`, then `configured`, then the `clang` next to the running
    /// Swift toolchain or on PATH, then `cc`. Nil when none runs.
    static func locate(configured: String?, identityDirectory: String? = nil) -> OptimizingCompiler? {
        var candidates: [String] = []
        if let environment = ProcessInfo.processInfo.environment["KILN_CC"], !environment.isEmpty {
            candidates = [environment]
        } else if let configured, !configured.isEmpty {
            candidates = [configured]
        } else {
            candidates = toolchainClang() + ["clang", "cc"]
        }
        let cacheKey = candidates.joined(separator: "\u{0}")
        lock.lock()
        if let known = located[cacheKey] {
            lock.unlock()
            return known
        }
        lock.unlock()
        var found: OptimizingCompiler?
        for candidate in candidates {
            guard let path = resolve(candidate), let identity = identity(of: path, remembered: identityDirectory) else { continue }
            found = OptimizingCompiler(path: path, identity: identity)
            break
        }
        lock.lock()
        located[cacheKey] = found
        lock.unlock()
        return found
    }

    /// A compiler's `--version` output. Running it costs a process start on every run of Kiln,
    /// so it is remembered in `remembered/compilers/` under a fingerprint of the executable (its
    /// real path, inode, size and modification time: a new or replaced compiler asks again).
    private static func identity(of path: String, remembered directory: String?) -> String? {
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var info = stat()
        var file: String?
        if let directory, stat(real, &info) == 0 {
            #if os(Linux)
            let modified = "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
            #else
            let modified = "\(info.st_mtimespec.tv_sec).\(info.st_mtimespec.tv_nsec)"
            #endif
            let fingerprint = "\(real)\n\(info.st_ino)\n\(info.st_size)\n\(modified)"
            file = directory + "/compilers/" + OptimizedCodeCache.hex(OptimizedCodeCache.sha256(Array(fingerprint.utf8)))
            if let data = FileManager.default.contents(atPath: file!), !data.isEmpty { return String(decoding: data, as: UTF8.self) }
        }
        guard let version = try? run(path, ["--version"], input: nil), version.status == 0 else { return nil }
        if let file {
            let folder = (file as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let temporary = folder + "/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
            if FileManager.default.createFile(atPath: temporary, contents: Data(version.output.utf8), attributes: [.posixPermissions: 0o600]) {
                rename(temporary, file)
            }
        }
        return version.output
    }

    /// The clang beside the `swift` that runs (Swift toolchains ship one).
    private static func toolchainClang() -> [String] {
        var paths: [String] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        for directory in [executable.deletingLastPathComponent()] {
            paths.append(directory.appendingPathComponent("clang").path)
        }
        if let swift = resolve("swift") {
            paths.append(URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("clang").path)
        }
        return paths.filter { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// An executable's path: as given if it contains a slash, else looked up on PATH.
    private static func resolve(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs a program and collects its standard output and error together.
    private static func run(_ path: String, _ arguments: [String], input: URL?) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        // The compiler runs the linker through PATH: keep the compiler's directory and the
        // system's on it even when Kiln's environment has none.
        var environment = ProcessInfo.processInfo.environment
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        environment["PATH"] = ([environment["PATH"], directory, "/usr/local/bin:/usr/bin:/bin"].compactMap { $0 }.filter { !$0.isEmpty }).joined(separator: ":")
        process.environment = environment
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The translation unit: the prelude, the optimized tier's part of it, the numeric and SIMD
    /// helpers as inline functions, then the module's body (source minus its `#include`).
    static func translationUnit(_ source: String) -> String {
        precondition(source.hasPrefix(ModuleLowering.preludeInclude))
        let body = source.dropFirst(ModuleLowering.preludeInclude.utf8.count)
        let include = "#include \"kiln_prelude.h\""
        func helper(_ text: UnsafePointer<CChar>, _ name: String) -> String {
            "#line 1 \"\(name)\"\n" + String(cString: text).replacingOccurrences(of: include, with: "") + "\n"
        }
        return "#line 1 \"kiln_prelude.h\"\n" + String(cString: kiln_prelude_text_pointer()) + "\n"
            + helper(kiln_optimized_text_pointer(), "kiln_optimized.h")
            + helper(kiln_numeric_text_pointer(), "numeric.c")
            + helper(kiln_simd_text_pointer(), "simd.c")
            + "#line 2 \"module.c\"\n" + body
    }

    /// Compiles generated C (whose first line includes the prelude) into a shared object and
    /// returns its bytes.
    func compileObject(_ source: String, key: [UInt8]) throws(KilnError) -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("kiln-cc-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw KilnError.compilation(reason: "cannot create a directory for the optimizing compiler: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("module.c")
        let output = directory.appendingPathComponent("module.so")
        do {
            try Data(Self.translationUnit(source).utf8).write(to: input)
        } catch {
            throw KilnError.compilation(reason: "cannot write the module's C: \(error.localizedDescription)")
        }
        Self.lock.lock()
        Self.compiles += 1
        Self.lock.unlock()
        let result: (status: Int32, output: String)
        do {
            let keyFlag = "-DKILN_KEY=" + key.map { String($0) }.joined(separator: ",")
            result = try Self.run(path, Self.flags + [keyFlag, input.path, "-o", output.path], input: nil)
        } catch {
            throw KilnError.compilation(reason: "cannot run \(path): \(error.localizedDescription)")
        }
        guard result.status == 0, let data = FileManager.default.contents(atPath: output.path) else {
            let lines = result.output.split(separator: "\n").prefix(8).joined(separator: "\n")
            throw KilnError.compilation(reason: "\(path) failed (status \(result.status)): \(lines)")
        }
        return [UInt8](data)
    }

    /// Loads optimized code for `source`: from `cache` under `key` when it holds a valid entry,
    /// else compiled now (and stored there). `fromCache` tells which.
    func load(source: String, key: [UInt8], cache: OptimizedCodeCache?) throws(KilnError) -> (code: SharedObjectCode, fromCache: Bool) {
        if let cache, let code = cache.load(key: key) { return (code, true) }
        let object = try compileObject(source, key: key)
        if let cache, let code = try? cache.store(key: key, object: object) { return (code, false) }
        // No cache (or it cannot be written): load from a private temporary file.
        return (try SharedObjectCode.loadCopy(of: object, key: key), false)
    }

    /// Kiln's version, in every cache key.
    static let kilnVersion = "0.1.0"

    /// The cache key of a module: its bytes and everything else that shapes its optimized code.
    /// The generated C is hashed too, so that a Kiln build whose lowering changed never loads
    /// another build's code.
    func cacheKey(wasm: [UInt8], source: String, features: String, loweringOptions: LoweringOptions) -> [UInt8] {
        var text = "kiln-optimized-1\n"
        text += "kiln \(Self.kilnVersion)\n"
        text += "compiler \(path)\n\(identity)\n"
        text += "flags \(Self.flags.joined(separator: " "))\n"
        text += "features \(features)\n"
        text += "fuel \(loweringOptions.consumeFuel) epochs \(loweringOptions.epochInterruption)\n"
        text += "target \(Self.targetDescription)\n"
        // The runtime's texts compiled into every object.
        for pointer in [kiln_prelude_text_pointer(), kiln_optimized_text_pointer(), kiln_numeric_text_pointer(), kiln_simd_text_pointer()] {
            text += OptimizedCodeCache.hex(OptimizedCodeCache.sha256(Array(String(cString: pointer!).utf8))) + "\n"
        }
        var bytes = Array(text.utf8)
        bytes += OptimizedCodeCache.sha256(wasm)
        bytes += OptimizedCodeCache.sha256(Array(source.utf8))
        return OptimizedCodeCache.sha256(bytes)
    }

    /// The target: architecture, OS, and the CPU (-march=native depends on it).
    static let targetDescription: String = {
        var description = ""
        #if arch(x86_64)
        description += "x86_64"
        #elseif arch(arm64)
        description += "arm64"
        #endif
        #if os(Linux)
        description += "-linux"
        if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            // The first processor's model and feature lines.
            let keys = ["model name", "flags", "Features", "CPU implementer", "CPU part"]
            var seen: Set<String> = []
            for line in cpuinfo.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = line[..<colon].trimmingCharacters(in: .whitespaces)
                if keys.contains(key), seen.insert(key).inserted { description += "\n" + line }
            }
        }
        #elseif os(macOS)
        description += "-macos"
        #endif
        return description
    }()
}
