import Foundation
import Kiln
import WasmParser

/// Runs official spec-suite `.wast` scripts against Kiln, from the JSON of directives and the
/// binary modules that `wasm-tools json-from-wast` makes of them (see WastConverter).
///
/// Every script gets its own Engine, Store and Linker (with the `spectest` host module). Each
/// directive counts once as passed, failed or unsupported:
/// - unsupported: Kiln threw `KilnError.unsupported`, or the directive uses a module that did
///   (a module that is unsupported makes everything that runs in it unsupported too);
/// - failed: anything else that does not do what the script expects, with a one-line reason.
struct SpecRunner {
    /// What one script did.
    struct FileResult: Sendable {
        /// The script's name, e.g. `"i32"` or `"legacy/throw"`.
        var file: String
        var passed = 0
        var failed = 0
        var unsupported = 0
        /// One line per failed directive: `file:line kind: what was expected, what happened`.
        var failures: [String] = []
        /// One line per unsupported directive: `file:line kind: reason`.
        var unsupportedReasons: [String] = []
        /// Passed assertions worth a second look, e.g. an `assert_invalid` rejected with a
        /// message other than the script's.
        var notes: [String] = []
        var seconds: Double = 0

        var total: Int { passed + failed + unsupported }
    }

    let suite: SpecSuite
    /// Lines of directives not to run because they crash the process; counted as failed with
    /// reason "crash". Keyed by script name. A crash in one directive kills the whole test
    /// process, so an entry may stand in while the crash is being fixed, never longer.
    var crashingDirectives: [String: Set<Int>] = [:]
    /// Print every directive to stderr before running it (env `KILN_SPEC_TRACE=1`), so that the
    /// last line printed before a crash names the culprit.
    var trace = ProcessInfo.processInfo.environment["KILN_SPEC_TRACE"] != nil
    /// The tier the scripts' modules run on: env `KILN_SPEC_TIER=optimized` (scripts/spec-optimized)
    /// compiles every module with the optimizing compiler.
    var tier = ProcessInfo.processInfo.environment["KILN_SPEC_TIER"].flatMap(ExecutionTier.init(rawValue:)) ?? .baseline

    /// The engine settings every script runs with (see also `KILN_SPEC_CONTROL`).
    var configuration = EngineConfiguration()

    init(suite: SpecSuite, crashingDirectives: [String: Set<Int>] = [:]) {
        self.suite = suite
        self.crashingDirectives = crashingDirectives
        // More to skip from the environment: KILN_SPEC_SKIP=int_exprs:349,linking:27
        for entry in (ProcessInfo.processInfo.environment["KILN_SPEC_SKIP"] ?? "").split(separator: ",") {
            guard let colon = entry.lastIndex(of: ":"), let line = Int(entry[entry.index(after: colon)...]) else { continue }
            self.crashingDirectives[String(entry[..<colon]), default: []].insert(line)
        }
    }

    /// Runs one script, e.g. `run(file: "i32")`. A script that cannot be converted or read
    /// counts as one failure.
    func run(file: String) -> FileResult {
        let start = ContinuousClock.now
        var result: FileResult
        do {
            let converter = try WastConverter.shared.get()
            let folder = try converter.convert(suite.url(of: file), script: file)
            let json = try Data(contentsOf: folder.appendingPathComponent("script.json"))
            let script = try JSONDecoder().decode(WastScript.self, from: json)
            var configuration = configuration
            configuration.tier = tier
            var run = ScriptRun(file: file, folder: folder, skip: crashingDirectives[file] ?? [], trace: trace, configuration: configuration)
            run.run(script.commands)
            result = run.result
        } catch {
            result = FileResult(file: file)
            result.failed = 1
            result.failures = ["\(file): cannot run the script: \(error)"]
        }
        let elapsed = ContinuousClock.now - start
        result.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return result
    }
}

// MARK: - The JSON of json-from-wast

struct WastScript: Decodable {
    var commands: [WastCommand]
}

/// One directive. Which fields are set depends on `type`.
struct WastCommand: Decodable {
    var type: String
    var line: Int
    /// `module`, `module_definition`: the module's `$name`; `register`: the registered module.
    var name: String?
    /// The module file, `.wasm` or (for text-only malformed modules) `.wat`.
    var filename: String?
    /// A text module's binary, when wasm-tools could encode it.
    var binaryFilename: String?
    var moduleType: String?
    /// The expected message of an assertion.
    var text: String?
    var action: WastAction?
    var expected: [WastValue]?
    /// `register`: the name to register as.
    var `as`: String?
    /// `module_instance`: the instance's and the definition's names.
    var instance: String?
    var module: String?

