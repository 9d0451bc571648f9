import Foundation
import XCTest
@testable import Kiln

/// The code table and lazy compilation: every call path reaches code compiled on first use,
/// with the same results as eager compilation.
final class CodeTableTests: XCTestCase {
    /// Compiling ahead is off unless asked for: it runs in the background, and most of these
    /// tests count what a call compiles.
    static func engine(_ mode: CompilationMode, compileAhead: Int = 0) -> Engine {
        var configuration = EngineConfiguration()
        configuration.compilation = mode
        configuration.compileAheadBatches = compileAhead
        return Engine(configuration: configuration)
    }

    /// Direct, indirect (through a table), call_ref and tail calls, a start function, and a
    /// host function that calls back into an export nobody called yet.
    static let callPaths = #"""
        (module
          (import "host" "reenter" (func $reenter (param i32) (result i32)))
          (type $unary (func (param i32) (result i32)))
          (table $t 4 funcref)
          (elem (table $t) (i32.const 0) func $double $square $viaHost $countdown)
          (elem declare func $square)
          (global $started (mut i32) (i32.const 0))
          (func $start (global.set $started (i32.const 7)))
          (start $start)
          (func $double (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
          (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
          (func $viaHost (export "viaHost") (param i32) (result i32) (call $reenter (local.get 0)))
          (func $late (export "late") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1000)))
          (func $countdown (export "countdown") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 42))
              (else (return_call $countdown (i32.sub (local.get 0) (i32.const 1))))))
          (func (export "direct") (param i32) (result i32) (call $double (local.get 0)))
          (func (export "indirect") (param i32 i32) (result i32)
            (call_indirect $t (type $unary) (local.get 0) (local.get 1)))
          (func (export "byRef") (param i32) (result i32) (call_ref $unary (local.get 0) (ref.func $square)))
          (func (export "tailIndirect") (param i32) (result i32)
            (return_call_indirect $t (type $unary) (local.get 0) (i32.const 3)))
          (func (export "started") (result i32) (global.get $started))
          (func (export "trapDeep") (call $trapper))
          (func $trapper unreachable))
        """#

    func results(_ mode: CompilationMode, tier: ExecutionTier = .baseline) throws -> [Int32] {
        var configuration = EngineConfiguration()
        configuration.compilation = mode
        configuration.tier = tier
        configuration.cacheOptimizedCode = false
        let engine = Engine(configuration: configuration)
        let module = try Module(engine: engine, wat: Self.callPaths)
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        // The host calls back into `late`, which has not run yet.
        var late: TypedFunction<Int32, Int32>?
        linker.defineFunction(module: "host", name: "reenter") { (value: Int32) -> Int32 in
            (try? late?(value)) ?? -1
        }
        let instance = try linker.instantiate(module, store: store)
        late = try instance.typedFunction("late", Int32.self, Int32.self)
        if tier == .tiered {
            // Calls before the swap run libtcc's code (compiled lazily or not); then every slot
            // changes under the same instance, its table and its typed functions.
            _ = try instance.typedFunction("direct", Int32.self, Int32.self)(1)
            module.waitForOptimizedCode()
            XCTAssertEqual(module.tier, .optimized, module.tierNote ?? "")
        }
        let unary = { (name: String) in try instance.typedFunction(name, Int32.self, Int32.self) }
        let indirect = try instance.typedFunction("indirect", (Int32, Int32).self, Int32.self)
        return [
            try instance.typedFunction("started", Void.self, Int32.self)(),
            try unary("direct")(21),
            try indirect(5, 0), try indirect(5, 1), try indirect(5, 2), try indirect(5, 3),
            try unary("byRef")(9),
            try unary("countdown")(100_000),
            try unary("tailIndirect")(10),
            try unary("viaHost")(1),
        ]
    }

    func testLazyMatchesEagerOnEveryCallPath() throws {
        let eager = try results(.eager)
        XCTAssertEqual(eager, [7, 42, 10, 25, 1005, 42, 81, 42, 42, 1001])
        XCTAssertEqual(try results(.lazy), eager)
    }

    /// The tiered policy: the same module swaps to optimized code while instantiated, and every
    /// call path gives the same results after the swap.
    func testTieredSwapKeepsEveryCallPath() throws {
        let eager = try results(.eager)
        XCTAssertEqual(try results(.eager, tier: .tiered), eager)
        XCTAssertEqual(try results(.lazy, tier: .tiered), eager)
    }

    func testLazyModuleCompilesNothingUntilCalledAndTrapsNameFunctions() throws {
        let engine = Self.engine(.lazy)
        let module = try Module(engine: engine, wat: #"""
            (module
              (func $inner unreachable)
              (func $outer (export "outer") (call $inner)))
            """#)
        XCTAssertTrue(module.isLazy)
        XCTAssertEqual(module.compiledSoFar.functions, 0)
        let instance = try Instance(store: Store(engine: engine), module: module)
        XCTAssertEqual(module.compiledSoFar.functions, 0, "instantiation compiles nothing")
        XCTAssertThrowsError(try instance.function("outer")!.call([])) { error in
            guard let trap = error as? Trap else { return XCTFail("\(error)") }
            XCTAssertEqual(trap.reason, .unreachable)
            XCTAssertEqual(trap.backtrace.map(\.functionName), ["inner", "outer"])
        }
        XCTAssertEqual(module.compiledSoFar.functions, 2)
    }

    func testValidationErrorsStillSurfaceAtModuleCreation() {
        XCTAssertThrowsError(try Module(engine: Self.engine(.lazy), wat: "(module (func (result i32) (i64.const 1)))")) { error in
            guard case KilnError.invalid = error else { return XCTFail("expected invalid, got \(error)") }
        }
    }

    /// A call compiles the function and what it calls, breadth first, up to a budget: a
    /// function far down the call chain of a big module stays uncompiled until it runs.
    func testLazyBatchesStopAtTheirBudget() throws {
        let filler = String(repeating: "(drop (i32.const 1)) ", count: 1000)
        var functions = ""
        for index in 0..<30 {
            // Each calls the next, on a branch never taken: the call is in the code, not the run.
            let next = index < 29 ? "(if (i32.const 0) (then (drop (call $f\(index + 1)))))" : ""
            functions += "(func $f\(index) (export \"f\(index)\") (result i32) \(filler) \(next) (i32.const \(index)))\n"
        }
        let engine = Self.engine(.lazy)
        let module = try Module(engine: engine, wat: "(module \(functions))")
        let instance = try Instance(store: Store(engine: engine), module: module)
        XCTAssertEqual(try instance.typedFunction("f0", Void.self, Int32.self)(), 0)
        let afterFirst = module.compiledSoFar
        XCTAssertGreaterThan(afterFirst.functions, 1, "callees come along")
        XCTAssertLessThan(afterFirst.functions, 30, "the batch stops at its budget")
        XCTAssertFalse(module.codeTable.isCompiled(29))
        XCTAssertEqual(try instance.typedFunction("f29", Void.self, Int32.self)(), 29)
        XCTAssertTrue(module.codeTable.isCompiled(29))
        XCTAssertEqual(module.compiledSoFar.batches, afterFirst.batches + 1)
    }

    /// With compiling ahead, the lazy compiler starts on the exports' call chains before anything
    /// is called, and a call then finds all of its code ready: no batch of its own.
    func testCompilingAheadReadiesCodeBeforeItIsCalled() throws {
        // About 6 KB each: two per batch compiled ahead (12 KB), so six batches cover the chain.
        let filler = String(repeating: "(drop (i32.const 1)) ", count: 2000)
        var functions = ""
        for index in 0..<12 {
            let rest = index < 11 ? "(i32.add (i32.const \(index)) (call $f\(index + 1)))" : "(i32.const \(index))"
            let export = index == 0 ? "(export \"f0\")" : ""
            functions += "(func $f\(index) \(export) (result i32) \(filler) \(rest))\n"
        }
        let engine = Self.engine(.lazy, compileAhead: 6)
        let module = try Module(engine: engine, wat: "(module \(functions))")
        let instance = try Instance(store: Store(engine: engine), module: module)
        let deadline = Date().addingTimeInterval(30)
        while !(0..<12).allSatisfy(module.codeTable.isCompiled) && Date() < deadline { usleep(2000) }
        XCTAssertTrue((0..<12).allSatisfy(module.codeTable.isCompiled), "the chain compiled ahead")
        let before = module.compiledSoFar
        XCTAssertEqual(before.aheadBatches, before.batches, "nothing was called yet")
        XCTAssertEqual(try instance.typedFunction("f0", Void.self, Int32.self)(), 66)
        XCTAssertEqual(module.compiledSoFar.batches, before.batches, "the call compiled nothing")
        XCTAssertEqual(module.compiledSoFar.functions, 12, "each function compiled once")
    }

    /// A copy of libtcc loaded from its archive compiles while the linked one is busy, and
    /// eager compilation of a module in several batches uses them all.
    func testCopiesOfLibTCCCompileInParallel() throws {
        guard TCCCompiler.compilerArchive != nil, TCCCompiler.parallelism > 1 else {
            throw XCTSkip("libtcc.a not found or one core: Kiln compiles with the linked libtcc alone")
        }
        let wat = #"(module (func (export "f") (param i64) (result f64) (f64.convert_i64_u (i64.mul (local.get 0) (i64.const 3)))))"#
        let value = try TCCCompiler.whileOneCompilerIsBusy {
            let engine = Self.engine(.eager)
            let instance = try Instance(store: Store(engine: engine), module: Module(engine: engine, wat: wat))
            // u64 -> f64 comes from libtcc1.a, which the copy links too.
            return try instance.typedFunction("f", Int64.self, Double.self)(1 << 62)
        }
        XCTAssertEqual(value, Double(UInt64(3) << 62))
        XCTAssertGreaterThan(TCCCompiler.loadedCompilers, 1)
    }

    /// Threads racing to call functions of one lazy module, each in its own store: every call
    /// gets the right code, and each function compiles once.
    func testConcurrentFirstCallsCompileOnce() throws {
        var functions = ""
        for index in 0..<16 {
            let filler = String(repeating: "(drop (i32.const 1)) ", count: 1500)
            functions += "(func (export \"f\(index)\") (param i32) (result i32) \(filler) (i32.add (local.get 0) (i32.const \(index))))\n"
        }
        let engine = Self.engine(.lazy)
        let module = try Module(engine: engine, wat: "(module \(functions))")
        let failures = LimitsTests.Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            do {
                let instance = try Instance(store: Store(engine: engine), module: module)
                for round in 0..<16 {
                    let index = (thread * 5 + round) % 16
                    let value = try instance.typedFunction("f\(index)", Int32.self, Int32.self)(100)
                    if value != 100 + Int32(index) { failures.add() }
                }
            } catch {
                failures.add()
            }
        }
        XCTAssertEqual(failures.value, 0)
        XCTAssertEqual(module.compiledSoFar.functions, 16, "each function compiled exactly once")
    }

    /// Compiling runs off the Wasm stack: a first call from deep recursion still works. The
    /// leaf is reached only through a table, so the first batch cannot hold it.
    func testFirstCallFromDeepRecursion() throws {
        let filler = String(repeating: "(drop (i32.const 1)) ", count: 25_000)
        let engine = Self.engine(.lazy)
        let module = try Module(engine: engine, wat: """
            (module
              (type $leafType (func (result i32)))
              (table 1 funcref)
              (elem (i32.const 0) $leaf)
              (func $deep (export "deep") (param i32) (result i32)
                (if (result i32) (i32.eqz (local.get 0)) (then (call_indirect (type $leafType) (i32.const 0)))
                  (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))
              (func $big (result i32) \(filler) (i32.const 0))
              (func $leaf (result i32) (i32.const 5)))
            """)
        let deep = try Instance(store: Store(engine: engine), module: module).typedFunction("deep", Int32.self, Int32.self)
        XCTAssertFalse(module.codeTable.isCompiled(2))
        XCTAssertEqual(try deep(60_000), 60_005)
        XCTAssertTrue(module.codeTable.isCompiled(2))
        XCTAssertEqual(module.compiledSoFar.batches, 2, "deep and big, then leaf from the bottom of the recursion")
    }
}

/// The trap codes are listed twice, in the C prelude (what generated code and the runtime
/// raise) and in `TrapReason` (what Swift reports): this keeps the two lists one.
final class TrapCodeListTests: XCTestCase {
    func testPreludeTrapCodesAndTrapReasonAgree() throws {
        let prelude = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("runtime-c/include/kiln_prelude.h")
        let text = try String(contentsOf: prelude, encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"KILN_TRAP_([A-Z0-9_]+) = (\d+),"#)
        var cCodes: [String: UInt32] = [:]
        for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let name = String(text[Range(match.range(at: 1), in: text)!])
            cCodes[name] = UInt32(text[Range(match.range(at: 2), in: text)!])!
        }
        XCTAssertEqual(cCodes["NONE"], 0)
        XCTAssertEqual(cCodes["EXCEPTION"], 15, "not a trap: an exception leaving Wasm")
        let traps = cCodes.filter { $0.key != "NONE" && $0.key != "EXCEPTION" }
        XCTAssertEqual(Set(traps.values).count, traps.count, "two C trap codes share a value")
        for (name, code) in traps {
            XCTAssertNotNil(TrapReason(rawValue: code), "KILN_TRAP_\(name) = \(code) has no TrapReason")
        }
        for code in UInt32(1)...255 where TrapReason(rawValue: code) != nil {
            XCTAssertTrue(traps.values.contains(code), "TrapReason \(code) has no KILN_TRAP_ constant")
            XCTAssertFalse(TrapReason(rawValue: code)!.message.isEmpty)
        }
    }
}
