import Foundation
import KilnRuntimeC
import WAT
import WasmParser
import WasmTypes

/// A compiled module: validated, lowered to C and compiled to native code. Immutable, reusable
/// across stores and threads.
///
/// ```swift
/// let module = try Module(engine: engine, wat: "(module (func (export \"f\")))")
/// for entry in module.imports { print(entry.module, entry.name, entry.type) }
/// ```
public final class Module: @unchecked Sendable {
    /// The engine that compiled the module.
    public let engine: Engine
    let info: ModuleInfo
    /// The tier whose code the module runs now: `.optimized` when an optimizing compiler built
    /// it (or the cache or an artifact held it), else `.baseline`; a `.tiered` module changes from
    /// the one to the other while it runs (``waitForOptimizedCode()``), and a big one to `.tiered`
    /// itself when its hot functions run optimized code and the rest libtcc's.
    public var tier: ExecutionTier { codeTable.tierState.tier }
    /// Why the module runs on another tier than the engine asked for, or where its optimized code
    /// came from ("optimized code from the cache"): one line for verbose output.
    public var tierNote: String? { codeTable.tierState.note }
    /// Engine signature id of every type index.
    let signatureIDs: [UInt64]
    /// The RTT of every type index, for GC objects and casts (`kiln_instance.rtts`).
    let rtts: ModuleRTTs
    /// Where calls find each defined function's code, and the compiled code itself.
    let codeTable: CodeTable
    /// Whether functions compile on their first call (else all were compiled at creation).
    public let isLazy: Bool
    /// How long each stage took, in seconds.
    public let timings: Timings

    /// Seconds spent in each stage of compilation.
    public struct Timings: Sendable {
        /// Reading the binary format.
        public var decode: Double
        /// Validation.
        public var validate: Double
        /// Lowering to C.
        public var lower: Double
        /// Compiling the C with libtcc, or with the optimizing compiler (or loading its code
        /// from the cache) for the optimized tier.
        public var compile: Double
    }

    /// Compilation so far: for a lazy module, what its calls have compiled until now.
    public var compiledSoFar: (functions: Int, batches: Int, aheadBatches: Int, lowerSeconds: Double, compileSeconds: Double) {
        let statistics = codeTable.statistics
        return (statistics.functions, statistics.batches, statistics.aheadBatches, statistics.lowerSeconds, statistics.compileSeconds)
    }

    /// Compiles a binary module.
    public convenience init(engine: Engine, bytes: [UInt8]) throws(KilnError) {
        let compiled = try Module.compile(engine: engine, bytes: bytes)
        self.init(engine: engine, compiled: compiled)
    }

    /// Compiles a module in the text format.
    public convenience init(engine: Engine, wat: String) throws(KilnError) {
        try self.init(engine: engine, bytes: try wasmBytes(fromText: wat))
    }

    /// Loads a precompiled artifact (``compileArtifact(engine:bytes:)``, `kiln compile -o`):
    /// its optimized code runs at once, with no lowering and no compiler. The module inside is
    /// decoded and validated again. Throws ``KilnError/artifact(_:)`` for bytes that are not an
    /// intact artifact, or one built by another Kiln, for another target, or with other features
    /// or engine options than `engine`'s. When `engine` has already given the module's types
    /// other signature ids (it compiled other modules first), the artifact's code cannot be used
    /// and the module compiles from its Wasm as `engine` is configured to (``tierNote`` says so).
    public convenience init(engine: Engine, artifact bytes: [UInt8]) throws(KilnError) {
        let compiled = try Module.load(engine: engine, artifact: bytes)
        self.init(engine: engine, compiled: compiled)
    }

    /// Compiles a binary module with the optimizing compiler into a deployable artifact (see
    /// ``init(engine:artifact:)``) for this Kiln, this machine, `engine`'s features and engine
    /// options. Uses (and fills) the engine's optimized-code cache. Compile with a fresh engine:
    /// the code embeds the signature ids the engine gives the module's types, and an engine that
    /// loads the artifact first gives the same ones.
    public static func compileArtifact(engine: Engine, bytes: [UInt8]) throws(KilnError) -> [UInt8] {
        let validated = try Validator.validated(try ModuleDecoder.decode(bytes, features: engine.configuration.features))
        let signatureIDs = engine.canonicalTypeIDs(of: validated.info)
        let job: OptimizedCodeJob
        switch engine.optimizedCodeJob(wasm: bytes) {
        case .available(let found): job = found.with(signatureIDs: signatureIDs)
        case .unavailable(let reason): throw KilnError.compilation(reason: reason)
        }
        let object = try job.object { () throws(KilnError) -> String in
            try ModuleLowering.lower(validated, signatureIDs: signatureIDs, options: engine.loweringOptions).source
        }
        let required = Artifact.requirements(of: engine)
        let compiler = job.compiler.path + ": " + (job.compiler.identity.split(separator: "\n").first.map(String.init) ?? "")
        return Artifact(kilnVersion: OptimizingCompiler.kilnVersion, target: OptimizingCompiler.targetDescription,
                        features: required.features, engineOptions: required.engineOptions, compiler: compiler,
                        signatureIDs: signatureIDs, key: job.key, wasm: bytes, object: object).serialized()
    }

