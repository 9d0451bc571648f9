import Foundation
import XCTest

@testable import Kiln

/// Precompiled artifacts (`kiln compile -o app.kiln`, `Module(engine:artifact:)`) and the
/// optimized-code cache keyed without lowering. Skipped where no optimizing compiler is found.
final class ArtifactTests: OptimizingCompilerTestCase {
    func engine(_ tier: ExecutionTier = .baseline, features: WasmFeatures = .default, consumeFuel: Bool = false) -> Engine {
        var configuration = EngineConfiguration()
        configuration.tier = tier
        configuration.features = features
        configuration.consumeFuel = consumeFuel
        configuration.cacheDirectory = cacheDirectory.path
        return Engine(configuration: configuration)
    }

    func run(_ module: Module, _ name: String, _ arguments: [Value] = []) throws -> [Value] {
        let store = Store(engine: module.engine)
        return try Instance(store: store, module: module).function(name)!.call(arguments)
    }

    static let wat = """
        (module
          (memory 1)
          (table 2 funcref)
          (elem (i32.const 0) $square $twice)
          (type $unary (func (param i32) (result i32)))
          (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
          (func $twice (param i32) (result i32) (i32.shl (local.get 0) (i32.const 1)))
          (func (export "apply") (param i32 i32) (result i32)
            (call_indirect (type $unary) (local.get 0) (local.get 1)))
          (func (export "sum") (param i32) (result i64) (local $i i32) (local $acc i64)
            (loop $l
              (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (call $square (local.get $i)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get 0))))
            (local.get $acc)))
        """

    func artifactError(_ body: () throws -> Void) -> ArtifactError? {
        do {
            try body()
        } catch KilnError.artifact(let problem) {
            return problem
        } catch {
            XCTFail("not an artifact error: \(error)")
        }
        return nil
    }

    // MARK: - Round trip

    func testArtifactRoundTripRunsLikeTierOne() throws {
        let bytes = try wasmBytes(fromText: Self.wat)
        let artifact = try Module.compileArtifact(engine: engine(), bytes: bytes)
        XCTAssertTrue(Module.isArtifact(artifact))
        let parsed = try Artifact(parsing: artifact)
        XCTAssertEqual(parsed.wasm, bytes)
        XCTAssertEqual(parsed.serialized(), artifact)
        let before = OptimizingCompiler.compileCount
        let loaded = try Module(engine: engine(), artifact: artifact)
        XCTAssertEqual(OptimizingCompiler.compileCount, before, "loading compiles nothing")
        XCTAssertEqual(loaded.tier, .optimized)
        XCTAssertEqual(loaded.tierNote, "optimized code from the artifact")
        let baseline = try Module(engine: engine(), bytes: bytes)
        for arguments in [[Value(Int32(7)), Value(Int32(0))], [Value(Int32(7)), Value(Int32(1))]] {
            XCTAssertEqual(try run(loaded, "apply", arguments), try run(baseline, "apply", arguments))
        }
        XCTAssertEqual(try run(loaded, "sum", [Value(Int32(1000))]), try run(baseline, "sum", [Value(Int32(1000))]))
        // A benchmark program, through a file and Module(engine:contentsOf:).
        let program = OptimizedTierTests.root.appendingPathComponent("benchmarks/wasm/sort.wasm")
        let file = cacheDirectory.appendingPathComponent("sort.kiln")
        try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        try Data(try Module.compileArtifact(engine: engine(), bytes: [UInt8](try Data(contentsOf: program)))).write(to: file)
        let fromFile = try Module(engine: engine(), contentsOf: file)
        XCTAssertEqual(fromFile.tier, .optimized)
        XCTAssertEqual(try run(fromFile, "run"), try run(try Module(engine: engine(), contentsOf: program), "run"))
    }

    /// An engine that gave the module's types other signature ids (it compiled another module
    /// first) cannot use the artifact's code: the module compiles from its Wasm and still works.
    func testOtherSignatureIDsCompileFromTheWasm() throws {
        let bytes = try wasmBytes(fromText: Self.wat)
        let artifact = try Module.compileArtifact(engine: engine(), bytes: bytes)
        let busy = engine()
        _ = try Module(engine: busy, wat: "(module (func (export \"g\") (param f64 f64 f64) (result f32) (f32.const 1)))")
        let loaded = try Module(engine: busy, artifact: artifact)
        XCTAssertEqual(loaded.tier, .baseline)
        XCTAssertTrue(loaded.tierNote?.contains("signature ids") == true, loaded.tierNote ?? "")
        XCTAssertEqual(try run(loaded, "apply", [Value(Int32(5)), Value(Int32(0))]), [Value(Int32(25))])
    }

    // MARK: - Refusals

    func testCorruptArtifactsAreRefused() throws {
        let bytes = try wasmBytes(fromText: Self.wat)
        let artifact = try Module.compileArtifact(engine: engine(), bytes: bytes)
        var flipped = artifact
        flipped[artifact.count / 2] ^= 0x10
        for (what, damaged) in [("flipped", flipped), ("truncated", Array(artifact.prefix(artifact.count - 40))), ("header only", Array(artifact.prefix(12)))] {
            guard case .corrupt = artifactError({ _ = try Module(engine: engine(), artifact: damaged) }) else {
                XCTFail("\(what) not refused as corrupt")
                continue
            }
        }
        XCTAssertEqual(artifactError { _ = try Module(engine: engine(), artifact: bytes) }, .notAnArtifact)
        // A wrong format version, with a valid checksum.
        var version = Array(artifact.dropLast(32))
        version[8] = 99
        version += OptimizedCodeCache.sha256(version)
        XCTAssertEqual(artifactError { _ = try Module(engine: engine(), artifact: version) }, .formatVersion(artifact: 99, supported: 1))
    }

