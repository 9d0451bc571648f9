import Foundation
import XCTest

@testable import Kiln

/// The optimized tier: the module's C compiled by an optimizing compiler (clang) into a shared
/// object, with the same results, traps and backtraces as libtcc's code, and its on-disk cache.
/// Skipped where no optimizing compiler is found.
final class OptimizedTierTests: OptimizingCompilerTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()


    func engine(_ tier: ExecutionTier, cache: Bool = true, capacity: Int = OptimizedCodeCache.defaultCapacity) -> Engine {
        var configuration = EngineConfiguration()
        configuration.tier = tier
        configuration.cacheOptimizedCode = cache
        configuration.cacheDirectory = cacheDirectory.path
        configuration.cacheCapacity = capacity
        return Engine(configuration: configuration)
    }

    func optimizedModule(_ engine: Engine, bytes: [UInt8]) throws -> Module {
        let module = try Module(engine: engine, bytes: bytes)
        XCTAssertEqual(module.tier, .optimized, module.tierNote ?? "")
        return module
    }

    func run(_ module: Module, _ name: String, _ arguments: [Value] = []) throws -> [Value] {
        let store = Store(engine: module.engine)
        let instance = try Instance(store: store, module: module)
        return try instance.function(name)!.call(arguments)
    }

    // MARK: - Same results as libtcc

    /// Benchmark programs return the same checksum in both tiers: a quick subset, or all of them
    /// with KILN_TEST_ALL_BENCHMARKS=1 (benchmarks/run.py checks every one in every run too).
    func testBenchmarkProgramsAgreeAcrossTiers() throws {
        let directory = Self.root.appendingPathComponent("benchmarks/wasm")
        var files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".wasm") }.sorted()
        if ProcessInfo.processInfo.environment["KILN_TEST_ALL_BENCHMARKS"] == nil {
            files = files.filter { ["checksum.wasm", "recursion.wasm", "simd.wasm", "sort.wasm"].contains($0) }
        }
        XCTAssertFalse(files.isEmpty)
        let baseline = engine(.baseline), optimized = engine(.optimized)
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent(file)))
            let expected = try run(try Module(engine: baseline, bytes: bytes), "run")
            let actual = try run(try optimizedModule(optimized, bytes: bytes), "run")
            XCTAssertEqual(actual, expected, file)
        }
    }

    /// The WASI programs through the kiln binary with --tier optimized: the same output and
    /// status as the baseline tier (including a trap's message and named backtrace).
    func testWASIProgramsAgreeAcrossTiers() throws {
        guard let kiln = WASITests.kilnBinary else { throw XCTSkip("the kiln binary is not built beside the tests") }
        let compiler = try XCTUnwrap(OptimizingCompiler.locate(configured: nil))
        let environment = ["KILN_CACHE_DIR": cacheDirectory.path, "KILN_CC": compiler.path]
        for arguments in [["hello.wasm"], ["args_env.wasm", "a", "b c"], ["recurse.wasm"], ["trap_oob.wasm"], ["clock_random.wasm"]] {
            let baseline = try Self.runProcess(kiln, arguments: ["run", "--tier", "baseline"] + arguments, environment: environment)
            let optimized = try Self.runProcess(kiln, arguments: ["run", "--tier", "optimized"] + arguments, environment: environment)
            XCTAssertEqual(optimized.status, baseline.status, "\(arguments)")
            XCTAssertEqual(optimized.stdout, baseline.stdout, "\(arguments)")
            // recurse.wasm recurses until something gives: with libtcc's large frames the native
            // stack, with clang's small ones first the program's own stack in linear memory (an
            // out-of-bounds access): both trap, with different reasons.
            if arguments != ["recurse.wasm"] { XCTAssertEqual(optimized.stderr, baseline.stderr, "\(arguments)") }
        }
        let verbose = try Self.runProcess(kiln, arguments: ["run", "--verbose", "--tier", "optimized", "hello.wasm"], environment: environment)
        XCTAssertTrue(String(decoding: verbose.stderr, as: UTF8.self).contains("tier optimized (optimized code from the cache)"))
    }

    /// Traps in optimized code: guard-page faults, explicit checks, stack exhaustion, with the
    /// function names in the backtrace.
    func testTrapsAndBacktraces() throws {
        let module = try optimizedModule(engine(.optimized), bytes: try wasmBytes(fromText: """
            (module
              (memory 1)
              (func $load (export "load") (param i32) (result i32) (i32.load (local.get 0)))
              (func $outer (export "outer") (param i32) (result i32)
                (i32.add (call $load (local.get 0)) (i32.const 1)))
              (func $forever (export "forever") (param i32) (result i32)
                (call $forever (i32.add (local.get 0) (i32.const 1))))
              (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
              (func (export "trunc") (param f64) (result i32) (i32.trunc_f64_s (local.get 0))))
            """))
        XCTAssertEqual(try run(module, "outer", [Value(Int32(8))]), [Value(Int32(1))])
        do {
            _ = try run(module, "outer", [Value(Int32(70000))])
            XCTFail("no trap")
        } catch let trap as Trap {
            XCTAssertEqual(trap.reason, .memoryOutOfBounds)
            XCTAssertEqual(trap.backtrace.first?.functionName, "load")
        }
        for (name, arguments, reason) in [("forever", [Value(Int32(0))], TrapReason.callStackExhausted),
                                          ("div", [Value(Int32(1)), Value(Int32(0))], .integerDivideByZero),
                                          ("div", [Value(Int32.min), Value(Int32(-1))], .integerOverflow),
                                          ("trunc", [Value(Double.nan)], .invalidConversionToInteger),
                                          ("trunc", [Value(3e9)], .integerOverflow)] {
            do {
                _ = try run(module, name, arguments)
                XCTFail("\(name) did not trap")
            } catch let trap as Trap {
                XCTAssertEqual(trap.reason, reason, name)
                XCTAssertEqual(trap.backtrace.first?.functionName, name)
            }
        }
    }

    /// Locals changed inside a try block keep their values when the throw comes back to its
    /// handler (they are volatile in functions with try blocks).
    func testExceptionsKeepLocalsChangedInTryBlocks() throws {
        let wat = """
            (module
              (tag $e (param i32))
              (func $thrower (param i32) (throw $e (local.get 0)))
              (func (export "f") (param $n i32) (result i32)
                (local $acc i32) (local $i i32)
                (block $done (result i32)
                  (try_table (result i32) (catch $e $done)
                    (loop $l
                      (local.set $acc (i32.add (local.get $acc) (local.get $i)))
                      (local.set $i (i32.add (local.get $i) (i32.const 1)))
                      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
                    (call $thrower (i32.const 1000))
                    (i32.const -1)))
                (i32.add (local.get $acc))))
            """
        let bytes = try wasmBytes(fromText: wat)
        let expected = try run(try Module(engine: engine(.baseline), bytes: bytes), "f", [Value(Int32(100))])
        XCTAssertEqual(expected, [Value(Int32(1000 + 4950))])
        XCTAssertEqual(try run(try optimizedModule(engine(.optimized), bytes: bytes), "f", [Value(Int32(100))]), expected)
    }

    /// SIMD in the optimized tier (inlined helpers): the same lanes as libtcc's helper calls,
    /// and the helpers are vector instructions, not calls.
    func testSIMDAgreesAndInlines() throws {
        let wat = """
            (module
              (memory 1)
              (func (export "f") (param f32 i32) (result i64)
                (local $v v128) (local $w v128)
                (local.set $v (f32x4.splat (local.get 0)))
                (local.set $w (i32x4.splat (local.get 1)))
                (v128.store (i32.const 16) (f32x4.add (f32x4.mul (local.get $v) (local.get $v)) (f32x4.min (local.get $v) (v128.const f32x4 nan -0 0 1))))
                (v128.store (i32.const 32) (i32x4.add (i32x4.mul (local.get $w) (local.get $w)) (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $w) (v128.load (i32.const 16)))))
                (v128.store (i32.const 48) (i16x8.add_sat_s (local.get $w) (i8x16.popcnt (local.get $w))))
                (i64.xor (i64.xor (i64.load (i32.const 16)) (i64.load (i32.const 24)))
                  (i64.xor (i64.xor (i64.load (i32.const 32)) (i64.load (i32.const 40)))
                    (i64.xor (i64.load (i32.const 48)) (i64.load (i32.const 56)))))))
            """
        let bytes = try wasmBytes(fromText: wat)
        let baseline = try Module(engine: engine(.baseline), bytes: bytes)
        let optimized = try optimizedModule(engine(.optimized), bytes: bytes)
        for (x, y) in [(Float(1.5), Int32(7)), (-0.0, -1), (.nan, Int32.max), (.infinity, 0x1234_5678)] {
            XCTAssertEqual(try run(optimized, "f", [Value(x), Value(y)]), try run(baseline, "f", [Value(x), Value(y)]), "\(x) \(y)")
        }
        let source = OptimizingCompiler.translationUnit(try Module.generateC(engine: engine(.optimized), bytes: bytes))
        XCTAssertTrue(source.contains("#line 1 \"simd.c\""), "the SIMD helpers are compiled into the module")
        XCTAssertTrue(source.contains("#define KILN_HELPER static inline __attribute__((always_inline))"))
    }

    /// A subset of the spec suite (traps, floats, conversions, SIMD, exceptions, calls) in the
    /// optimized tier; scripts/spec-optimized runs all of it.
    func testSpecSubsetOptimized() throws {
        let suite: SpecSuite
        do { suite = try SpecSuite.locate() } catch { throw XCTSkip("no spec suite: \(error)") }
        var runner = SpecRunner(suite: suite)
        runner.tier = .optimized
        setenv("KILN_CACHE_DIR", cacheDirectory.path, 1)
        defer { unsetenv("KILN_CACHE_DIR") }
        for file in ["address", "traps", "f32", "f64_bitwise", "conversions", "int_exprs", "call_indirect", "simd_f32x4_arith", "simd_i8x16_arith2", "try_table", "memory_trap"] {
            let result = runner.run(file: file)
            XCTAssertGreaterThan(result.total, 0, file)
            XCTAssertEqual(result.failed, 0, "\(file): \(result.failures.prefix(3).joined(separator: "; "))")
        }
    }

    /// Runs a program in the WASI programs' directory: status, stdout, stderr.
    static func runProcess(_ executable: URL, arguments: [String], environment: [String: String]) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = WASITests.programs
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-out-\(UUID().uuidString)")
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-err-\(UUID().uuidString)")
        try Data().write(to: out)
        try Data().write(to: err)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try Data(contentsOf: out), try Data(contentsOf: err))
    }

    // MARK: - The cache

    func testSecondCompileLoadsFromTheCacheWithoutCompiling() throws {
        let bytes = try wasmBytes(fromText: "(module (func (export \"f\") (result i32) (i32.const 42)))")
        let before = OptimizingCompiler.compileCount
        let first = try optimizedModule(engine(.optimized), bytes: bytes)
        XCTAssertEqual(OptimizingCompiler.compileCount, before + 1)
        XCTAssertEqual(first.tierNote?.hasPrefix("optimized code compiled"), true)
        let second = try optimizedModule(engine(.optimized), bytes: bytes)
        XCTAssertEqual(OptimizingCompiler.compileCount, before + 1, "a cache hit compiles nothing")
        XCTAssertEqual(second.tierNote, "optimized code from the cache")
        XCTAssertEqual(try run(second, "f"), [Value(Int32(42))])
        // Without the cache it compiles again.
        _ = try optimizedModule(engine(.optimized, cache: false), bytes: bytes)
        XCTAssertEqual(OptimizingCompiler.compileCount, before + 2)
        // The directory is private.
        let attributes = try FileManager.default.attributesOfItem(atPath: cacheDirectory.path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o700)
        XCTAssertEqual(OptimizedCodeCache(directory: cacheDirectory.path).statistics().entries, 1)
    }

    func testDamagedEntriesAreRebuiltNotLoaded() throws {
        let bytes = try wasmBytes(fromText: "(module (func (export \"f\") (result i32) (i32.const 7)))")
        _ = try optimizedModule(engine(.optimized), bytes: bytes)
        let entry = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cacheDirectory.path).first { $0.hasSuffix(".kso") })
        let path = cacheDirectory.appendingPathComponent(entry)
        let original = try Data(contentsOf: path)
        let damages: [(String, Data)] = [
            ("flipped byte", { var d = original; d[d.count / 2] ^= 0x40; return d }()),
            ("truncated", original.prefix(original.count - 100)),
            ("empty", Data()),
            ("foreign", Data("not a kiln cache entry at all".utf8)),
        ]
        for (what, damaged) in damages {
            try damaged.write(to: path)
            let before = OptimizingCompiler.compileCount
            let module = try optimizedModule(engine(.optimized), bytes: bytes)
            XCTAssertEqual(OptimizingCompiler.compileCount, before + 1, "\(what): rebuilt")
            XCTAssertEqual(try run(module, "f"), [Value(Int32(7))], what)
            XCTAssertEqual(try Data(contentsOf: path).count, original.count, "\(what): the entry was rewritten")
        }
    }

    func testEvictionKeepsTheCacheUnderItsCap() throws {
        let modules = try (0..<3).map { try wasmBytes(fromText: "(module (func (export \"f\") (result i32) (i32.const \($0))))") }
        // A cap below two entries: each store evicts the least recently used others.
        _ = try optimizedModule(engine(.optimized), bytes: modules[0])
        let one = OptimizedCodeCache(directory: cacheDirectory.path).statistics().bytes
        let capacity = one + one / 2
        for bytes in modules.dropFirst() {
            Thread.sleep(forTimeInterval: 0.02)
            _ = try optimizedModule(engine(.optimized, capacity: capacity), bytes: bytes)
        }
        let statistics = OptimizedCodeCache(directory: cacheDirectory.path, capacity: capacity).statistics()
        XCTAssertEqual(statistics.entries, 1)
        XCTAssertLessThanOrEqual(statistics.bytes, capacity)
        // The newest survived: loading it compiles nothing.
        let before = OptimizingCompiler.compileCount
        _ = try optimizedModule(engine(.optimized, capacity: capacity), bytes: modules[2])
        XCTAssertEqual(OptimizingCompiler.compileCount, before)
        try OptimizedCodeCache(directory: cacheDirectory.path).clear()
        XCTAssertEqual(OptimizedCodeCache(directory: cacheDirectory.path).statistics().entries, 0)
    }

    func testSHA256() {
        XCTAssertEqual(OptimizedCodeCache.hex(OptimizedCodeCache.sha256(Array("abc".utf8))),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(OptimizedCodeCache.hex(OptimizedCodeCache.sha256([])),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(OptimizedCodeCache.hex(OptimizedCodeCache.sha256(Array(repeating: 0x61, count: 1_000_000))),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

/// Tests that need an optimizing C compiler (skipped without one) and a cache directory of their
/// own, removed afterwards.
class OptimizingCompilerTestCase: XCTestCase {
    var cacheDirectory: URL!

    override func setUpWithError() throws {
        guard OptimizingCompiler.locate(configured: nil) != nil else { throw XCTSkip("no optimizing C compiler") }
        cacheDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cache-test-\(UUID().uuidString)")
    }

    override func tearDown() {
        if let cacheDirectory { try? FileManager.default.removeItem(at: cacheDirectory) }
    }
}
