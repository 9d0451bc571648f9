import Foundation
import Kiln
import WAT
import WasmParser

/// Runs official spec-suite `.wast` scripts against Kiln.
///
/// Every script gets its own Engine, Store and Linker (with the `spectest` host module). Each
/// directive that asserts something (module, invoke and every `assert_*`) counts once as passed,
/// failed or unsupported:
/// - unsupported: Kiln threw `KilnError.unsupported`, or the directive uses a module that did
///   (a module that is unsupported makes everything that runs in it unsupported too);
/// - failed: anything else that does not do what the script expects, with a one-line reason.
struct SpecRunner {
    /// What one script did.
    struct FileResult: Sendable {
        /// The script's name as listed, e.g. `"i32"` or `"spec-extra/memory_grow"`.
        var file: String
        var passed = 0
        var failed = 0
        var unsupported = 0
        /// One line per failed directive: `file:line kind: what was expected, what happened`.
        var failures: [String] = []
        /// One line per unsupported directive: `file:line kind: reason`.
        var unsupportedReasons: [String] = []
        /// Passed assertions worth a second look: an `assert_invalid` rejected with a message
        /// other than the script's, or one the text parser already rejected.
        var notes: [String] = []
        var seconds: Double = 0

        var total: Int { passed + failed + unsupported }
    }

    /// Lines (1-based) of directives not to run because they crash the process; counted as failed
    /// with reason "crash". Keyed by file name as listed. Keep this empty unless a crash is
    /// being fixed: a crash in one directive kills the whole test process.
    var crashingDirectives: [String: Set<Int>] = [:]
    /// Print every directive to stderr before running it (env `KILN_SPEC_TRACE=1`), so that the
    /// last line printed before a crash names the culprit.
    var trace = ProcessInfo.processInfo.environment["KILN_SPEC_TRACE"] != nil

    let directory: URL