    func testMismatchedFeaturesVersionTargetAndOptionsAreRefused() throws {
        let bytes = try wasmBytes(fromText: Self.wat)
        let artifact = try Module.compileArtifact(engine: engine(), bytes: bytes)
        let noSIMD = try WasmFeatures.default.applying("-simd").get()
        guard case .features = artifactError({ _ = try Module(engine: engine(features: noSIMD), artifact: artifact) }) else {
            return XCTFail("other features accepted")
        }
        guard case .engineOptions = artifactError({ _ = try Module(engine: engine(consumeFuel: true), artifact: artifact) }) else {
            return XCTFail("fuel metering accepted")
        }
        var other = try Artifact(parsing: artifact)
        other.kilnVersion = "0.0.1+build.00"
        XCTAssertEqual(artifactError { _ = try Module(engine: engine(), artifact: other.serialized()) },
                       .kilnVersion(artifact: "0.0.1+build.00", running: OptimizingCompiler.kilnVersion))
        other = try Artifact(parsing: artifact)
        other.target = "riscv64-linux"
        guard case .target = artifactError({ _ = try Module(engine: engine(), artifact: other.serialized()) }) else {
            return XCTFail("another target accepted")
        }
        XCTAssertTrue(OptimizingCompiler.kilnVersion.contains("+"), "the version carries this build's identity: \(OptimizingCompiler.kilnVersion)")
    }

    // MARK: - The cache without lowering

    /// A cache hit neither validates again nor lowers; a module whose types got other signature
    /// ids in its engine gets code of its own (the ids are constants in the code).
    func testCacheHitSkipsValidationAndLowering() throws {
        let bytes = try wasmBytes(fromText: Self.wat)
        let first = try Module(engine: engine(.optimized), bytes: bytes)
        XCTAssertEqual(first.tier, .optimized, first.tierNote ?? "")
        XCTAssertGreaterThan(first.timings.validate, 0)
        let before = OptimizingCompiler.compileCount
        let second = try Module(engine: engine(.tiered), bytes: bytes)
        XCTAssertEqual(second.tier, .optimized, "a tiered module starts on cached code")
        XCTAssertEqual(second.tierNote, "optimized code from the cache")
        XCTAssertEqual(second.timings.validate, 0)
        XCTAssertEqual(second.compiledSoFar.functions, 0, "nothing lowered or compiled by libtcc")
        XCTAssertEqual(OptimizingCompiler.compileCount, before)
        XCTAssertEqual(try run(second, "apply", [Value(Int32(6)), Value(Int32(1))]), [Value(Int32(12))])
        // Other signature ids: compiled again, and right.
        let busy = engine(.optimized)
        _ = try Module(engine: busy, wat: "(module (func (export \"g\") (param f64 f64 f64) (result f32) (f32.const 1)))")
        let third = try Module(engine: busy, bytes: bytes)
        XCTAssertEqual(OptimizingCompiler.compileCount, before + 1 + 1, "the other module and this one")
        XCTAssertEqual(try run(third, "apply", [Value(Int32(6)), Value(Int32(0))]), [Value(Int32(36))])
    }

    // MARK: - The CLI

    func testCompileToArtifactAndRunIt() throws {
        guard let kiln = WASITests.kilnBinary else { throw XCTSkip("the kiln binary is not built beside the tests") }
        let compiler = try XCTUnwrap(OptimizingCompiler.locate(configured: nil))
        let environment = ["KILN_CACHE_DIR": cacheDirectory.path, "KILN_CC": compiler.path]
        let output = cacheDirectory.appendingPathComponent("hello.kiln").path
        try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        let compile = try OptimizedTierTests.runProcess(kiln, arguments: ["compile", "hello.wasm", "-o", output], environment: environment)
        XCTAssertEqual(compile.status, 0, String(decoding: compile.stderr, as: UTF8.self))
        let wasm = try OptimizedTierTests.runProcess(kiln, arguments: ["run", "hello.wasm"], environment: environment)
        let artifact = try OptimizedTierTests.runProcess(kiln, arguments: ["run", "--verbose", output], environment: environment)
        XCTAssertEqual(artifact.status, wasm.status)
        XCTAssertEqual(artifact.stdout, wasm.stdout)
        XCTAssertTrue(String(decoding: artifact.stderr, as: UTF8.self).contains("optimized code from the artifact"))
        // Another feature set: refused with the reason, as an invalid module.
        let refused = try OptimizedTierTests.runProcess(kiln, arguments: ["run", "--wasm-features=-simd", output], environment: environment)
        XCTAssertEqual(refused.status, 65)
        XCTAssertTrue(String(decoding: refused.stderr, as: UTF8.self).contains("compiled with features"), String(decoding: refused.stderr, as: UTF8.self))
    }
}