    enum CodingKeys: String, CodingKey {
        case type, line, name, filename, binaryFilename = "binary_filename", moduleType = "module_type", text, action,
             expected, `as`, instance, module
    }
}

struct WastAction: Decodable {
    /// `invoke` or `get`.
    var type: String
    var module: String?
    var field: String
    var args: [WastValue]?
}

/// A value: `{"type":"i32","value":"-1"}`, `{"type":"v128","lane_type":"f32","value":[...]}`,
/// `{"type":"externref","value":"null"}`, `{"type":"either","values":[...]}`, ... Floats are
/// bit patterns in decimal; a reference type without a value means any non-null reference.
struct WastValue: Decodable {
    enum Payload: Decodable {
        case scalar(String)
        case lanes([String])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let lanes = try? container.decode([String].self) {
                self = .lanes(lanes)
            } else {
                self = .scalar(try container.decode(String.self))
            }
        }
    }

    var type: String
    var laneType: String?
    var value: Payload?
    var values: [WastValue]?

    enum CodingKeys: String, CodingKey {
        case type, laneType = "lane_type", value, values
    }

    var scalar: String? { if case .scalar(let text)? = value { text } else { nil } }
}

// MARK: - One script

/// Why a directive did not pass.
private enum Outcome: Error {
    case failed(String)
    case unsupported(String)
}

/// The state of a module a directive may refer to.
private enum ModuleState {
    case instance(Instance)
    case unsupported(String)
    case failed(String)
}

private struct ScriptRun {
    let file: String
    let folder: URL
    let skip: Set<Int>
    let trace: Bool

    let engine: Engine
    let store: Store
    let linker: Linker
    var result: SpecRunner.FileResult

    var current: ModuleState?
    var named: [String: ModuleState] = [:]
    /// `(module definition ...)`s, for `(module instance ...)`.
    var definitions: [String: Result<Module, Outcome>] = [:]
    var lastDefinition: Result<Module, Outcome>?
    var definitionCommands: [String: WastCommand] = [:]
    var lastDefinitionCommand: WastCommand?
    /// Names registered for modules that were unsupported or failed: why, for the importers.
    var unsupportedRegistrations: [String: String] = [:]
    var failedRegistrations: [String: String] = [:]
    /// `spectest` exports Kiln cannot make (e.g. `table64` before memory64 lands): what an
    /// import of one counts as.
    var missingSpectest: [String: Outcome] = [:]
    /// `ref.extern N` in a script is the same host object every time.
    var externs: [UInt32: ExternRef] = [:]
    /// Registered instances by name, and those an unsupported module imported from: its
    /// initialization (data, elements, writes of its start function) is missing from their
    /// memories and tables, so a later failure in them counts as unsupported, with this reason.
    var registered: [String: Instance] = [:]
    var tainted: [ObjectIdentifier: String] = [:]
    /// The instance the current directive called into.
    var usedInstance: Instance?

    /// KILN_SPEC_CONTROL=1 runs the scripts with fuel metering and epoch checks on (and fuel
    /// and deadline never reached): the generated control code must not change any outcome.
    /// KILN_SPEC_COMPILE=lazy (or eager) compiles every function on its first call.
    init(file: String, folder: URL, skip: Set<Int>, trace: Bool, configuration: EngineConfiguration) {
        var configuration = configuration
        let environment = ProcessInfo.processInfo.environment
        if environment["KILN_SPEC_CONTROL"] == "1" {
            configuration.consumeFuel = true
            configuration.epochInterruption = true
        }
        switch environment["KILN_SPEC_COMPILE"] {
        case "lazy": configuration.compilation = .lazy
        case "eager": configuration.compilation = .eager
        default: break
        }
        self.engine = Engine(configuration: configuration)
        self.file = file
        self.folder = folder
        self.skip = skip
        self.trace = trace
        self.store = Store(engine: engine)
        self.store.fuel = UInt64(Int64.max)
        self.linker = Linker(engine: engine)
        self.result = SpecRunner.FileResult(file: file)
    }

    mutating func run(_ commands: [WastCommand]) {
        do {
            missingSpectest = try Spectest.define(in: linker, store: store)
        } catch {
            result.failed += 1
            result.failures.append("\(file): cannot define the spectest module: \(error)")
            return
        }
        for command in commands {
            let kind = describe(command)
            if trace {
                FileHandle.standardError.write(Data("[spec] \(file):\(command.line) \(kind)\n".utf8))
            }
            let line = command.line
            let location = "\(file):\(line) \(kind)"
            if skip.contains(command.line) {
                forget(command)
                record(.failure(.failed("crash (skipped, see SpecTests.crashingDirectives)")), at: location)
                continue
            }
            usedInstance = nil
            do {
                try run(command)
                record(.success(()), at: location)
            } catch {
                var outcome = classify(error)
                if case .failed(let reason) = outcome, let instance = usedInstance, let why = tainted[ObjectIdentifier(instance)] {
                    outcome = .unsupported("\(why) (\(reason))")
                }
                if case .unsupported(let reason) = outcome, ["module", "module_instance", "assert_uninstantiable"].contains(command.type) {
                    taintImports(of: command, because: "module at line \(line) is unsupported: \(reason)")
                }
                record(.failure(outcome), at: location)
            }
        }
    }