    /// Whether bytes are (or claim to be) a precompiled artifact.
    public static func isArtifact(_ bytes: [UInt8]) -> Bool { Artifact.isArtifact(bytes) }

    /// Reads a `.wasm` or `.wat` file, or a precompiled artifact (`.kiln`).
    public convenience init(engine: Engine, contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        let bytes = [UInt8](data)
        if Artifact.isArtifact(bytes) {
            try self.init(engine: engine, artifact: bytes)
        } else if bytes.starts(with: [0, 0x61, 0x73, 0x6d]) {
            try self.init(engine: engine, bytes: bytes)
        } else {
            try self.init(engine: engine, wat: String(decoding: bytes, as: UTF8.self))
        }
    }

    private init(engine: Engine, compiled: Compiled) {
        self.engine = engine
        self.info = compiled.info
        self.signatureIDs = compiled.signatureIDs
        self.rtts = ModuleRTTs(engine: engine, info: compiled.info, ids: compiled.signatureIDs)
        self.codeTable = compiled.codeTable
        self.isLazy = compiled.isLazy
        self.timings = compiled.timings
    }

    private struct Compiled {
        var info: ModuleInfo
        var signatureIDs: [UInt64]
        var codeTable: CodeTable
        var isLazy: Bool
        var timings: Timings
    }

    /// Why the last function compiled on its first call failed to compile (that call trapped
    /// with ``TrapReason/compilationFailed``); nil when none has.
    public var lazyCompilationError: KilnError? { codeTable.lazyCompilationFailure }

    /// Waits until a `.tiered` module's optimized code is installed — for a big module, its
    /// first batch of hot functions, so some of its code must run hot — or the optimizing
    /// compiler gave up (see ``tierNote``); returns at once for other modules.
    public func waitForOptimizedCode() {
        codeTable.waitForOptimization()
    }

    /// The entry thunk of every type index.
    var entryThunks: [kiln_thunk] { codeTable.entryThunks }

    /// Decodes, validates and lowers without compiling: the C that Kiln would compile.
    public static func generateC(engine: Engine, bytes: [UInt8]) throws(KilnError) -> String {
        let module = try Validator.validated(try ModuleDecoder.decode(bytes, features: engine.configuration.features))
        return try ModuleLowering.lower(module, signatureIDs: engine.canonicalTypeIDs(of: module.info), options: engine.loweringOptions).source
    }

    /// Lowers every function of a module to C once, on this thread, without compiling it: what
    /// `benchmarks/lowering` measures. Returns the size of the code section, the seconds the
    /// lowering took (decoding and validation excluded) and the size of the C it produced.
    public static func measureLowering(engine: Engine, bytes: [UInt8]) throws(KilnError) -> (codeBytes: Int, seconds: Double, cBytes: Int) {
        let module = try Validator.validated(try ModuleDecoder.decode(bytes, features: engine.configuration.features))
        let signatureIDs = engine.canonicalTypeIDs(of: module.info)
        let start = ContinuousClock.now
        let source = try ModuleLowering.lower(module, signatureIDs: signatureIDs, options: engine.loweringOptions).source
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return (module.info.codeSize, seconds, source.utf8.count)
    }

    /// Decodes and validates only: the checks of ``init(engine:bytes:)`` before code
    /// generation, with the same proposals allowed, so a module that validates here compiles
    /// there (with an engine configured with the same `features`).
    public static func validate(bytes: [UInt8], features: WasmFeatures = .default) throws(KilnError) {
        try Validator.validate(try ModuleDecoder.decode(bytes, features: features))
    }

