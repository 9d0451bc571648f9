import Foundation
import XCTest

@testable import Kiln

/// Tiered big modules: the sampling profiler finds the functions that run hot and the optimizing
/// compiler builds them in batches installed through the code table, with the same results.
final class HotFunctionTests: XCTestCase {
    func testHotFunctionsAreOptimizedWhileTheProgramRuns() throws {
        guard OptimizingCompiler.locate(configured: nil) != nil else { throw XCTSkip("no optimizing C compiler") }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-hot-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let saved = CodeTable.hotFunctionsThresholdBytes
        CodeTable.hotFunctionsThresholdBytes = 0  // this small module counts as big
        defer { CodeTable.hotFunctionsThresholdBytes = saved }
        let bytes = try wasmBytes(fromText: """
            (module
              (table 1 funcref)
              (elem (i32.const 0) $fib)
              (type $t (func (param i32) (result i32)))
              (func $fib (param i32) (result i32)
                (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
                  (then (local.get 0))
                  (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                                 (call_indirect (type $t) (i32.sub (local.get 0) (i32.const 2)) (i32.const 0))))))
              (func $cold (export "cold") (result i32) (i32.const 7))
              (func (export "run") (param i32) (result i32) (call $fib (local.get 0))))
            """)
        var configuration = EngineConfiguration()
        configuration.tier = .tiered
        configuration.cacheDirectory = cache.path
        let engine = Engine(configuration: configuration)
        let module = try Module(engine: engine, bytes: bytes)
        XCTAssertEqual(module.tier, .baseline)
        let instance = try Instance(store: Store(engine: engine), module: module)
        let run = try instance.typedFunction("run", Int32.self, Int32.self)
        let deadline = Date().addingTimeInterval(120)
        while module.tier != .tiered && Date() < deadline {
            XCTAssertEqual(try run(25), 75025)
        }
        XCTAssertEqual(module.tier, .tiered, module.tierNote ?? "")
        XCTAssertTrue(module.tierNote?.contains("hot functions optimized") == true, module.tierNote ?? "")
        // The hot function runs optimized code on every call path; the cold one stays on libtcc.
        XCTAssertEqual(try run(25), 75025)
        XCTAssertEqual(try instance.function("cold")!.call([]), [Value(Int32(7))])
        XCTAssertTrue(module.codeTable.optimizedHotFunctions.contains(0), "fib is hot")
        XCTAssertFalse(module.codeTable.optimizedHotFunctions.contains(1), "cold ran once")
        XCTAssertEqual(OptimizedCodeCache(directory: cache.path).statistics().entries, 0, "hot batches are not cached")
    }
}