    private mutating func record(_ outcome: Result<Void, Outcome>, at location: String) {
        switch outcome {
        case .success: result.passed += 1
        case .failure(.failed(let reason)):
            result.failed += 1
            result.failures.append("\(location): \(oneLine(reason))")
        case .failure(.unsupported(let reason)):
            result.unsupported += 1
            result.unsupportedReasons.append("\(location): \(oneLine(reason))")
        }
    }

    private func describe(_ command: WastCommand) -> String {
        var text = command.type.replacingOccurrences(of: "module_", with: "module ")
        if let action = command.action {
            text += action.type == "get" ? " (get \"\(action.field)\")" : " \"\(action.field)\""
        } else if let name = command.name {
            text += " \(command.type == "register" ? "\"\(command.as ?? "")\" " : "")$\(name)"
        } else if let name = command.as {
            text += " \"\(name)\""
        }
        return text
    }

    /// When a directive is skipped, a module it defines must not be used afterwards.
    private mutating func forget(_ command: WastCommand) {
        let state = ModuleState.failed("module skipped")
        switch command.type {
        case "module":
            current = state
            if let name = command.name { named[name] = state }
        case "module_instance":
            current = state
            if let name = command.instance { named[name] = state }
        default: break
        }
    }

    // MARK: Directives

    private mutating func run(_ command: WastCommand) throws {
        let line = command.line
        switch command.type {
        case "module":
            let state: ModuleState
            do {
                state = .instance(try instantiate(try compile(command)))
            } catch {
                current = failedState(error, "module at line \(line)")
                if let name = command.name { named[name] = current }
                throw error
            }
            current = state
            if let name = command.name { named[name] = state }

        case "module_definition":
            let definition: Result<Module, Outcome>
            do {
                definition = .success(try compile(command))
            } catch {
                definition = .failure(classify(error))
            }
            lastDefinition = definition
            lastDefinitionCommand = command
            if let name = command.name {
                definitions[name] = definition
                definitionCommands[name] = command
            }
            _ = try definition.get()

        case "module_instance":
            let definition = command.module.map { definitions[$0] } ?? lastDefinition
            let state: ModuleState
            do {
                guard let definition else { throw Outcome.failed("no module definition \(command.module ?? "")") }
                state = .instance(try instantiate(try definition.get()))
            } catch {
                current = failedState(error, "module instance at line \(line)")
                if let name = command.instance { named[name] = current }
                throw error
            }
            current = state
            if let name = command.instance { named[name] = state }

        case "register":
            guard let name = command.as else { throw Outcome.failed("runner: register without a name") }
            switch moduleState(command.name) {
            case .instance(let instance):
                linker.define(module: name, instance: instance)
                registered[name] = instance
            case .unsupported(let reason):
                unsupportedRegistrations[name] = reason
                throw Outcome.unsupported(reason)
            case .failed(let reason):
                failedRegistrations[name] = reason
                throw Outcome.failed(reason)
            }

        case "action":
            _ = try perform(try action(command))

        case "assert_return":
            let actual = try perform(try action(command))
            let expected = command.expected ?? []
            guard actual.count == expected.count else {
                throw Outcome.failed("expected \(expected.count) results \(describe(expected)), got \(describe(actual))")
            }
            for (value, expectation) in zip(actual, expected) where try !matches(value, expectation) {
                throw Outcome.failed("expected \(describe(expected)), got \(describe(actual))")
            }

        case "assert_trap":
            let message = command.text ?? ""
            do {
                let values = try perform(try action(command))
                throw Outcome.failed("expected trap \"\(message)\", got \(describe(values))")
            } catch let trap as Trap {
                try check(trap, message: message)
            }

        case "assert_exhaustion":
            let message = command.text ?? ""
            do {
                let values = try perform(try action(command))
                throw Outcome.failed("expected exhaustion \"\(message)\", got \(describe(values))")
            } catch let trap as Trap {
                guard trap.reason == .callStackExhausted else {
                    throw Outcome.failed("expected exhaustion \"\(message)\", got trap \"\(trap.message)\"")
                }
            }

        case "assert_exception":
            do {
                let values = try perform(try action(command))
                throw Outcome.failed("expected an uncaught exception, got \(describe(values))")
            } catch let error where Self.isUncaughtWasmException(error) {
                return
            } catch let trap as Trap {
                throw Outcome.failed("expected an uncaught exception, got trap \"\(trap.message)\"")
            }

        case "assert_invalid":
            let message = command.text ?? ""
            do {
                _ = try compile(command)
            } catch KilnError.invalid(let reason, _, _) {
                if !reason.contains(message) {
                    result.notes.append("\(file):\(line) assert_invalid message: expected \"\(message)\", got \"\(reason)\"")
                }
                return
            } catch KilnError.malformed(let reason, _) {
                throw Outcome.failed("expected invalid \"\(message)\", got malformed: \(reason)")
            }
            throw Outcome.failed("expected invalid \"\(message)\", but the module compiled")

        case "assert_malformed":
            // A binary goes to the decoder; a text-only module (malformed text, which wasm-tools
            // cannot encode) to Kiln's text path. Either must reject it as malformed.
            let message = command.text ?? ""
            do {
                _ = try compile(command)
            } catch KilnError.malformed {
                return
            } catch KilnError.invalid(let reason, _, _) {
                guard command.binaryFilename == nil, command.filename?.hasSuffix(".wat") == true else {
                    throw Outcome.failed("expected malformed \"\(message)\", got invalid: \(reason)")
                }
                // Text the text path let through and the validator then rejected: rejected.
                result.notes.append("\(file):\(line) assert_malformed text rejected as invalid, not malformed: \(reason)")
                return
            }
            throw Outcome.failed("expected malformed \"\(message)\", but the module compiled")

        case "assert_malformed_custom", "assert_invalid_custom":
            // Malformed or invalid contents of a custom section or annotation (branch hints).
            // Custom sections never make a module malformed or invalid for the core spec, so
            // Kiln, which does not interpret these, must accept the module; rejecting it as
            // the script says is fine too.
            do {
                _ = try compile(command)
            } catch KilnError.malformed, KilnError.invalid {
                return
            }

        case "assert_unlinkable":
            let message = command.text ?? ""
            let module = try compile(command)
            do {
                _ = try instantiate(module)
            } catch KilnError.unlinkable {
                return
            }
            throw Outcome.failed("expected unlinkable \"\(message)\", but the module instantiated")

        case "assert_uninstantiable":
            // Instantiation must trap (in a start function or an active segment). The current
            // module stays what it was.
            let message = command.text ?? ""
            let module = try compile(command)
            do {
                _ = try instantiate(module)
            } catch let trap as Trap {
                try check(trap, message: message)
                return
            }
            throw Outcome.failed("expected trap \"\(message)\" while instantiating, but the module instantiated")

        default:
            throw Outcome.failed("runner: unknown directive \(command.type)")
        }
    }

    /// Whether `error` is a Wasm exception that left the call uncaught.
    static func isUncaughtWasmException(_ error: any Error) -> Bool { error is WasmException }

    private func check(_ trap: Trap, message: String) throws {
        let actual = trap.message
        guard actual.contains(message) || message.contains(actual) else {
            throw Outcome.failed("expected trap \"\(message)\", got trap \"\(actual)\"")
        }
    }

    /// Marks the registered instances that the directive's module imports from as tainted.
    private mutating func taintImports(of command: WastCommand, because reason: String) {
        var module = command
        if command.type == "module_instance" {
            guard let definition = command.module.map({ definitionCommands[$0] }) ?? lastDefinitionCommand else { return }
            module = definition
        }
        guard let filename = module.binaryFilename ?? module.filename, filename.hasSuffix(".wasm"),
              let bytes = try? Data(contentsOf: folder.appendingPathComponent(filename)) else { return }
        for name in ImportScan.moduleNames(in: [UInt8](bytes)) {
            if let instance = registered[name], tainted[ObjectIdentifier(instance)] == nil {
                tainted[ObjectIdentifier(instance)] = reason
            }
        }
    }

    private func failedState(_ error: any Error, _ what: String) -> ModuleState {
        switch classify(error) {
        case .unsupported(let reason): return .unsupported("\(what) is unsupported: \(reason)")
        case .failed: return .failed("\(what) failed")
        }
    }

    // MARK: Modules

    /// Compiles the directive's module: its binary when there is one, else its text through
    /// Kiln's text path.
    private func compile(_ command: WastCommand) throws -> Module {
        guard let filename = command.binaryFilename ?? command.filename else {
            throw Outcome.failed("runner: directive without a module file")
        }
        let url = folder.appendingPathComponent(filename)
        let contents = try Data(contentsOf: url)
        if filename.hasSuffix(".wat") {
            return try Module(engine: engine, wat: String(decoding: contents, as: UTF8.self))
        }
        return try Module(engine: engine, bytes: [UInt8](contents))
    }

    private func instantiate(_ module: Module) throws -> Instance {
        do {
            return try linker.instantiate(module, store: store)
        } catch KilnError.unlinkable(let reason) {
            // Importing from a module that was unsupported is unsupported, not unlinkable.
            for entry in module.imports {
                if let why = unsupportedRegistrations[entry.module] {
                    throw Outcome.unsupported("imports from \"\(entry.module)\": \(why)")
                }
                if entry.module == "spectest", let outcome = missingSpectest[entry.name] {
                    throw outcome
                }
                if let why = failedRegistrations[entry.module] {
                    throw Outcome.failed("imports from \"\(entry.module)\": \(why)")
                }
            }
            throw KilnError.unlinkable(reason: reason)
        }
    }

    private func moduleState(_ name: String?) -> ModuleState {
        if let name {
            return named[name] ?? .failed("no module \(name)")
        }
        return current ?? .failed("no current module")
    }

    private func instance(_ name: String?) throws -> Instance {
        switch moduleState(name) {
        case .instance(let instance): return instance
        case .unsupported(let reason): throw Outcome.unsupported(reason)
        case .failed(let reason): throw Outcome.failed(reason)
        }
    }

    // MARK: Actions

    private func action(_ command: WastCommand) throws -> WastAction {
        guard let action = command.action else { throw Outcome.failed("runner: \(command.type) without an action") }
        return action
    }

    private mutating func perform(_ action: WastAction) throws -> [Value] {
        let instance = try instance(action.module)
        usedInstance = instance
        switch action.type {
        case "invoke":
            guard let function = instance.function(action.field) else {
                throw Outcome.failed("no function export \"\(action.field)\"")
            }
            let arguments = try (action.args ?? []).map { try argument($0) }
            return try function.call(arguments)
        case "get":
            guard let global = instance.global(action.field) else { throw Outcome.failed("no global export \"\(action.field)\"") }
            return [global.value]
        default:
            throw Outcome.failed("runner: unknown action \(action.type)")
        }
    }

    private mutating func externRef(_ n: UInt32) -> ExternRef {
        if let existing = externs[n] { return existing }
        let reference = ExternRef(n)
        externs[n] = reference
        return reference
    }

    private mutating func argument(_ value: WastValue) throws -> Value {
        switch value.type {
        case "i32": return .i32(UInt32(truncatingIfNeeded: try integer(value.scalar)))
        case "i64": return .i64(try integer(value.scalar))
        case "f32": return .f32(UInt32(truncatingIfNeeded: try integer(value.scalar)))
        case "f64": return .f64(try integer(value.scalar))
        case "v128":
            let lanes = try v128Lanes(value)
            guard lanes.nanLanes.isEmpty else { throw Outcome.failed("runner: NaN pattern in a v128 argument") }
            return .v128(lanes.bytes)
        case "funcref":
            guard value.scalar == "null" else { throw Outcome.failed("runner: funcref argument \(value.scalar ?? "") (only null can be written)") }
            return .funcRef(nil)
        case "externref":
            guard let text = value.scalar else { throw Outcome.failed("runner: externref argument without a value") }
            if text == "null" { return .externRef(nil) }
            guard let n = UInt32(text) else { throw Outcome.failed("runner: externref argument \(text)") }
            return .externRef(externRef(n))
        case "nullexternref" where value.scalar == nil || value.scalar == "null":
            return .externRef(nil)
        case "nullfuncref" where value.scalar == nil || value.scalar == "null":
            return .funcRef(nil)
        case "anyref", "eqref", "i31ref", "structref", "arrayref", "nullref":
            // `ref.host N` is a host value as an anyref; only it and null can be written.
            guard let text = value.scalar, text != "null" else { return .anyRef(nil) }
            guard let n = UInt32(text) else { throw Outcome.failed("runner: \(value.type) argument \(text)") }
            return .anyRef(AnyRef(host: externRef(n)))
        default:
            // anyref (`ref.host N`), exnref, ...: Kiln's Value has no such references.
            throw Outcome.failed("\(value.type) \(value.scalar ?? "") argument: Kiln's Value cannot express it")
        }
    }

    /// A decimal integer as its bits: `-1` and `4294967295` are the same i32.
    private func integer(_ text: String?) throws -> UInt64 {
        guard let text else { throw Outcome.failed("runner: value missing") }
        if text.hasPrefix("-"), let signed = Int64(text) { return UInt64(bitPattern: signed) }
        if let unsigned = UInt64(text) { return unsigned }
        throw Outcome.failed("runner: bad number \(text)")
    }

    private enum NaNKind { case canonical, arithmetic }

    /// A v128's bytes (NaN lanes zero) and its NaN-pattern lanes.
    private func v128Lanes(_ value: WastValue) throws -> (bytes: [UInt8], laneBytes: Int, nanLanes: [Int: NaNKind]) {
        guard case .lanes(let lanes)? = value.value, let laneType = value.laneType else {
            throw Outcome.failed("runner: v128 without lanes")
        }
        let laneBytes: Int
        switch laneType {
        case "i8": laneBytes = 1
        case "i16": laneBytes = 2
        case "i32", "f32": laneBytes = 4
        case "i64", "f64": laneBytes = 8
        default: throw Outcome.failed("runner: v128 lane type \(laneType)")
        }
        guard lanes.count * laneBytes == 16 else { throw Outcome.failed("runner: \(lanes.count) lanes of \(laneType)") }
        var bytes: [UInt8] = []
        var nanLanes: [Int: NaNKind] = [:]
        for (index, lane) in lanes.enumerated() {
            var bits: UInt64 = 0
            switch lane {
            case "nan:canonical": nanLanes[index] = .canonical
            case "nan:arithmetic": nanLanes[index] = .arithmetic
            default: bits = try integer(lane)
            }
            for i in 0..<laneBytes { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
        }
        return (bytes, laneBytes, nanLanes)
    }

    private func isNaN(_ bits: UInt64, width: Int, _ kind: NaNKind) -> Bool {
        let (sign, quiet): (UInt64, UInt64) = width == 4 ? (0x8000_0000, 0x7fc0_0000) : (0x8000_0000_0000_0000, 0x7ff8_0000_0000_0000)
        switch kind {
        case .canonical: return bits & ~sign == quiet
        case .arithmetic: return bits & quiet == quiet
        }
    }

    private func matches(_ value: Value, _ expected: WastValue) throws -> Bool {
        let text = expected.scalar
        switch (expected.type, value) {
        case ("either", _):
            for alternative in expected.values ?? [] where try matches(value, alternative) { return true }
            return false
        case ("i32", .i32(let bits)): return UInt64(bits) == (try integer(text)) & 0xffff_ffff
        case ("i64", .i64(let bits)): return bits == (try integer(text))
        case ("f32", .f32(let bits)):
            switch text {
            case "nan:canonical": return isNaN(UInt64(bits), width: 4, .canonical)
            case "nan:arithmetic": return isNaN(UInt64(bits), width: 4, .arithmetic)
            default: return UInt64(bits) == (try integer(text)) & 0xffff_ffff
            }
        case ("f64", .f64(let bits)):
            switch text {
            case "nan:canonical": return isNaN(bits, width: 8, .canonical)
            case "nan:arithmetic": return isNaN(bits, width: 8, .arithmetic)
            default: return bits == (try integer(text))
            }
        case ("v128", .v128(let bytes)):
            let pattern = try v128Lanes(expected)
            guard bytes.count == 16 else { return false }
            for lane in 0..<(16 / pattern.laneBytes) {
                let range = (lane * pattern.laneBytes)..<((lane + 1) * pattern.laneBytes)
                if let kind = pattern.nanLanes[lane] {
                    var bits: UInt64 = 0
                    for (i, byte) in bytes[range].enumerated() { bits |= UInt64(byte) << (8 * UInt64(i)) }
                    if !isNaN(bits, width: pattern.laneBytes, kind) { return false }
                } else if bytes[range] != pattern.bytes[range] {
                    return false
                }
            }
            return true
        // References. A type without a value is any non-null reference of that type; "null"
        // (or a null type: nullref, nullfuncref, ...) is the null reference.
        case ("refnull", .funcRef(let f)): return f == nil
        case ("refnull", .externRef(let e)): return e == nil
        case ("refnull", .anyRef(let a)): return a == nil
        case ("refnull", .exnRef(let e)): return e == nil
        case ("exnref", .exnRef(let e)), ("nullexnref", .exnRef(let e)):
            return text == "null" || expected.type == "nullexnref" ? e == nil : e != nil
        case ("funcref", .funcRef(let f)), ("nullfuncref", .funcRef(let f)):
            return text == "null" || expected.type == "nullfuncref" ? f == nil : f != nil
        case ("externref", .externRef(let e)), ("nullexternref", .externRef(let e)):
            if text == "null" || expected.type == "nullexternref" { return e == nil }
            guard let e else { return false }
            guard let text else { return true }
            guard let n = UInt32(text) else { throw Outcome.failed("runner: externref \(text)") }
            return externs[n] === e
        case ("anyref", .anyRef(let a)), ("eqref", .anyRef(let a)), ("i31ref", .anyRef(let a)),
             ("structref", .anyRef(let a)), ("arrayref", .anyRef(let a)), ("nullref", .anyRef(let a)):
            if text == "null" || expected.type == "nullref" { return a == nil }
            guard let a else { return false }
            if let text {
                guard let n = UInt32(text) else { throw Outcome.failed("runner: \(expected.type) \(text)") }
                return a.host != nil && a.host === externs[n]
            }
            switch expected.type {
            case "eqref": return a.i31 != nil || a.isStruct || a.isArray
            case "i31ref": return a.i31 != nil
            case "structref": return a.isStruct
            case "arrayref": return a.isArray
            default: return true
            }
        case (_, .anyRef(nil)) where !expected.type.contains("func") && !expected.type.contains("extern"):
            return text == "null" || (expected.type.hasPrefix("null") && text == nil)
        case (_, .funcRef(nil)) where !expected.type.contains("func") && !expected.type.contains("extern"),
             (_, .externRef(nil)) where !expected.type.contains("func") && !expected.type.contains("extern"):
            // A null of another heap type (ref.null any, exn, none, ...): Kiln's Value has only
            // func and extern nulls, and the function's result type says which heap type it is.
            return text == "null" || (expected.type.hasPrefix("null") && text == nil)
        default:
            // Non-null references of other types (anyref, exnref, i31ref, ...) are nothing
            // Kiln's Value can be.
            return false
        }
    }

    // MARK: Errors and descriptions

    /// Unsupported if Kiln said so; failed otherwise.
    private func classify(_ error: any Error) -> Outcome {
        switch error {
        case let outcome as Outcome: return outcome
        case KilnError.unsupported(let feature): return .unsupported(feature)
        case let trap as Trap: return .failed("unexpected trap \"\(trap.message)\"")
        default: return .failed(oneLine("\(error)"))
        }
    }

    private func oneLine(_ text: String) -> String {
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? text
        return line.count > 300 ? String(line.prefix(300)) + "..." : line
    }

    private func describe(_ values: [Value]) -> String {
        "(" + values.map(describe).joined(separator: ", ") + ")"
    }

    private func describe(_ value: Value) -> String {
        switch value {
        case .i32(let v): return "i32 \(Int32(bitPattern: v))"
        case .i64(let v): return "i64 \(Int64(bitPattern: v))"
        case .f32(let v): return "f32 \(Float(bitPattern: v)) [0x\(String(v, radix: 16))]"
        case .f64(let v): return "f64 \(Double(bitPattern: v)) [0x\(String(v, radix: 16))]"
        case .v128(let bytes): return "v128 " + bytes.map { String($0, radix: 16) }.joined(separator: " ")
        case .funcRef(let f): return f == nil ? "ref.null func" : "ref.func"
        case .externRef(let e):
            guard let e else { return "ref.null extern" }
            return "ref.extern \(e.value)"
        case .exnRef(let e): return e == nil ? "ref.null exn" : "exnref"
        case .anyRef(let a):
            guard let a else { return "ref.null any" }
            if let value = a.i31 { return "ref.i31 \(value)" }
            if let host = a.host { return "ref.host \(host.value)" }
            return a.isStruct ? "ref.struct" : a.isArray ? "ref.array" : "anyref"
        }
    }

    private func describe(_ values: [WastValue]) -> String {
        "(" + values.map(describe).joined(separator: ", ") + ")"
    }

    private func describe(_ value: WastValue) -> String {
        switch value.value {
        case .scalar(let text)?:
            switch value.type {
            case "i32": return "i32 \(Int32(truncatingIfNeeded: (try? integer(text)) ?? 0))"
            case "i64": return "i64 \(Int64(bitPattern: (try? integer(text)) ?? 0))"
            case "f32" where !text.hasPrefix("nan"):
                let bits = UInt32(truncatingIfNeeded: (try? integer(text)) ?? 0)
                return "f32 \(Float(bitPattern: bits)) [0x\(String(bits, radix: 16))]"
            case "f64" where !text.hasPrefix("nan"):
                let bits = (try? integer(text)) ?? 0
                return "f64 \(Double(bitPattern: bits)) [0x\(String(bits, radix: 16))]"
            default: return "\(value.type) \(text)"
            }
        case .lanes(let lanes)?:
            // Float lanes are bit patterns: show them as numbers.
            let shown = lanes.map { lane -> String in
                guard !lane.hasPrefix("nan"), let bits = try? integer(lane) else { return lane }
                switch value.laneType {
                case "f32": return "\(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))"
                case "f64": return "\(Double(bitPattern: bits))"
                default: return lane
                }
            }
            return "v128 \(value.laneType ?? "?") " + shown.joined(separator: " ")
        case nil:
            if let alternatives = value.values { return "either" + describe(alternatives) }
            return value.type
        }
    }
}