    /// The suite: `$KILN_SPEC_DIR`, else `../shared/spec-testsuite` next to the repository root.
    static func defaultDirectory(filePath: String = #filePath) -> URL {
        if let override = ProcessInfo.processInfo.environment["KILN_SPEC_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        // .../Tests/KilnTests/SpecRunner.swift -> repository root
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("../shared/spec-testsuite").standardizedFileURL
    }

    init(directory: URL = SpecRunner.defaultDirectory(), crashingDirectives: [String: Set<Int>] = [:]) {
        self.directory = directory
        self.crashingDirectives = crashingDirectives
        // More to skip from the environment: KILN_SPEC_SKIP=int_exprs:349,linking:27
        for entry in (ProcessInfo.processInfo.environment["KILN_SPEC_SKIP"] ?? "").split(separator: ",") {
            guard let colon = entry.lastIndex(of: ":"), let line = Int(entry[entry.index(after: colon)...]) else { continue }
            self.crashingDirectives[String(entry[..<colon]), default: []].insert(line)
        }
    }

    func url(of file: String) -> URL {
        directory.appendingPathComponent(file + ".wast")
    }

    /// Runs one script, e.g. `run(file: "i32")`.
    func run(file: String) -> FileResult {
        let start = ContinuousClock.now
        var result: FileResult
        do {
            let text = try String(contentsOf: url(of: file), encoding: .utf8)
            var script = ScriptRun(file: file, text: text, skip: crashingDirectives[file] ?? [], trace: trace)
            script.run()
            result = script.result
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
    let skip: Set<Int>
    let trace: Bool
    let text: String
    let forms: [TopLevelForm]

    /// KILN_SPEC_CONTROL=1 runs the scripts with fuel metering and epoch checks on (and fuel
    /// and deadline never reached): the generated control code must not change any outcome.
    let engine: Engine = {
        var configuration = EngineConfiguration()
        if ProcessInfo.processInfo.environment["KILN_SPEC_CONTROL"] == "1" {
            configuration.consumeFuel = true
            configuration.epochInterruption = true
        }
        return Engine(configuration: configuration)
    }()
    let store: Store
    let linker: Linker
    var result: SpecRunner.FileResult

    var current: ModuleState?
    var named: [String: ModuleState] = [:]
    /// `(module definition ...)`s, for `(module instance ...)`.
    var definitions: [String: Result<Module, Outcome>] = [:]
    var lastDefinition: Result<Module, Outcome>?
    /// Names registered for modules that were unsupported: why, for the importers' sake.
    var unsupportedRegistrations: [String: String] = [:]
    /// Names registered for modules that failed: why.
    var failedRegistrations: [String: String] = [:]
    /// `ref.extern N` in a script is the same host object every time.
    var externs: [UInt32: ExternRef] = [:]

    init(file: String, text: String, skip: Set<Int>, trace: Bool) {
        self.file = file
        self.text = text
        self.skip = skip
        self.trace = trace
        self.forms = TopLevelForm.scan(text)
        self.store = Store(engine: engine)
        self.store.fuel = UInt64(Int64.max)
        self.linker = Linker(engine: engine)
        self.result = SpecRunner.FileResult(file: file)
    }

    mutating func run() {
        do {
            try Spectest.define(in: linker, store: store)
        } catch {
            result.failed += 1
            result.failures.append("\(file): cannot define the spectest module: \(error)")
            return
        }
        let features = WasmFeatureSet.all
        var script: WAST
        do {
            script = try parseWAST(text, features: features)
        } catch {
            result.failed += 1
            result.failures.append("\(file): cannot parse the script: \(error)")
            return
        }
        var formIndex = 0
        while let (parsed, _) = script.nextDirectiveResult() {
            // nextDirectiveResult yields one result per top-level form, except for an inline
            // module (module fields at the top level), which takes the rest of the script.
            let form = formIndex < forms.count ? forms[formIndex] : TopLevelForm(line: 0, keyword: "?")
            formIndex += 1
            if case .success(.module) = parsed, TopLevelForm.moduleFields.contains(form.keyword) {
                formIndex = forms.count
            }
            let kind = directiveKind(parsed, form: form)
            if trace {
                FileHandle.standardError.write(Data("[spec] \(file):\(form.line) \(kind)\n".utf8))
            }
            let location = "\(file):\(form.line) \(kind)"
            if skip.contains(form.line) {
                forget(parsed)
                record(.failure(.failed("crash (skipped, see SpecRunner.crashingDirectives)")), at: location)
                continue
            }
            let outcome: Result<Void, Outcome>
            switch parsed {
            case .success(let directive):
                do {
                    try run(directive, line: form.line)
                    outcome = .success(())
                } catch let error as Outcome {
                    outcome = .failure(error)
                } catch {
                    outcome = .failure(classify(error))
                }
            case .failure(let failure):
                outcome = parseFailure(failure, keyword: form.keyword, line: form.line)
            }
            record(outcome, at: location)
        }
        // Lines come from counting top-level forms; if the count is off, so are the lines.
        if formIndex != forms.count {
            record(.failure(.failed("runner: \(formIndex) directives but \(forms.count) top-level forms; line numbers are unreliable")), at: "\(file)")
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

    private func directiveKind(_ parsed: Result<WASTDirective, WASTDirectiveError>, form: TopLevelForm) -> String {
        guard case .success(let directive) = parsed else { return form.keyword }
        switch directive {
        case .module(let module): return module.isDefinition ? "module definition" : "module"
        case .moduleInstance: return "module instance"
        case .assertInvalid: return "assert_invalid"
        case .assertMalformed: return "assert_malformed"
        case .assertReturn(let execute, _): return "assert_return" + executeName(execute)
        case .assertTrap(let execute, _): return "assert_trap" + executeName(execute)
        case .assertExhaustion(let call, _): return "assert_exhaustion \"\(call.name)\""
        case .assertException(let execute): return "assert_exception" + executeName(execute)
        case .assertFuel: return "assert_fuel"
        case .assertOutOfFuel: return "assert_out_of_fuel"
        case .assertUnlinkable: return "assert_unlinkable"
        case .register(let name, _): return "register \"\(name)\""
        case .invoke(let invoke): return "invoke \"\(invoke.name)\""
        }
    }

    private func executeName(_ execute: WASTExecute) -> String {
        switch execute {
        case .invoke(let invoke): return " \"\(invoke.name)\""
        case .get(_, let name): return " (get \"\(name)\")"
        case .wat: return " (module)"
        }
    }

    /// A directive the text parser rejected.
    private mutating func parseFailure(_ failure: WASTDirectiveError, keyword: String, line: Int) -> Result<Void, Outcome> {
        if let module = failure.module {
            // A module that does not parse: what uses it fails too.
            let state = ModuleState.failed("module at line \(line) did not parse")
            if module.isDefinition {
                if let id = module.id { definitions[id] = .failure(.failed("module definition at line \(line) did not parse")) }
            } else {
                current = state
                if let id = module.id { named[id] = state }
            }
        }
        // The description adds the location, which costs a scan of the script: only on demand.
        var message: String {
            let text = failure.error.description
            return text.range(of: " at Location").map { String(text[..<$0.lowerBound]) } ?? text
        }
        switch keyword {
        case "assert_malformed":
            // Malformed text is rejected by the text parser, which is what the script expects.
            return .success(())
        case "assert_invalid":
            // The text parser already rejects some invalid modules (e.g. unknown labels).
            result.notes.append("\(file):\(line) assert_invalid rejected by the text parser: \(message)")
            return .success(())
        default:
            return .failure(.failed("text parser: \(message)"))
        }
    }

    /// When a directive is skipped, a module it defines must not be used afterwards.
    private mutating func forget(_ parsed: Result<WASTDirective, WASTDirectiveError>) {
        let state = ModuleState.failed("module skipped")
        switch parsed {
        case .success(.module(let module)) where !module.isDefinition:
            current = state
            if let id = module.id { named[id] = state }
        case .success(.moduleInstance(let instance, _)):
            current = state
            if let instance { named[instance] = state }
        default: break
        }
    }

    // MARK: Directives

    private mutating func run(_ directive: WASTDirective, line: Int) throws {
        switch directive {
        case .module(let directive):
            if directive.isDefinition {
                let definition: Result<Module, Outcome>
                do {
                    definition = .success(try compile(directive.source))
                } catch {
                    definition = .failure(classify(error))
                }
                lastDefinition = definition
                if let id = directive.id { definitions[id] = definition }
                _ = try definition.get()
                return
            }
            let state: ModuleState
            do {
                state = .instance(try instantiate(try compile(directive.source)))
            } catch {
                switch classify(error) {
                case .unsupported(let reason): state = .unsupported("module at line \(line) is unsupported: \(reason)")
                case .failed: state = .failed("module at line \(line) failed")
                }
                current = state
                if let id = directive.id { named[id] = state }
                throw error
            }
            current = state
            if let id = directive.id { named[id] = state }

        case .moduleInstance(let instanceID, let moduleID):
            let definition = moduleID.map { definitions[$0] } ?? lastDefinition
            let state: ModuleState
            do {
                guard let definition else { throw Outcome.failed("no module definition \(moduleID ?? "")") }
                state = .instance(try instantiate(try definition.get()))
            } catch {
                switch classify(error) {
                case .unsupported(let reason): state = .unsupported("module instance at line \(line) is unsupported: \(reason)")
                case .failed: state = .failed("module instance at line \(line) failed")
                }
                current = state
                if let instanceID { named[instanceID] = state }
                throw error
            }
            current = state
            if let instanceID { named[instanceID] = state }

        case .register(let name, let moduleID):
            switch moduleState(moduleID) {
            case .instance(let instance): linker.define(module: name, instance: instance)
            case .unsupported(let reason):
                unsupportedRegistrations[name] = reason
                throw Outcome.unsupported(reason)
            case .failed(let reason):
                failedRegistrations[name] = reason
                throw Outcome.failed(reason)
            }

        case .invoke(let invoke):
            _ = try call(invoke)

        case .assertReturn(let execute, let expected):
            let actual = try self.execute(execute)
            guard actual.count == expected.count else {
                throw Outcome.failed("expected \(expected.count) results \(describe(expected)), got \(describe(actual))")
            }
            for (value, expectation) in zip(actual, expected) {
                guard try matches(value, expectation) else {
                    throw Outcome.failed("expected \(describe(expected)), got \(describe(actual))")
                }
            }

        case .assertTrap(let execute, let message):
            do {
                let values = try self.execute(execute)
                throw Outcome.failed("expected trap \"\(message)\", got \(describe(values))")
            } catch let trap as Trap {
                try check(trap, message: message)
            }

        case .assertExhaustion(let call, let message):
            do {
                let values = try self.call(call)
                throw Outcome.failed("expected exhaustion \"\(message)\", got \(describe(values))")
            } catch let trap as Trap {
                guard trap.reason == .callStackExhausted else {
                    throw Outcome.failed("expected exhaustion \"\(message)\", got trap \"\(trap.message)\"")
                }
            }

        case .assertInvalid(let module, let message):
            let bytes: [UInt8]
            do {
                bytes = try encode(module.source)
            } catch {
                // The text parser or encoder already rejects it.
                result.notes.append("\(file):\(line) assert_invalid rejected by the text encoder: \(error)")
                return
            }
            do {
                _ = try Module(engine: engine, bytes: bytes)
            } catch KilnError.invalid(let reason, _, _) {
                if !reason.contains(message) {
                    result.notes.append("\(file):\(line) assert_invalid message: expected \"\(message)\", got \"\(reason)\"")
                }
                return
            } catch KilnError.unsupported(let feature) {
                throw Outcome.unsupported(feature)
            } catch KilnError.malformed(let reason, _) {
                throw Outcome.failed("expected invalid \"\(message)\", got malformed: \(reason)")
            } catch {
                throw Outcome.failed("expected invalid \"\(message)\", got \(error)")
            }
            throw Outcome.failed("expected invalid \"\(message)\", but the module compiled")

        case .assertMalformed(let module, let message):
            let bytes: [UInt8]
            switch module.source {
            case .text(let wat):
                do { bytes = try wat.encode(options: EncodeOptions(nameSection: true)) } catch { return }
            case .quote(let quoted):
                do { bytes = try wasmBytes(fromText: String(decoding: quoted, as: UTF8.self)) } catch { return }
            case .binary(let binary):
                bytes = binary
            }
            do {
                _ = try Module(engine: engine, bytes: bytes)
            } catch KilnError.malformed {
                return
            } catch KilnError.unsupported(let feature) {
                throw Outcome.unsupported(feature)
            } catch {
                throw Outcome.failed("expected malformed \"\(message)\", got \(error)")
            }
            throw Outcome.failed("expected malformed \"\(message)\", but the module compiled")

        case .assertUnlinkable(let wat, let message):
            let module: Module
            do {
                module = try Module(engine: engine, bytes: try wat.encode(options: EncodeOptions(nameSection: true)))
            } catch let error as KilnError {
                if case .unsupported(let feature) = error { throw Outcome.unsupported(feature) }
                throw Outcome.failed("expected unlinkable \"\(message)\", but compiling failed: \(error)")
            }
            do {
                _ = try linker.instantiate(module, store: store)
            } catch KilnError.unlinkable {
                return
            } catch KilnError.unsupported(let feature) {
                throw Outcome.unsupported(feature)
            } catch {
                throw Outcome.failed("expected unlinkable \"\(message)\", got \(error)")
            }
            throw Outcome.failed("expected unlinkable \"\(message)\", but the module instantiated")

        case .assertException(let execute):
            do {
                let values = try self.execute(execute)
                throw Outcome.failed("expected an exception, got \(describe(values))")
            } catch is WasmException {
                // An uncaught Wasm exception left the call, as expected.
            }
        case .assertFuel, .assertOutOfFuel:
            throw Outcome.unsupported("fuel metering")
        }
    }

    private func check(_ trap: Trap, message: String) throws {
        let actual = trap.message
        guard actual.contains(message) || message.contains(actual) else {
            throw Outcome.failed("expected trap \"\(message)\", got trap \"\(actual)\"")
        }
    }

    // MARK: Modules

    private func encode(_ source: ModuleSource) throws -> [UInt8] {
        switch source {
        case .text(let wat): return try wat.encode(options: EncodeOptions(nameSection: true))
        case .quote(let text): return try wasmBytes(fromText: String(decoding: text, as: UTF8.self))
        case .binary(let bytes): return bytes
        }
    }

    private func compile(_ source: ModuleSource) throws -> Module {
        let bytes: [UInt8]
        do {
            bytes = try encode(source)
        } catch {
            throw Outcome.failed("text encoder: \(error)")
        }
        return try Module(engine: engine, bytes: bytes)
    }

    private func instantiate(_ module: Module) throws -> Instance {
        do {
            return try linker.instantiate(module, store: store)
        } catch KilnError.unlinkable(let reason) {
            // Importing from a module that was unsupported is unsupported, not unlinkable.
            if let missing = module.imports.first(where: { unsupportedRegistrations[$0.module] != nil }) {
                throw Outcome.unsupported("imports from \"\(missing.module)\": \(unsupportedRegistrations[missing.module]!)")
            }
            if let missing = module.imports.first(where: { failedRegistrations[$0.module] != nil }) {
                throw Outcome.failed("imports from \"\(missing.module)\": \(failedRegistrations[missing.module]!)")
            }
            throw KilnError.unlinkable(reason: reason)
        }
    }

    private func moduleState(_ id: String?) -> ModuleState {
        if let id {
            return named[id] ?? .failed("no module \(id)")
        }
        return current ?? .failed("no current module")
    }

    private func instance(_ id: String?) throws -> Instance {
        switch moduleState(id) {
        case .instance(let instance): return instance
        case .unsupported(let reason): throw Outcome.unsupported(reason)
        case .failed(let reason): throw Outcome.failed(reason)
        }
    }

    // MARK: Actions

    private mutating func execute(_ execute: WASTExecute) throws -> [Value] {
        switch execute {
        case .invoke(let invoke):
            return try call(invoke)
        case .get(let module, let name):
            guard let global = try instance(module).global(name) else { throw Outcome.failed("no global export \"\(name)\"") }
            return [global.value]
        case .wat(let wat):
            // assert_trap on a module: instantiation must trap. The current module stays as it is.
            let bytes: [UInt8]
            do { bytes = try wat.encode(options: EncodeOptions(nameSection: true)) } catch { throw Outcome.failed("text encoder: \(error)") }
            _ = try instantiate(try Module(engine: engine, bytes: bytes))
            return []
        }
    }

    private mutating func call(_ invoke: WASTInvoke) throws -> [Value] {
        let instance = try instance(invoke.module)
        guard let function = instance.function(invoke.name) else {
            throw Outcome.failed("no function export \"\(invoke.name)\"")
        }
        let arguments = try invoke.args.map { try argument($0) }
        return try function.call(arguments)
    }

    private mutating func externRef(_ n: UInt32) -> ExternRef {
        if let existing = externs[n] { return existing }
        let reference = ExternRef(n)
        externs[n] = reference
        return reference
    }

    private mutating func argument(_ value: WASTConstValue) throws -> Value {
        switch value {
        case .i32(let v): return .i32(v)
        case .i64(let v): return .i64(v)
        case .f32(let v): return .f32(v)
        case .f64(let v): return .f64(v)
        case .v128(let v): return .v128(v.bytes)
        case .refNull(let heapType):
            switch heapType {
            case .abstract(.externRef), .abstract(.noExtern): return .externRef(nil)
            case .abstract(.funcRef), .abstract(.noFunc), .concrete: return .funcRef(nil)
            default: throw Outcome.unsupported("ref.null \(heapType) argument")
            }
        case .refExtern(let n): return .externRef(externRef(n))
        case .refFunc: throw Outcome.unsupported("ref.func argument")
        case .refHost: throw Outcome.unsupported("ref.host argument")
        }
    }

    private func matches(_ value: Value, _ expected: WASTExpectValue) throws -> Bool {
        switch (value, expected) {
        case (.i32(let a), .i32(let b)): return a == b
        case (.i64(let a), .i64(let b)): return a == b
        case (.f32(let a), .f32(let b)): return a == b
        case (.f64(let a), .f64(let b)): return a == b
        case (.f32(let a), .f32CanonicalNaN): return a & 0x7fff_ffff == 0x7fc0_0000
        case (.f32(let a), .f32ArithmeticNaN): return a & 0x7fc0_0000 == 0x7fc0_0000
        case (.f64(let a), .f64CanonicalNaN): return a & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000
        case (.f64(let a), .f64ArithmeticNaN): return a & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000
        case (.v128(let a), .v128(let b)): return a == b.bytes
        case (.v128(let a), .v128Pattern(let pattern)):
            return v128(a, matches: pattern)
        case (.funcRef(let f), .refNull(let heapType)):
            guard f == nil else { return false }
            switch heapType {
            case nil, .abstract(.funcRef)?, .abstract(.noFunc)?, .concrete?: return true
            default: return false
            }
        case (.externRef(let e), .refNull(let heapType)):
            guard e == nil else { return false }
            switch heapType {
            case nil, .abstract(.externRef)?, .abstract(.noExtern)?: return true
            default: return false
            }
        case (.funcRef(let f), .refFunc): return f != nil
        case (.externRef(let e), .refExtern(let n)):
            guard let e else { return false }
            guard let n else { return true }
            return externs[n] === e
        case (_, .either(let alternatives)):
            for alternative in alternatives where try matches(value, alternative) { return true }
            return false
        case (_, .refI31), (_, .refStruct), (_, .refArray), (_, .refEq), (_, .refHost):
            throw Outcome.unsupported("expected value \(expected)")
        default:
            return false
        }
    }

    /// A v128 against a pattern whose NaN lanes accept any NaN with the quiet bit set (the
    /// pattern does not say whether the script asked for canonical or arithmetic NaN).
    private func v128(_ bytes: [UInt8], matches pattern: V128Expectation) -> Bool {
        guard bytes.count == 16 else { return false }
        guard let shape = pattern.shape else { return bytes == pattern.bytes }
        let laneBytes = shape == .f32x4 ? 4 : 8
        for lane in 0..<(16 / laneBytes) {
            let range = (lane * laneBytes)..<((lane + 1) * laneBytes)
            if pattern.nanLaneMask & (1 << UInt8(lane)) != 0 {
                var bits: UInt64 = 0
                for (i, byte) in bytes[range].enumerated() { bits |= UInt64(byte) << (8 * UInt64(i)) }
                let quiet: UInt64 = laneBytes == 4 ? 0x7fc0_0000 : 0x7ff8_0000_0000_0000
                if bits & quiet != quiet { return false }
            } else if Array(bytes[range]) != Array(pattern.bytes[range]) {
                return false
            }
        }
        return true
    }

    // MARK: Errors and descriptions

    /// Unsupported if Kiln said so; failed otherwise.
    private func classify(_ error: any Error) -> Outcome {
        switch error {
        case let outcome as Outcome: return outcome
        case KilnError.unsupported(let feature): return .unsupported(feature)
        case let trap as Trap: return .failed("unexpected trap \"\(trap.message)\"")
        case let error as KilnError: return .failed(oneLine("\(error)"))
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
        }
    }

    private func describe(_ values: [WASTExpectValue]) -> String {
        "(" + values.map(describe).joined(separator: ", ") + ")"
    }

    private func describe(_ value: WASTExpectValue) -> String {
        switch value {
        case .i32(let v): return "i32 \(Int32(bitPattern: v))"
        case .i64(let v): return "i64 \(Int64(bitPattern: v))"
        case .f32(let v): return "f32 \(Float(bitPattern: v)) [0x\(String(v, radix: 16))]"
        case .f64(let v): return "f64 \(Double(bitPattern: v)) [0x\(String(v, radix: 16))]"
        case .v128(let v): return "v128 " + v.bytes.map { String($0, radix: 16) }.joined(separator: " ")
        case .v128Pattern(let p): return "v128 \(p.shape.map { "\($0)" } ?? "") " + p.bytes.map { String($0, radix: 16) }.joined(separator: " ") + " nan lanes 0b\(String(p.nanLaneMask, radix: 2))"
        case .f32CanonicalNaN: return "f32 nan:canonical"
        case .f32ArithmeticNaN: return "f32 nan:arithmetic"
        case .f64CanonicalNaN: return "f64 nan:canonical"
        case .f64ArithmeticNaN: return "f64 nan:arithmetic"
        case .either(let alternatives): return "either" + describe(alternatives)
        default: return "\(value)"
        }
    }
}

// MARK: - The spectest module

enum Spectest {
    /// Defines the `spectest` host module of the reference interpreter in `linker`.
    static func define(in linker: Linker, store: Store) throws {
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
        let memory = try Memory(store: store, type: MemoryType(min: 1, max: 2))
        linker.define(module: "spectest", name: "memory", .memory(memory))
    }
}

// MARK: - Top-level forms

/// A top-level `( ... )` of a script: the line it starts on and its first keyword. Found by a
/// small scanner so that a directive's line costs nothing (WAT's `Location` recounts lines from
/// the start of the script every time).
struct TopLevelForm {
    var line: Int
    var keyword: String

    static let moduleFields: Set<String> = [
        "data", "elem", "tag", "export", "func", "type", "rec", "global", "import", "memory", "start", "table",
    ]

    static func scan(_ text: String) -> [TopLevelForm] {
        let bytes = Array(text.utf8)
        var forms: [TopLevelForm] = []
        var index = 0
        var line = 1
        var depth = 0
        let count = bytes.count
        func isKeywordByte(_ b: UInt8) -> Bool {
            !(b == UInt8(ascii: " ") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r")
                || b == UInt8(ascii: "(") || b == UInt8(ascii: ")") || b == UInt8(ascii: "\"") || b == UInt8(ascii: ";"))
        }
        while index < count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\n"):
                line += 1
                index += 1
            case UInt8(ascii: ";") where index + 1 < count && bytes[index + 1] == UInt8(ascii: ";"):
                while index < count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "(") where index + 1 < count && bytes[index + 1] == UInt8(ascii: ";"):
                // Block comment, nested.
                var nesting = 0
                while index < count {
                    if bytes[index] == UInt8(ascii: "("), index + 1 < count, bytes[index + 1] == UInt8(ascii: ";") {
                        nesting += 1
                        index += 2
                    } else if bytes[index] == UInt8(ascii: ";"), index + 1 < count, bytes[index + 1] == UInt8(ascii: ")") {
                        nesting -= 1
                        index += 2
                        if nesting == 0 { break }
                    } else {
                        if bytes[index] == UInt8(ascii: "\n") { line += 1 }
                        index += 1
                    }
                }
            case UInt8(ascii: "\""):
                index += 1
                while index < count && bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "\\") { index += 1 }
                    if index < count && bytes[index] == UInt8(ascii: "\n") { line += 1 }
                    index += 1
                }
                index += 1
            case UInt8(ascii: "("):
                if depth == 0 {
                    var end = index + 1
                    while end < count && isKeywordByte(bytes[end]) { end += 1 }
                    forms.append(TopLevelForm(line: line, keyword: String(decoding: bytes[(index + 1)..<end], as: UTF8.self)))
                }
                depth += 1
                index += 1
            case UInt8(ascii: ")"):
                depth -= 1
                index += 1
            default:
                index += 1
            }
        }
        return forms
    }
}
