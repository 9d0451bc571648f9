import ArgumentParser
import Foundation
import Kiln

/// Exit statuses, distinct per kind of failure so scripts can tell them apart.
enum ExitStatus: Int32 {
    case usage = 64        // EX_USAGE
    case invalidModule = 65
    case link = 66
    case trap = 67
    case io = 74
}

struct Failure: Error {
    var status: ExitStatus
    var message: String
}

/// A WASI program's `proc_exit` status, to become kiln's own.
struct ProgramExit: Error {
    var code: Int32
}

@main
struct KilnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Run WebAssembly by compiling it to native code through C and libtcc.",
        subcommands: [Run.self, Compile.self, Validate.self, Cache.self])

    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as Failure {
            FileHandle.standardError.write(Data("kiln: \(failure.message)\n".utf8))
            Foundation.exit(failure.status.rawValue)
        } catch let exit as ProgramExit {
            Foundation.exit(exit.code)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(code == .validationFailure ? ExitStatus.usage.rawValue : code.rawValue)
        }
    }
}

/// `--wasm-features`, shared by every subcommand so that they accept the same modules.
struct FeatureOptions: ParsableArguments {
    @Option(
        name: .customLong("wasm-features"),
        help: ArgumentHelp(
            "Comma-separated proposals to enable, or to disable with a leading '-' ('all', '-all' for every one).",
            discussion: "Known: \(WasmFeatures.named.map(\.name).joined(separator: ", ")). Default: \(WasmFeatures.default).",
            valueName: "list"))
    var wasmFeatures: String?

    @Option(
        name: .customLong("compile"),
        help: ArgumentHelp(
            "When to compile functions: eager (all before running), lazy (each on its first call) or auto.",
            discussion: "auto (the default) is lazy for modules with \(CompilationMode.lazyThresholdBytes >> 10) KiB of code or more.",
            valueName: "mode"))
    var compilation: String?

    @Option(
        name: .customLong("compile-ahead"),
        help: ArgumentHelp(
            "Lazy compilation: batches a background thread compiles ahead after each first call (0: only what is called).",
            valueName: "batches"))
    var compileAheadBatches: Int?

    /// The engine configuration's features: the default, then the list applied.
    func features() throws -> WasmFeatures {
        guard let wasmFeatures else { return .default }
        switch WasmFeatures.default.applying(wasmFeatures) {
        case .success(let features): return features
        case .failure(let error): throw Failure(status: .usage, message: "--wasm-features: \(error)")
        }
    }

    func configuration() throws -> EngineConfiguration {
        var configuration = EngineConfiguration()
        configuration.features = try features()
        switch compilation {
        case nil, "auto": configuration.compilation = .automatic
        case "eager": configuration.compilation = .eager
        case "lazy": configuration.compilation = .lazy
        case let other?: throw Failure(status: .usage, message: "--compile expects eager, lazy or auto, got \(other)")
        }
        if let compileAheadBatches {
            guard compileAheadBatches >= 0 else { throw Failure(status: .usage, message: "--compile-ahead expects a number of batches, 0 or more") }
            configuration.compileAheadBatches = compileAheadBatches
        }
        return configuration
    }

    func engine() throws -> Engine { Engine(configuration: try configuration()) }
}

/// `--tier` and `--no-cache`: which compiler builds the code, and whether optimized code is cached.
struct TierOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("baseline (libtcc), optimized (an optimizing C compiler before running, cached on disk) or tiered (libtcc first, optimized code when ready; at once from the cache).", valueName: "tier"))
    var tier: String = "baseline"
    @Flag(name: .customLong("no-cache"), help: "Neither read nor write the optimized-code cache.")
    var noCache = false

    func apply(to configuration: inout EngineConfiguration) throws {
        guard let tier = ExecutionTier(rawValue: tier) else {
            throw Failure(status: .usage, message: "--tier expects baseline, optimized or tiered, got \(tier)")
        }
        configuration.tier = tier
        configuration.cacheOptimizedCode = !noCache
    }
}