// MARK: - The spectest module

enum Spectest {
    /// Defines the `spectest` host module of the reference interpreter in `linker`. Returns the
    /// exports Kiln cannot make, with what importing one counts as: unsupported if Kiln threw
    /// `unsupported` making it, failed otherwise.
    fileprivate static func define(in linker: Linker, store: Store) throws -> [String: Outcome] {
        func function(_ name: String, _ parameters: [ValueType]) throws {
            let f = try Function(store: store, type: FunctionType(parameters: parameters, results: [])) { _, _ in [] }
            linker.define(module: "spectest", name: name, .function(f))
        }
        try function("print", [])
        try function("print_i32", [.i32])
        try function("print_i64", [.i64])
        try function("print_f32", [.f32])
        try function("print_f64", [.f64])
        try function("print_i32_f32", [.i32, .f32])
        try function("print_f64_f64", [.f64, .f64])
        func global(_ name: String, _ type: ValueType, _ value: Value) throws {
            let g = try Global(store: store, type: GlobalType(mutability: .constant, valueType: type), value: value)
            linker.define(module: "spectest", name: name, .global(g))
        }
        try global("global_i32", .i32, Value(Int32(666)))
        try global("global_i64", .i64, Value(Int64(666)))
        try global("global_f32", .f32, Value(Float(666.6)))
        try global("global_f64", .f64, Value(Double(666.6)))
        let table = try Table(store: store, type: TableType(elementType: .funcRef, limits: Limits(min: 10, max: 20)))
        linker.define(module: "spectest", name: "table", .table(table))
        let table64 = try Table(store: store, type: TableType(elementType: .funcRef, limits: Limits(min: 10, max: 20, isMemory64: true)))
        linker.define(module: "spectest", name: "table64", .table(table64))
        let memory = try Memory(store: store, type: MemoryType(min: 1, max: 2))
        linker.define(module: "spectest", name: "memory", .memory(memory))
        var missing: [String: Outcome] = [:]
        do {
            let table64 = try Table(store: store, type: TableType(elementType: .funcRef, limits: Limits(min: 10, max: 20, isMemory64: true)))
            linker.define(module: "spectest", name: "table64", .table(table64))
        } catch KilnError.unsupported(let feature) {
            missing["table64"] = .unsupported("spectest \"table64\": \(feature)")
        } catch {
            missing["table64"] = .failed("spectest \"table64\" cannot be made: \(error)")
        }
        return missing
    }
}