    /// Decodes and validates with `engine`'s configuration.
    public static func validate(engine: Engine, bytes: [UInt8]) throws(KilnError) {
        try validate(bytes: bytes, features: engine.configuration.features)
    }

    private static func load(engine: Engine, artifact bytes: [UInt8]) throws(KilnError) -> Compiled {
        var clock = ContinuousClock.now
        let artifact: Artifact
        do throws(ArtifactError) {
            artifact = try Artifact(parsing: bytes)
            try artifact.check(for: engine)
        } catch {
            throw KilnError.artifact(error)
        }
        let info = try ModuleDecoder.decode(artifact.wasm, features: engine.configuration.features)
        let decodeTime = CodeTable.lap(&clock)
        let validated = try Validator.validated(info)
        let validateTime = CodeTable.lap(&clock)
        let signatureIDs = engine.canonicalTypeIDs(of: info)
        guard signatureIDs == artifact.signatureIDs else {
            let compiled = try compile(engine: engine, bytes: artifact.wasm)
            compiled.codeTable.setNote("the artifact's code was built for other signature ids than this engine gives its types (it compiled other modules first); compiled from its Wasm instead")
            return compiled
        }
        let code = try SharedObjectCode.loadCopy(of: artifact.object, key: artifact.key)
        let table = try CodeTable(module: validated, signatureIDs: signatureIDs, options: engine.loweringOptions, optimized: code)
        table.setNote("optimized code from the artifact")
        return Compiled(info: info, signatureIDs: signatureIDs, codeTable: table, isLazy: false,
                        timings: Timings(decode: decodeTime, validate: validateTime, lower: 0, compile: CodeTable.lap(&clock)))
    }

    private static func compile(engine: Engine, bytes: [UInt8]) throws(KilnError) -> Compiled {
        var clock = ContinuousClock.now
        let info = try ModuleDecoder.decode(bytes, features: engine.configuration.features)
        let decodeTime = CodeTable.lap(&clock)
        var note: String?
        var job: OptimizedCodeJob?
        if engine.configuration.tier != .baseline {
            switch engine.optimizedCodeJob(wasm: bytes) {
            case .available(let found): job = found
            case .unavailable(let reason): note = reason
            }
        }
        var codeTable: CodeTable?
        var signatureIDs: [UInt64] = []
        var optimizedSeconds = 0.0
        if let cachedJob = job, cachedJob.isProbablyCached {
            // A cache entry under the module's name certifies that these very bytes validated
            // with these features in this build of Kiln: load it with neither validating again
            // (tens of ms for a MB of code) nor lowering. If it does not load, validate below.
            signatureIDs = engine.canonicalTypeIDs(of: info)
            job = cachedJob.with(signatureIDs: signatureIDs)
            if let code = job?.cached() {
                do {
                    codeTable = try CodeTable(module: Validator.certifiedByCache(info), signatureIDs: signatureIDs, options: engine.loweringOptions, optimized: code)
                    codeTable?.setNote("optimized code from the cache")
                } catch {
                    note = "the cached optimized code did not load, running on libtcc: \(error)"
                }
            }
            optimizedSeconds = CodeTable.lap(&clock)
        }
        var validateTime = 0.0
        // Set whenever no cache entry supplied the code: lowering takes nothing else.
        var validated: ValidatedModule?
        if codeTable == nil {
            validated = try Validator.validated(info)
            validateTime = CodeTable.lap(&clock)
            signatureIDs = engine.canonicalTypeIDs(of: info)
            job = job?.with(signatureIDs: signatureIDs)
        }
        if let job, let validated, codeTable == nil, engine.configuration.tier == .optimized {
            // The whole module through the optimizing compiler, before running.
            do {
                let lowered = try ModuleLowering.lower(validated, signatureIDs: signatureIDs, options: engine.loweringOptions)
                let code = try job.compile(source: lowered.source)
                codeTable = try CodeTable(module: validated, signatureIDs: signatureIDs, options: engine.loweringOptions, optimized: code)
                codeTable?.setNote("optimized code compiled with \(job.compiler.path)")
            } catch {
                // The compiler failed (or its code did not load): libtcc's code is still right.
                note = "the optimizing compiler failed, running on libtcc: \(error)"
            }
            optimizedSeconds += CodeTable.lap(&clock)
        }
        let lazy: Bool
        switch engine.configuration.compilation {
        case .eager: lazy = false
        case .lazy: lazy = true
        case .automatic: lazy = info.codeSize >= CompilationMode.lazyThresholdBytes
        }
        let table: CodeTable
        if let codeTable {
            table = codeTable
        } else if let validated {
            table = try CodeTable(
                module: validated, signatureIDs: signatureIDs, options: engine.loweringOptions,
                compileAheadBatches: engine.configuration.compileAheadBatches)
            if let note { table.setNote(note) }
            if lazy { table.compileAheadFromEntryPoints() } else { try table.compileAll() }
            if engine.configuration.tier == .tiered, let job { table.optimizeInBackground(job) }
        } else {
            preconditionFailure("a module without cached code is validated above")
        }
        let statistics = table.statistics
        return Compiled(
            info: info, signatureIDs: signatureIDs, codeTable: table, isLazy: lazy && codeTable == nil,
            timings: Timings(decode: decodeTime, validate: validateTime, lower: statistics.lowerSeconds, compile: statistics.compileSeconds + optimizedSeconds))
    }

