import Foundation
import Kiln
import XCTest

/// Wasm 3.0 exceptions and tail calls through the embedding API: exceptions between Wasm and
/// Swift in both directions, tag identity across modules, and tail calls in constant stack.
final class ExceptionAndTailCallTests: XCTestCase {
    let engine = Engine()

    private func module(_ wat: String) throws -> Module { try Module(engine: engine, wat: wat) }

    func testUncaughtExceptionReachesSwiftWithTagAndPayload() throws {
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try module(#"""
            (module
              (tag $e (export "e") (param i32 f64))
              (func (export "fail") (param i32) (throw $e (local.get 0) (f64.const 2.5))))
            """#))
        let tag = try XCTUnwrap(instance.export("e")?.tag)
        XCTAssertEqual(tag.type.parameters, [.i32, .f64])
        do {
            try instance.function("fail")!.call([.i32(7)])
            XCTFail("expected a WasmException")
        } catch let exception as WasmException {
            XCTAssertEqual(exception.tag, tag)
            XCTAssertEqual(exception.values, [.i32(7), .f64(2.5.bitPattern)])
        }
        // The store is usable afterwards.
        XCTAssertThrowsError(try instance.function("fail")!.call([.i32(8)])) { XCTAssert($0 is WasmException) }
    }

    func testHostThrowsAndWasmCatches() throws {
        let store = Store(engine: engine)
        let tag = Tag(store: store, parameters: [.i32])
        let linker = Linker(engine: engine)
        linker.define(module: "env", name: "e", tag)
        linker.defineFunction(module: "env", name: "check") { (value: Int32) throws -> Int32 in
            if value < 0 { throw WasmException(tag: tag, values: [.i32(UInt32(bitPattern: value * 10))]) }
            return value
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "env" "e" (tag $e (param i32)))
              (import "env" "check" (func $check (param i32) (result i32)))
              (func (export "run") (param i32) (result i32)
                (block $caught (result i32)
                  (try_table (result i32) (catch $e $caught)
                    (call $check (local.get 0)))
                  (return))
                (i32.const 1000) (i32.add)))
            """#), store: store)
        let run = try instance.typedFunction("run", Int32.self, Int32.self)
        XCTAssertEqual(try run(5), 5)
        XCTAssertEqual(try run(-3), 970, "the host's exception was caught with its payload")
    }

    /// Wasm -> host -> Wasm -> throw: the exception leaves the inner Wasm call as a Swift error
    /// (never a longjmp across the host's Swift frames), the host lets it propagate, and the outer
    /// Wasm code catches it.
    func testExceptionCrossesHostFrames() throws {
        final class Log: @unchecked Sendable { var sawException = false }
        let log = Log()
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "reenter") { (caller: Caller, x: Int32) throws -> Int32 in
            let inner = try caller.instance!.typedFunction("inner", Int32.self, Int32.self)
            do {
                return try inner(x)
            } catch let exception as WasmException {
                log.sawException = true
                throw exception
            }
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "reenter" (func $reenter (param i32) (result i32)))
              (tag $e (param i32))
              (func (export "inner") (param i32) (result i32)
                (if (local.get 0) (then (throw $e (i32.add (local.get 0) (i32.const 100)))))
                (i32.const 1))
              (func (export "outer") (param i32) (result i32)
                (block $h (result i32)
                  (try_table (result i32) (catch $e $h) (call $reenter (local.get 0)))
                  (return))
                (i32.const 1) (i32.add)))
            """#), store: store)
        let outer = try instance.typedFunction("outer", Int32.self, Int32.self)
        XCTAssertEqual(try outer(0), 1)
        XCTAssertEqual(try outer(5), 106)
        XCTAssertTrue(log.sawException)
    }

    func testTagIdentityAcrossModules() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        let exporter = try linker.instantiate(try module(#"""
            (module
              (tag $e (export "e") (param i32))
              (tag $other (export "other") (param i32))
              (func (export "throw_e") (param i32) (throw $e (local.get 0)))
              (func (export "throw_other") (param i32) (throw $other (local.get 0))))
            """#), store: store)
        linker.define(module: "m", instance: exporter)
        let importer = try linker.instantiate(try module(#"""
            (module
              (import "m" "e" (tag $e (param i32)))
              (import "m" "throw_e" (func $throw_e (param i32)))
              (import "m" "throw_other" (func $throw_other (param i32)))
              (func (export "catch") (param i32 i32) (result i32)
                (block $h (result i32)
                  (try_table (catch $e $h)
                    (if (local.get 0) (then (call $throw_e (local.get 1))) (else (call $throw_other (local.get 1)))))
                  (i32.const -1))))
            """#), store: store)
        let catchIt = try importer.typedFunction("catch", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try catchIt(1, 42), 42, "the imported tag is the exporter's")
        XCTAssertThrowsError(try catchIt(0, 42), "a tag of the same type is another tag") { error in
            XCTAssertEqual((error as? WasmException)?.tag, exporter.export("other")?.tag)
        }
        // A tag import of another type does not link.
        let wrongType = try module(#"(module (import "m" "e" (tag (param i64))))"#)
        XCTAssertThrowsError(try linker.instantiate(wrongType, store: store))
    }

    func testExnrefRethrowAndCatchAll() throws {
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try module(#"""
            (module
              (tag $e (param i64))
              (global $saved (mut exnref) (ref.null exn))
              (func (export "capture") (param i64)
                (block $h (result exnref)
                  (try_table (catch_all_ref $h) (throw $e (local.get 0)))
                  (unreachable))
                (global.set $saved))
              (func (export "replay") (result i64)
                (block $h (result i64)
                  (try_table (catch $e $h) (throw_ref (global.get $saved)))
                  (unreachable))))
            """#))
        try instance.function("capture")!.call([.i64(77)])
        XCTAssertEqual(try instance.function("replay")!.call([]), [.i64(77)])
        XCTAssertEqual(try instance.function("replay")!.call([]), [.i64(77)], "an exnref can be thrown again")
    }

    /// The cost of entering a try_table when nothing is thrown: no allocation, no system call.
    func testTryTableInHotLoopIsCheap() throws {
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try module(#"""
            (module
              (tag $e)
              (func (export "loop") (param i32) (result i32) (local i32)
                (loop $l
                  (try_table (catch $e 0)
                    (local.set 1 (i32.add (local.get 1) (i32.const 1))))
                  (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
                (local.get 1)))
            """#))
        let loop = try instance.typedFunction("loop", Int32.self, Int32.self)
        let iterations: Int32 = 2_000_000
        let start = ContinuousClock.now
        XCTAssertEqual(try loop(iterations), iterations)
        let elapsed = ContinuousClock.now - start
        let nanoseconds = Double(elapsed.components.attoseconds) / 1e9 + Double(elapsed.components.seconds) * 1e9
        let perIteration = nanoseconds / Double(iterations)
        print("try_table enter/leave: \(String(format: "%.1f", perIteration)) ns per iteration")
        // A sigsetjmp that saves the mask is a system call (~200+ ns); _setjmp is a few ns.
        XCTAssertLessThan(perIteration, 150)
    }

    func testMutualTailRecursionTenMillionDeep() throws {
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try module(#"""
            (module
              (type $t (func (param i64) (result i64)))
              (table funcref (elem $even $odd))
              (func $even (export "even") (param i64) (result i64)
                (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
                  (else (return_call $odd (i64.sub (local.get 0) (i64.const 1))))))
              (func $odd (param i64) (result i64)
                (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 0))
                  (else (return_call_indirect (type $t) (i64.sub (local.get 0) (i64.const 1)) (i32.const 0)))))
              (func $sum (export "sum") (param i64 i64) (result i64)
                (if (result i64) (i64.eqz (local.get 0)) (then (local.get 1))
                  (else (return_call $sum (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (local.get 0)))))))
            """#))
        let even = try instance.typedFunction("even", Int64.self, Int64.self)
        XCTAssertEqual(try even(10_000_000), 1)
        XCTAssertEqual(try even(10_000_001), 0)
        let sum = try instance.typedFunction("sum", (Int64, Int64).self, Int64.self)
        XCTAssertEqual(try sum(10_000_000, 0), 50_000_005_000_000)
    }

    func testTailCallToHostFunction() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "twice") { (x: Int32) -> Int32 in x * 2 }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "twice" (func $twice (param i32) (result i32)))
              (func (export "f") (param i32) (result i32) (return_call $twice (i32.add (local.get 0) (i32.const 1)))))
            """#), store: store)
        XCTAssertEqual(try instance.typedFunction("f", Int32.self, Int32.self)(20), 42)
    }
}