// MARK: - Import module names

/// The module names a binary imports from, read from its import section. Best effort: a module
/// Kiln did not compile may be malformed, so reading stops quietly at anything unexpected.
enum ImportScan {
    static func moduleNames(in bytes: [UInt8]) -> Set<String> {
        var reader = Reader(bytes: bytes, offset: 8)
        var names: Set<String> = []
        guard bytes.count >= 8 else { return names }
        while let id = reader.byte(), let size = reader.leb() {
            guard id == 2 else {
                reader.offset += Int(size)
                continue
            }
            guard let count = reader.leb() else { return names }
            for _ in 0..<count {
                guard let module = reader.name(), reader.name() != nil, let kind = reader.byte() else { return names }
                names.insert(module)
                switch kind {
                case 0x00: _ = reader.leb()  // function: type index
                case 0x01:  // table: reference type, limits
                    guard let type = reader.byte() else { return names }
                    if type == 0x63 || type == 0x64 { _ = reader.leb() }
                    guard reader.limits() else { return names }
                case 0x02: guard reader.limits() else { return names }  // memory
                case 0x03:  // global: value type, mutability
                    guard let type = reader.byte() else { return names }
                    if type == 0x63 || type == 0x64 { _ = reader.leb() }
                    _ = reader.byte()
                case 0x04: _ = reader.byte(); _ = reader.leb()  // tag: attribute, type index
                default: return names
                }
            }
            return names
        }
        return names
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset: Int

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func leb() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while let b = byte() {
                if shift < 64 { result |= UInt64(b & 0x7f) << shift }
                if b & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }

        mutating func name() -> String? {
            guard let length = leb(), offset + Int(length) <= bytes.count else { return nil }
            defer { offset += Int(length) }
            return String(decoding: bytes[offset..<offset + Int(length)], as: UTF8.self)
        }

        /// Limits: flags, minimum, maximum if flagged, page size exponent if flagged.
        mutating func limits() -> Bool {
            guard let flags = byte(), leb() != nil else { return false }
            if flags & 1 != 0, leb() == nil { return false }
            if flags & 8 != 0, leb() == nil { return false }
            return true
        }
    }
}