    // MARK: - Introspection

    /// The type of an import or export.
    public enum ExternType: Sendable, Equatable {
        /// A function of this type.
        case function(FunctionType)
        /// A table of this type.
        case table(TableType)
        /// A memory with these limits.
        case memory(MemoryType)
        /// A global of this type.
        case global(GlobalType)
        /// An exception tag of this type (its parameters are the payload).
        case tag(FunctionType)
    }

    /// One import of the module.
    public struct ImportEntry: Sendable, Equatable {
        /// The module name it is imported from.
        public var module: String
        /// The name within that module.
        public var name: String
        /// What the import must be.
        public var type: ExternType
    }

    /// One export of the module.
    public struct ExportEntry: Sendable, Equatable {
        /// The export's name.
        public var name: String
        /// What the export is.
        public var type: ExternType
    }

    /// The module's imports, in order (the order ``Instance/init(store:module:imports:)`` takes).
    public var imports: [ImportEntry] {
        info.imports.compactMap { entry in
            let type: ExternType
            switch entry.descriptor {
            case .function(let index): type = .function(info.types[Int(index)])
            case .table(let table): type = .table(table)
            case .memory(let memory): type = .memory(memory)
            case .global(let global): type = .global(global)
            case .tag(let index): type = .tag(info.types[Int(index)])
            }
            return ImportEntry(module: entry.module, name: entry.name, type: type)
        }
    }

    /// The module's exports, in order.
    public var exports: [ExportEntry] {
        info.exports.compactMap { entry in
            let type: ExternType
            switch entry.descriptor {
            case .function(let index): type = .function(info.functionType(of: index))
            case .table(let index): type = .table(info.tables[Int(index)])
            case .memory(let index): type = .memory(info.memories[Int(index)])
            case .global(let index): type = .global(info.globals[Int(index)])
            case .tag(let index): type = .tag(info.types[Int(info.tags[Int(index)])])
            }
            return ExportEntry(name: entry.name, type: type)
        }
    }

    /// The function's name from the name section, if any.
    func functionName(_ index: Int) -> String? {
        if let name = info.names.functions[UInt32(index)] { return name }
        for entry in info.exports {
            if case .function(let exported) = entry.descriptor, Int(exported) == index { return entry.name }
        }
        return nil
    }

    /// Maps a native return address to the function (index space with imports) containing it.
    func functionIndex(containing address: UnsafeRawPointer) -> Int? {
        codeTable.definedFunction(containing: address).map { $0 + info.importedFunctionCount }
    }
}

/// Converts the text format to a binary module (with a name section, for backtraces).
/// The text parser recurses per nesting level, so it runs on a thread with a large stack.
public func wasmBytes(fromText text: String) throws(KilnError) -> [UInt8] {
    let result = onLargeStack { () -> Result<[UInt8], KilnError> in
        do {
            return .success(try wat2wasm(text, options: EncodeOptions(nameSection: true)))
        } catch {
            return .failure(KilnError.malformed(reason: "\(error)", offset: nil))
        }
    }
    return try result.get()
}

/// Runs `body` on a fresh thread with a 1 GiB stack (reserved, not committed) and waits for it.
private final class LargeStackBox<T>: @unchecked Sendable {
    var value: T?
    let body: () -> T
    init(_ body: @escaping () -> T) { self.body = body }
}

func onLargeStack<T>(_ body: @escaping () -> T) -> T {
    let box = LargeStackBox(body)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.value = box.body()
        done.signal()
    }
    thread.stackSize = 1 << 30
    thread.start()
    done.wait()
    return box.value!
}