func readModule(_ path: String, engine: Engine) throws -> Module {
    let bytes: [UInt8]
    do {
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
        throw Failure(status: .io, message: "cannot read \(path): \(error.localizedDescription)")
    }
    do {
        if Module.isArtifact(bytes) { return try Module(engine: engine, artifact: bytes) }
        if bytes.starts(with: [0, 0x61, 0x73, 0x6d]) { return try Module(engine: engine, bytes: bytes) }
        return try Module(engine: engine, wat: String(decoding: bytes, as: UTF8.self))
    } catch {
        throw Failure(status: .invalidModule, message: "\(path): \(error)")
    }
}

func readBytes(_ path: String) throws -> [UInt8] {
    do {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        if bytes.starts(with: [0, 0x61, 0x73, 0x6d]) { return bytes }
        return try wasmBytes(fromText: String(decoding: bytes, as: UTF8.self))
    } catch let error as KilnError {
        throw Failure(status: .invalidModule, message: "\(path): \(error)")
    } catch {
        throw Failure(status: .io, message: "cannot read \(path): \(error.localizedDescription)")
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Instantiate a module and invoke an export, or run a WASI command's _start.",
        discussion: """
            Without --invoke, a module exporting _start runs as a WASI (preview 1) command: the \
            arguments after the file are its argv[1...], its exit status is kiln's. With --invoke, \
            a WASI reactor's _initialize runs first. Put -- before program arguments that look \
            like kiln's options. The program sees only the --dir directories and the --env variables.
            """)

    @Argument(help: "A .wasm or .wat file.") var file: String
    @Option(name: .long, help: "The export to invoke.") var invoke: String?
    @Option(name: .long, help: "NAME=FILE: instantiate FILE first and register it as NAME for imports.")
    var preload: [String] = []
    @Option(name: .long, help: "HOST[::GUEST]: let the WASI program use directory HOST as GUEST (default: HOST).")
    var dir: [String] = []
    @Option(name: .long, help: "K=V: an environment variable of the WASI program; K alone passes kiln's own.")
    var env: [String] = []
    @OptionGroup var featureOptions: FeatureOptions
    @OptionGroup var tierOptions: TierOptions
    @Option(name: .long, help: "Meter fuel: trap (\"all fuel consumed\") after N units, one per Wasm instruction.")
    var fuel: UInt64?
    @Option(name: .long, help: "Trap (\"interrupt\") once the run has taken this long: 2s, 500ms, 1m.")
    var timeout: String?
    @Option(name: .long, help: "Cap each memory's size: 256MiB, 1GiB, 65536 (bytes); a grow past it returns -1.")
    var maxMemory: String?
    @Option(name: .long, help: "Cap each table's elements; a grow past it returns -1.")
    var maxTableElements: Int?
    @Flag(name: .long, help: "Report fuel used (with --fuel) and the code's tier on standard error.") var verbose = false
    @Argument(parsing: .allUnrecognized, help: "Arguments of the invoked function, or of the WASI program.")
    var arguments: [String] = []

    func run() throws {
        var configuration = try featureOptions.configuration()
        configuration.consumeFuel = fuel != nil
        configuration.epochInterruption = timeout != nil
        try tierOptions.apply(to: &configuration)
        let engine = Engine(configuration: configuration)
        let store = Store(engine: engine)
        if let fuel { store.fuel = fuel }
        if maxMemory != nil || maxTableElements != nil {
            var limits = StoreLimits()
            if let maxMemory {
                guard let bytes = Self.parseSize(maxMemory) else {
                    throw Failure(status: .usage, message: "--max-memory expects a size such as 256MiB, got \(maxMemory)")
                }
                limits.memoryBytes = bytes
            }
            limits.tableElements = maxTableElements
            store.limits = limits
        }
        if let timeout {
            guard let seconds = Self.parseDuration(timeout) else {
                throw Failure(status: .usage, message: "--timeout expects a duration such as 2s or 500ms, got \(timeout)")
            }
            store.setEpochDeadline(1)
            let ticker = Thread {
                Thread.sleep(forTimeInterval: seconds)
                engine.incrementEpoch()
            }
            ticker.start()
        }
        defer {
            if verbose, let fuel { FileHandle.standardError.write(Data("fuel used: \(fuel - store.fuel) of \(fuel)\n".utf8)) }
        }
        do {
            try runModule(engine: engine, store: store)
        } catch let failure as Failure where failure.status == .trap && timeout != nil && failure.message.contains("wasm trap: interrupt") {
            throw Failure(status: .trap, message: failure.message.replacingOccurrences(
                of: "wasm trap: interrupt", with: "wasm trap: interrupt (--timeout \(timeout!) reached)"))
        }
    }

    /// With --verbose: what compiling took, up front and (lazy) during the run.
    func reportCompilation(_ module: Module) {
        let t = module.timings
        let soFar = module.compiledSoFar
        let ms = { (s: Double) in String(format: "%.1f ms", s * 1000) }
        var line = "kiln: tier \(module.tier.rawValue)" + (module.tierNote.map { " (\($0))" } ?? "")
        line += "; decode \(ms(t.decode)), validate \(ms(t.validate))"
        if module.tier == .optimized && soFar.batches == 0 { line += ", optimized code \(ms(t.compile))" }
        line += "; "
        line += module.isLazy ? "lazy: " : "eager: "
        line += "\(soFar.functions) functions in \(soFar.batches) batches (\(soFar.aheadBatches) ahead), lower \(ms(soFar.lowerSeconds)), libtcc \(ms(soFar.compileSeconds))\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func parseSize(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000),
                                      ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Int(text.dropLast(suffix.count)) else { return nil }
            return value.multipliedReportingOverflow(by: scale).overflow ? nil : value * scale
        }
        return Int(text)
    }

    static func parseDuration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0 else { return nil }
            return value * scale
        }
        return Double(text).flatMap { $0 >= 0 ? $0 : nil }
    }

    func runModule(engine: Engine, store: Store) throws {
        let linker = Linker(engine: engine)
        var arguments = self.arguments
        if arguments.first == "--" { arguments.removeFirst() }
        let wasi = try makeWASI(programArguments: invoke == nil ? arguments : [])
        defer { try? wasi.close() }
        // The module first: then only the WASI functions it imports get host stubs (each
        // distinct type costs a libtcc compile, a large part of a cached module's start-up).
        let module = try readModule(file, engine: engine)
        defer { if verbose { reportCompilation(module) } }
        do {
            if preload.isEmpty {
                try wasi.define(in: linker, store: store, only: Set(module.imports.filter { $0.module == WASI.moduleName }.map(\.name)))
            } else {
                try wasi.define(in: linker, store: store)
            }
        } catch {
            throw Failure(status: .link, message: "\(error)")
        }
        for entry in preload {
            guard let equals = entry.firstIndex(of: "=") else {
                throw Failure(status: .usage, message: "--preload expects NAME=FILE, got \(entry)")
            }
            let name = String(entry[..<equals])
            let module = try readModule(String(entry[entry.index(after: equals)...]), engine: engine)
            linker.define(module: name, instance: try instantiate(module, linker: linker, store: store))
        }
        let instance = try instantiate(module, linker: linker, store: store)
        guard let name = invoke else {
            if instance.function("_start") != nil {
                let status: Int32
                do {
                    status = try wasi.start(instance)
                } catch {
                    throw Failure(status: .trap, message: "\(error)")
                }
                try? wasi.close()
                if status != 0 { throw ProgramExit(code: status) }
                return
            }
            if !arguments.isEmpty {
                throw Failure(status: .usage, message: "arguments given, but no --invoke and no _start to run")
            }
            return
        }
        do {
            try wasi.initialize(instance)
        } catch let exit as WASIExit {
            throw ProgramExit(code: exit.code)
        } catch {
            throw Failure(status: .trap, message: "\(error)")
        }
        guard let function = instance.function(name) else {
            throw Failure(status: .link, message: "\(file) has no exported function named \(name)")
        }
        let type = function.type
        guard arguments.count == type.parameters.count else {
            throw Failure(status: .usage, message: "\(name) takes \(type.parameters.count) arguments (\(type.parameters)), got \(arguments.count)")
        }
        var values: [Value] = []
        for (text, parameter) in zip(arguments, type.parameters) {
            guard let value = ValueText.parse(text, as: parameter) else {
                throw Failure(status: .usage, message: "cannot read \(text) as \(parameter)")
            }
            values.append(value)
        }
        let results: [Value]
        do {
            results = try function.call(values)
        } catch {
            if let exit = WASIExit(error) { throw ProgramExit(code: exit.code) }
            throw Failure(status: .trap, message: "\(error)")
        }
        for result in results { print(ValueText.format(result)) }
    }

    func instantiate(_ module: Module, linker: Linker, store: Store) throws -> Instance {
        do {
            return try linker.instantiate(module, store: store)
        } catch let error as KilnError {
            if case .resourceLimitExceeded = error { throw Failure(status: .trap, message: "\(error)") }
            throw Failure(status: .link, message: "\(error)")
        } catch {
            if let exit = WASIExit(error) { throw ProgramExit(code: exit.code) }
            throw Failure(status: .trap, message: "\(error)")
        }
    }

    /// The WASI host: argv[0] is the file as given, then the program arguments.
    func makeWASI(programArguments: [String]) throws -> WASI {
        var environment: [String: String] = [:]
        for entry in env {
            if let equals = entry.firstIndex(of: "=") {
                environment[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
            } else if let value = ProcessInfo.processInfo.environment[entry] {
                environment[entry] = value
            }
        }
        let preopens = dir.map { entry -> WASI.Preopen in
            guard let separator = entry.range(of: "::") else { return WASI.Preopen(hostPath: entry) }
            return WASI.Preopen(hostPath: String(entry[..<separator.lowerBound]), guestPath: String(entry[separator.upperBound...]))
        }
        do {
            return try WASI(arguments: [file] + programArguments, environment: environment, preopens: preopens)
        } catch {
            throw Failure(status: .io, message: "--dir: \(error)")
        }
    }
}

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a module; optionally write the generated C, or a precompiled artifact.",
        discussion: """
            With -o, writes a precompiled artifact (app.kiln): the module's code built by the \
            optimizing C compiler, and the module itself. `kiln run app.kiln` runs it with no \
            compile; it needs the same Kiln build, machine, --wasm-features, and fuel/epoch options \
            (--fuel with --consume-fuel, --timeout with --epoch-interruption).
            """)

    @Argument(help: "A .wasm or .wat file.") var file: String
    @Option(name: .customLong("emit-c"), help: "Write the generated C to this file.") var emitC: String?
    @Option(name: .shortAndLong, help: "Write a precompiled artifact (optimized code and the module) to this file.") var output: String?
    @Flag(help: "Compile with fuel metering (EngineConfiguration.consumeFuel).") var consumeFuel = false
    @Flag(help: "Compile with epoch checks (EngineConfiguration.epochInterruption).") var epochInterruption = false
    @OptionGroup var featureOptions: FeatureOptions
    @OptionGroup var tierOptions: TierOptions

    func run() throws {
        var configuration = try featureOptions.configuration()
        configuration.consumeFuel = consumeFuel
        configuration.epochInterruption = epochInterruption
        try tierOptions.apply(to: &configuration)
        let engine = Engine(configuration: configuration)
        let bytes = try readBytes(file)
        if let emitC {
            let source: String
            do {
                source = try Module.generateC(engine: engine, bytes: bytes)
            } catch {
                throw Failure(status: .invalidModule, message: "\(file): \(error)")
            }
            do {
                try source.write(toFile: emitC, atomically: true, encoding: .utf8)
            } catch {
                throw Failure(status: .io, message: "cannot write \(emitC): \(error.localizedDescription)")
            }
        }
        if let output {
            let start = ContinuousClock.now
            let artifact: [UInt8]
            do {
                artifact = try Module.compileArtifact(engine: engine, bytes: bytes)
            } catch {
                throw Failure(status: .invalidModule, message: "\(file): \(error)")
            }
            do {
                try Data(artifact).write(to: URL(fileURLWithPath: output), options: .atomic)
            } catch {
                throw Failure(status: .io, message: "cannot write \(output): \(error.localizedDescription)")
            }
            let elapsed = ContinuousClock.now - start
            print("wrote \(output): \(artifact.count) bytes in \(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000) ms")
            return
        }
        let module = try readModule(file, engine: engine)
        let t = module.timings
        let ms = { (s: Double) in String(format: "%.2f ms", s * 1000) }
        let compiler = module.tier == .optimized ? "optimized" : "libtcc"
        print("compiled \(file): decode \(ms(t.decode)), validate \(ms(t.validate)), lower \(ms(t.lower)), \(compiler) \(ms(t.compile))"
            + (module.tierNote.map { " (\($0))" } ?? ""))
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode and validate a module (the checks kiln compile and run make before generating code).",
        discussion: """
            With --batch, reads one path per line from standard input and prints one line per \
            module: "valid", or the kind of failure (malformed, invalid, unsupported, io) and the \
            message, separated by a tab; it exits with status 0 at the end of the input.
            """)

    @Argument(help: "A .wasm or .wat file.") var file: String?
    @Flag(help: "Validate the modules whose paths come on standard input, one per line.") var batch = false
    @OptionGroup var featureOptions: FeatureOptions

    func validate() throws {
        if batch == (file != nil) { throw ValidationError("give either a file or --batch") }
    }

    func run() throws {
        let features = try featureOptions.features()
        guard let file else { return try runBatch(features: features) }
        let bytes = try readBytes(file)
        do {
            try Module.validate(bytes: bytes, features: features)
        } catch {
            throw Failure(status: .invalidModule, message: "\(file): \(error)")
        }
        print("\(file): valid")
    }

    /// One process for many modules: what the mutation tester (scripts/mutate.py) drives.
    func runBatch(features: WasmFeatures) throws {
        while let path = readLine(strippingNewline: true) {
            let verdict: String
            if let data = FileManager.default.contents(atPath: path) {
                let bytes = [UInt8](data)
                do {
                    try Module.validate(bytes: bytes, features: features)
                    verdict = "valid"
                } catch {
                    switch error {
                    case .malformed: verdict = "malformed\t\(error)"
                    case .invalid: verdict = "invalid\t\(error)"
                    case .unsupported: verdict = "unsupported\t\(error)"
                    default: verdict = "error\t\(error)"
                    }
                }
            } else {
                verdict = "io\tcannot read \(path)"
            }
            // Unbuffered: the driver reads each answer before it sends the next path.
            FileHandle.standardOutput.write(Data((verdict.replacingOccurrences(of: "\n", with: " ") + "\n").utf8))
        }
    }
}

struct Cache: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The optimized-code cache: its directory, what it holds, or clear it.",
        discussion: "dir prints the directory ($KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln); stats prints entries and bytes; clear deletes every entry.")

    @Argument(help: "dir, stats or clear.") var action: String

    func run() throws {
        let cache = OptimizedCodeCache(directory: OptimizedCodeCache.defaultDirectory())
        switch action {
        case "dir":
            print(cache.directory)
        case "stats":
            let statistics = cache.statistics()
            print("directory: \(cache.directory)")
            print("entries: \(statistics.entries)")
            print("bytes: \(statistics.bytes) (cap \(cache.capacity))")
        case "clear":
            do {
                try cache.clear()
            } catch {
                throw Failure(status: .io, message: "\(error)")
            }
            print("cleared \(cache.directory)")
        default:
            throw Failure(status: .usage, message: "cache expects dir, stats or clear, got \(action)")
        }
    }
}
