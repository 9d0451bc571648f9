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
    /// Start on libtcc and switch to optimized code when it is ready (at once from the cache):
    /// the whole module, or for big modules its hot functions, in batches.
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

    /// Kiln's version: the release, and this build's identity (the linker's build id of the
    /// image holding Kiln, else a hash of that file), so that any rebuild, whatever it changed in
    /// the lowering or the runtime, gets keys of its own and never loads another build's code.
    static let kilnVersion: String = {
        let release = "0.1.0"
        var id = [UInt8](repeating: 0, count: 64)
        let length = Int(kiln_build_id(&id, UInt32(id.count)))
        if length > 0 { return release + "+build." + OptimizedCodeCache.hex(Array(id.prefix(min(length, id.count)))) }
        if let path = kiln_build_image_path().map({ String(cString: $0) }), let data = FileManager.default.contents(atPath: path) {
            return release + "+image." + OptimizedCodeCache.hex(OptimizedCodeCache.sha256([UInt8](data)))
        }
        // No way to tell builds apart: a fresh identity per process (no cache hits, never wrong).
        return release + "+process.\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
    }()

    /// A module's name in the cache: a hash of its bytes and of everything else that shapes its
    /// optimized code — Kiln's build (its lowering and runtime), the runtime texts compiled into
    /// the object, the compiler and its flags, the features, the engine options that change code,
    /// and the target. Computing it needs no lowering and no validation: an entry under this name
    /// exists only if these very bytes validated with these features in this build of Kiln.
    func cacheName(wasm: [UInt8], features: String, loweringOptions: LoweringOptions) -> [UInt8] {
        var text = "kiln-optimized-2\n"
        text += "kiln \(Self.kilnVersion)\n"
        text += "compiler \(path)\n\(identity)\n"
        text += "flags \(Self.flags.joined(separator: " "))\n"
        text += "features \(features)\n"
        text += "fuel \(loweringOptions.consumeFuel) epochs \(loweringOptions.epochInterruption)\n"
        text += "target \(Self.targetDescription)\n"
        text += Self.runtimeTextsDigest + "\n"
        return OptimizedCodeCache.sha256(Array(text.utf8) + OptimizedCodeCache.sha256(wasm))
    }

    /// The full key of a module's code: its cache name and the engine's signature ids of its
    /// types (constants in the code; an engine that compiled other modules first may give
    /// others). Embedded in the object and in its cache entry's footer.
    static func cacheKey(name: [UInt8], signatureIDs: [UInt64]) -> [UInt8] {
        OptimizedCodeCache.sha256(name + signatureIDs.flatMap { OptimizedCodeCache.littleEndian($0) })
    }

    /// A hash of the runtime's texts compiled into every object.
    static let runtimeTextsDigest: String = {
        var bytes: [UInt8] = []
        for pointer in [kiln_prelude_text_pointer(), kiln_optimized_text_pointer(), kiln_numeric_text_pointer(), kiln_simd_text_pointer()] {
            bytes += OptimizedCodeCache.sha256(Array(String(cString: pointer!).utf8))
        }
        return OptimizedCodeCache.hex(OptimizedCodeCache.sha256(bytes))
    }()

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

/// One module's optimized code, found or built: the compiler, the module's cache name and key,
/// the cache.
struct OptimizedCodeJob: Sendable {
    let compiler: OptimizingCompiler
    let cache: OptimizedCodeCache?
    /// The module's entry in the cache (``OptimizingCompiler/cacheName(wasm:features:loweringOptions:)``).
    let name: [UInt8]
    /// The code's key: set by ``with(signatureIDs:)``.
    private(set) var key: [UInt8] = []

    init(compiler: OptimizingCompiler, cache: OptimizedCodeCache?, name: [UInt8]) {
        self.compiler = compiler
        self.cache = cache
        self.name = name
    }

    /// The job for the module's types having these signature ids in the engine.
    func with(signatureIDs: [UInt64]) -> OptimizedCodeJob {
        var job = self
        job.key = OptimizingCompiler.cacheKey(name: name, signatureIDs: signatureIDs)
        return job
    }

    /// Whether the cache has an entry for the module: then its bytes validated before, with the
    /// same features, in this build of Kiln (entries are written only after validation).
    var isProbablyCached: Bool { cache?.hasEntry(name: name) ?? false }

    /// The cached code, if the cache holds an intact entry (no lowering, no compiler run).
    func cached() -> SharedObjectCode? { cache?.load(name: name, key: key) }

    /// Compiles the whole module's C (`ModuleLowering.lower(...).source`) and caches the object.
    func compile(source: String) throws(KilnError) -> SharedObjectCode {
        let object = try compiler.compileObject(source, key: key)
        if let cache, let code = try? cache.store(name: name, key: key, object: object) { return code }
        // No cache (or it cannot be written): load from a private temporary file.
        return try SharedObjectCode.loadCopy(of: object, key: key)
    }

    /// The whole module's shared object: from the cache, else compiled (`lower` gives the C)
    /// and cached.
    func object(lower: () throws(KilnError) -> String) throws(KilnError) -> [UInt8] {
        if let cached = cache?.object(name: name, key: key) { return cached.object }
        let object = try compiler.compileObject(try lower(), key: key)
        if let cache { _ = try? cache.store(name: name, key: key, object: object) }
        return object
    }

    /// Compiles part of the module (a batch's C) into code of its own, not cached: which
    /// functions run hot differs from run to run.
    func compileBatch(source: String, functions: [Int]) throws(KilnError) -> SharedObjectCode {
        var bytes = key
        for function in functions { bytes += OptimizedCodeCache.littleEndian(UInt64(function)) }
        let batchKey = OptimizedCodeCache.sha256(bytes)
        return try SharedObjectCode.loadCopy(of: try compiler.compileObject(source, key: batchKey), key: batchKey)
    }
}

extension Engine {
    /// Where a module's optimized code comes from (``optimizedCodeJob(wasm:)``).
    enum OptimizedCodeSource {
        case available(OptimizedCodeJob)
        case unavailable(reason: String)
    }

    /// The optimizing compiler and the cache name for a module's bytes: no lowering needed, so a
    /// cached module loads without generating any C. Unavailable, with the reason, when no
    /// optimizing compiler runs: stay on libtcc.
    func optimizedCodeJob(wasm: [UInt8]) -> OptimizedCodeSource {
        let cache = optimizedCodeCache
        guard let compiler = OptimizingCompiler.locate(configured: configuration.optimizingCompiler, identityDirectory: cache?.directory) else {
            return .unavailable(reason: "no optimizing C compiler found (set KILN_CC or EngineConfiguration.optimizingCompiler): running on libtcc")
        }
        let name = compiler.cacheName(wasm: wasm, features: "\(configuration.features)", loweringOptions: loweringOptions)
        return .available(OptimizedCodeJob(compiler: compiler, cache: cache, name: name))
    }
}
