import Foundation
import XCTest

@testable import Kiln

/// One feature set (`EngineConfiguration.features`): validation and compilation accept exactly
/// the same modules, and a proposal switched off, or not implemented, is refused as unsupported.
final class FeatureTests: XCTestCase {
    typealias Builder = DecoderTests

    /// Modules using one proposal each (hand-assembled: the text parser does not know them all).
    static let modules: [(name: String, feature: WasmFeatures, bytes: [UInt8])] = {
        let header: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
        func module(_ body: [UInt8]) -> [UInt8] { Builder.module(body: body) }
        let v128Zero = [UInt8](repeating: 0, count: 16)
        return [
            ("simd", .simd, module([0xfd, 0x0c] + v128Zero + [0x1a, 0x0b])),
            ("relaxed SIMD", .relaxedSIMD,
             module([0xfd, 0x0c] + v128Zero + [0xfd, 0x0c] + v128Zero + [0xfd, 0x80, 0x02, 0x1a, 0x0b])),
            ("tail call", .tailCalls, module([0x12, 0x00, 0x0b])),
            ("exceptions (try_table)", .exceptions, module([0x1f, 0x40, 0x00, 0x0b, 0x0b])),
            ("empty tag section", .exceptions, header + Builder.section(13, [0x00])),
            ("legacy exceptions", .legacyExceptions, module([0x06, 0x40, 0x19, 0x0b, 0x0b])),
            ("multi-memory", .multiMemory,
             header + Builder.section(5, [0x02, 0x00, 0x01, 0x00, 0x01])),
            ("memory64", .memory64, header + Builder.section(5, [0x01, 0x04, 0x01])),
            // Atomics only: shared memories stay unsupported even with threads on.
            ("threads", .threads, module([0xfe, 0x03, 0x00, 0x0b])),
            ("extended const", .extendedConst,
             header + Builder.section(6, [0x01, 0x7f, 0x00, 0x41, 0x01, 0x41, 0x02, 0x6a, 0x0b])),
            ("typed function references", .functionReferences, module([0xd0, 0x70, 0xd4, 0x1a, 0x0b])),
            ("gc", .gc, module([0x41, 0x00, 0xfb, 0x1c, 0x1a, 0x0b])),
        ]
    }()

    private enum Verdict: Equatable {
        case accepted, malformed, invalid, unsupported(String), other(String)
        init(_ body: () throws -> Void) {
            do {
                try body()
                self = .accepted
            } catch KilnError.malformed {
                self = .malformed
            } catch KilnError.invalid {
                self = .invalid
            } catch KilnError.unsupported(let feature) {
                self = .unsupported(feature)
            } catch {
                self = .other("\(error)")
            }
        }
    }

    func testValidationAndCompilationAgreeOnEveryProposal() {
        for features in [WasmFeatures.default, [], .all] {
            var configuration = EngineConfiguration()
            configuration.features = features
            let engine = Engine(configuration: configuration)
            for (name, feature, bytes) in Self.modules {
                let validated = Verdict { try Module.validate(engine: engine, bytes: bytes) }
                let compiled = Verdict { _ = try Module(engine: engine, bytes: bytes) }
                XCTAssertEqual(validated, compiled, "\(name) with features [\(features)]")
                // Accepted exactly when the proposal is both enabled and implemented.
                let allowed = features.contains(feature) && WasmFeatures.implemented.contains(feature)
                XCTAssertEqual(validated == .accepted, allowed, "\(name) with features [\(features)]: \(validated)")
                if !allowed, case .unsupported(let message) = validated {
                    // Relaxed SIMD without SIMD is refused for SIMD.
                    XCTAssertTrue(message.contains(feature.displayName) || (feature == .relaxedSIMD && message.contains("SIMD")), message)
                } else if !allowed {
                    XCTFail("\(name) with features [\(features)]: expected unsupported, got \(validated)")
                }
            }
        }
    }

