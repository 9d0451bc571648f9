import Foundation
import XCTest

/// The `kiln` command as a user meets it: results on stdout, errors on stderr, exit statuses
/// that tell usage errors, invalid modules, link errors and traps apart.
final class CLITests: XCTestCase {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func kiln(_ arguments: [String]) throws -> Outcome {
        guard let binary = WASITests.kilnBinary else { throw XCTSkip("the kiln binary is not built beside the tests") }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = Self.repository
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    func write(_ text: String, name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cli-\(UUID().uuidString)-\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testInvokePrintsResultsAndParsesArguments() throws {
        XCTAssertEqual(try kiln(["run", "examples/times3.wat", "--invoke", "times3", "12"]).stdout, "36\n")
        XCTAssertEqual(try kiln(["run", "examples/times3.wat", "--invoke", "times3", "--", "-5"]).stdout, "-15\n")
        XCTAssertEqual(try kiln(["run", "examples/times3.wat", "--invoke", "times3", "0x10"]).stdout, "48\n")
        let floats = try write("""
            (module
              (func (export "pair") (param f64 f32) (result f64 f32 i64)
                (local.get 0) (local.get 1) (i64.const -1)))
            """, name: "floats.wat")
        XCTAssertEqual(try kiln(["run", floats, "--invoke", "pair", "0.1", "-inf"]).stdout, "0.1\n-inf\n-1\n")
        XCTAssertEqual(try kiln(["run", floats, "--invoke", "pair", "nan", "1e-45"]).stdout, "nan\n1e-45\n-1\n")
    }

    func testExitStatusesTellFailuresApart() throws {
        XCTAssertEqual(try kiln(["run", "examples/times3.wat", "--invoke", "times3", "abc"]).status, 64)
        let invalid = try write("(module (func (result i32) (i64.const 0)))", name: "invalid.wat")
        let outcome = try kiln(["run", invalid])
        XCTAssertEqual(outcome.status, 65)
        XCTAssertTrue(outcome.stderr.contains("type mismatch"), outcome.stderr)
        let unlinkable = try write(#"(module (import "env" "missing" (func)))"#, name: "imports.wat")
        XCTAssertEqual(try kiln(["run", unlinkable]).status, 66)
        let trapping = try write("""
            (module
              (func $inner (export "inner") unreachable)
              (func (export "outer") (call $inner)))
            """, name: "trap.wat")
        let trap = try kiln(["run", trapping, "--invoke", "outer"])
        XCTAssertEqual(trap.status, 67)
        XCTAssertTrue(trap.stderr.contains("unreachable"), trap.stderr)
        XCTAssertTrue(trap.stderr.contains("inner"), "backtrace names the function: \(trap.stderr)")
    }

    func testPreloadLinksAnotherModule() throws {
        let library = try write(#"(module (func (export "seven") (result i32) (i32.const 7)))"#, name: "lib.wat")
        let main = try write("""
            (module
              (import "lib" "seven" (func $seven (result i32)))
              (func (export "main") (result i32) (i32.mul (call $seven) (i32.const 6))))
            """, name: "main.wat")
        XCTAssertEqual(try kiln(["run", main, "--preload", "lib=\(library)", "--invoke", "main"]).stdout, "42\n")
    }

    func testEmitCWritesTheGeneratedSource() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cli-\(UUID().uuidString).c")
        addTeardownBlock { try? FileManager.default.removeItem(at: output) }
        XCTAssertEqual(try kiln(["compile", "examples/times3.wat", "--emit-c", output.path]).status, 0)
        let source = try String(contentsOf: output, encoding: .utf8)
        XCTAssertTrue(source.hasPrefix("#include \"kiln_prelude.h\""))
        XCTAssertFalse(source.contains("times3"), "no module-derived names in the C")
    }

    func testFuelTimeoutAndMemoryLimits() throws {
        let guest = try write("""
            (module
              (memory 1)
              (func (export "spin") (loop $l (br $l)))
              (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
              (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
            """, name: "guest.wat")
        let fuel = try kiln(["run", guest, "--fuel", "1000", "--verbose", "--invoke", "spin"])
        XCTAssertEqual(fuel.status, 67)
        XCTAssertTrue(fuel.stderr.contains("all fuel consumed"), fuel.stderr)
        XCTAssertTrue(fuel.stderr.contains("fuel used: 1000 of 1000"), fuel.stderr)
        let enough = try kiln(["run", guest, "--fuel", "10", "--verbose", "--invoke", "add", "1", "2"])
        XCTAssertEqual(enough.stdout, "3\n")
        XCTAssertTrue(enough.stderr.contains("fuel used: 3 of 10"), enough.stderr)
        let start = Date()
        let timeout = try kiln(["run", guest, "--timeout", "200ms", "--invoke", "spin"])
        XCTAssertEqual(timeout.status, 67)
        XCTAssertTrue(timeout.stderr.contains("interrupt (--timeout 200ms reached)"), timeout.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        XCTAssertEqual(try kiln(["run", guest, "--max-memory", "128KiB", "--invoke", "grow", "1"]).stdout, "1\n")
        XCTAssertEqual(try kiln(["run", guest, "--max-memory", "128KiB", "--invoke", "grow", "2"]).stdout, "-1\n")
        let tooSmall = try kiln(["run", guest, "--max-memory", "1KiB", "--invoke", "add", "1", "2"])
        XCTAssertEqual(tooSmall.status, 67)
        XCTAssertTrue(tooSmall.stderr.contains("memoryBytes"), tooSmall.stderr)
    }
}