    func testDisablingAnImplementedProposalRejectsItsModules() {
        var configuration = EngineConfiguration()
        configuration.features.remove(.simd)
        let engine = Engine(configuration: configuration)
        let simd = Self.modules[0].bytes
        XCTAssertNoThrow(try Module(engine: Engine(), bytes: simd))
        XCTAssertThrowsError(try Module(engine: engine, bytes: simd)) { error in
            guard case KilnError.unsupported(let message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("disabled in the engine configuration"), message)
        }
        // A v128 local or parameter needs SIMD as much as an instruction does.
        let v128Parameter = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00] + Builder.section(1, [0x01, 0x60, 0x01, 0x7b, 0x00])
        XCTAssertThrowsError(try Module.validate(engine: engine, bytes: v128Parameter))
        XCTAssertNoThrow(try Module.validate(bytes: v128Parameter))
    }

    func testFeatureListsParse() throws {
        XCTAssertEqual(try WasmFeatures.default.applying("-simd").get(), WasmFeatures.default.subtracting(.simd))
        XCTAssertEqual(try WasmFeatures.default.applying("-all,simd, tail-call").get(), [.simd, .tailCalls])
        XCTAssertEqual(try WasmFeatures().applying("all").get(), .all)
        XCTAssertEqual(WasmFeatures([.simd, .gc]).description, "simd,gc")
        guard case .failure(let error) = WasmFeatures.default.applying("simd,bogus") else { return XCTFail() }
        XCTAssertEqual(error.name, "bogus")
    }

    /// `kiln validate` and `kiln compile` give the same exit status on every module, and
    /// `--wasm-features` switches a proposal for both.
    func testCommandLineValidateAndCompileAgree() throws {
        guard let binary = WASITests.kilnBinary else { throw XCTSkip("the kiln binary is not built beside the tests") }
        func kiln(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, stderr)
        }
        for (name, _, bytes) in Self.modules {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-feature-\(UUID().uuidString).wasm").path
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            defer { try? FileManager.default.removeItem(atPath: path) }
            for flags in [[], ["--wasm-features=-simd"], ["--wasm-features=-all"]] {
                let validate = try kiln(["validate", path] + flags)
                let compile = try kiln(["compile", path] + flags)
                XCTAssertEqual(validate.status, compile.status, "\(name) \(flags): \(validate.stderr) / \(compile.stderr)")
            }
        }
        let simd = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-feature-simd.wasm").path
        FileManager.default.createFile(atPath: simd, contents: Data(Self.modules[0].bytes))
        XCTAssertEqual(try kiln(["validate", simd]).status, 0)
        let disabled = try kiln(["validate", simd, "--wasm-features=-simd"])
        XCTAssertEqual(disabled.status, 65)
        XCTAssertTrue(disabled.stderr.contains("SIMD"), disabled.stderr)
        XCTAssertEqual(try kiln(["validate", simd, "--wasm-features=bogus"]).status, 64)
    }

    func testBatchValidationAnswersOneLinePerPath() throws {
        guard let binary = WASITests.kilnBinary else { throw XCTSkip("the kiln binary is not built beside the tests") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-batch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files: [(String, [UInt8])] = [
            ("valid", Builder.module(body: [0x0b])),
            ("malformed", Builder.module(body: [0x41, 0x80])),
            ("invalid", Builder.module(body: [0x41, 0x00, 0x0b])),
            // A shared memory: validated, not supported.
            ("unsupported", [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00] + Builder.section(5, [0x01, 0x03, 0x01, 0x01])),
        ]
        var input = ""
        for (name, bytes) in files {
            let path = directory.appendingPathComponent(name + ".wasm").path
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            input += path + "\n"
        }
        input += directory.appendingPathComponent("missing.wasm").path + "\n"
        let process = Process()
        process.executableURL = binary
        process.arguments = ["validate", "--batch"]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let kinds = output.split(separator: "\n").map { $0.split(separator: "\t").first.map(String.init) ?? "" }
        XCTAssertEqual(kinds, ["valid", "malformed", "invalid", "unsupported", "io"])
    }
}
