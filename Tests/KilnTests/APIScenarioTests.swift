import Foundation
import Kiln
import XCTest

/// Embedding scenarios written against the public API only.
final class APIScenarioTests: XCTestCase {
    let engine = Engine()

    private func module(_ wat: String) throws -> Module { try Module(engine: engine, wat: wat) }


    // MARK: 1. Table and funcref from the host

    func testTableAndFuncrefFromHost() throws {
        let store = Store(engine: engine)
        let table = try Table(store: store, elementType: .funcRef, minimum: 10, maximum: 20)
        XCTAssertEqual(table.size, 10)
        XCTAssertEqual(table.maximumSize, 20)
        let linker = Linker(engine: engine)
        linker.define(module: "extern", name: "my-table", table)
        let instance = try linker.instantiate(try module(#"""
            (module
              (type $binary (func (param i32 i32) (result i32)))
              (import "extern" "my-table" (table $t 10 20 funcref))
              (export "table" (table $t))
              (func (export "call_at") (param $index i32) (param $a i32) (param $b i32) (result i32)
                (call_indirect $t (type $binary) (local.get $a) (local.get $b) (local.get $index))))
            """#), store: store)

        let exported = try XCTUnwrap(instance.table("table"))
        XCTAssertEqual(exported.size, 10)
        XCTAssertEqual(exported.type, table.type)

        let add = try Function(store: store) { (a: Int32, b: Int32) -> Int32 in a &+ b }
        try exported.set(3, .funcRef(add))
        guard case .funcRef(let stored?) = table.get(3) else { return XCTFail("slot 3 is empty") }
        XCTAssertEqual(stored.type, FunctionType(parameters: [.i32, .i32], results: [.i32]))
        XCTAssertEqual(try stored.call([.i32(1), .i32(2)]), [.i32(3)])
        let typedStored = try stored.typed((Int32, Int32).self, Int32.self)
        XCTAssertEqual(try typedStored(1, 2), 3)

        let callAt = try instance.typedFunction("call_at", (Int32, Int32, Int32).self, Int32.self)
        XCTAssertEqual(try callAt(3, 1, 2), 3)
        XCTAssertEqual(trapReason { _ = try callAt(4, 1, 2) }, .uninitializedElement)
        XCTAssertEqual(trapReason { _ = try callAt(10, 1, 2) }, .undefinedElement)

        // Grow with an initial value; the module sees the new slots.
        XCTAssertEqual(table.grow(by: 2, value: .funcRef(add)), 10)
        XCTAssertEqual(exported.size, 12)
        XCTAssertEqual(try callAt(11, 20, 22), 42)
        XCTAssertNil(table.grow(by: 9), "max is 20")
        XCTAssertNil(table.get(12))
        XCTAssertThrowsError(try table.set(12, .funcRef(nil)))
        XCTAssertThrowsError(try table.set(0, .externRef(ExternRef("no")))) { error in
            guard case KilnError.typeMismatch = error else { return XCTFail("\(error)") }
        }
        // A function of another store is refused.
        let other = Store(engine: engine)
        let foreign = try Function(store: other) { (a: Int32) -> Int32 in a }
        XCTAssertThrowsError(try table.set(0, .funcRef(foreign)))

        // externref tables from the host.
        let externs = try Table(store: store, elementType: .externRef, minimum: 1)
        let object = ExternRef("payload")
        try externs.set(0, .externRef(object))
        guard case .externRef(let back?) = externs.get(0) else { return XCTFail("externref lost") }
        XCTAssertTrue(back === object)
        XCTAssertEqual(back.value as? String, "payload")
    }

    // MARK: 2. Dynamic linking through a shared table

    private let sharedTableA = #"""
        (module
          (import "js" "table" (table 1 funcref))
          (func $add (param $a i32) (param $b i32) (result i32) (i32.add (local.get $a) (local.get $b)))
          (elem (i32.const 0) $add))
        """#
    private let sharedTableB = #"""
        (module
          (import "js" "table" (table 1 funcref))
          (type $binary (func (param i32 i32) (result i32)))
          (func (export "add_five") (param $x i32) (result i32)
            (call_indirect (type $binary) (local.get $x) (i32.const 5) (i32.const 0))))
        """#

    func testDynamicLinkingThroughSharedTable() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.define(module: "js", name: "table", try Table(store: store, elementType: .funcRef, minimum: 1))
        _ = try linker.instantiate(try module(sharedTableA), store: store)
        let b = try linker.instantiate(try module(sharedTableB), store: store)
        XCTAssertEqual(try b.typedFunction("add_five", Int32.self, Int32.self)(10), 15)

        let alone = Store(engine: engine)
        let lonely = Linker(engine: engine)
        lonely.define(module: "js", name: "table", try Table(store: alone, elementType: .funcRef, minimum: 1))
        let onlyB = try lonely.instantiate(try module(sharedTableB), store: alone)
        let addFive = try onlyB.typedFunction("add_five", Int32.self, Int32.self)
        do {
            _ = try addFive(10)
            XCTFail("expected a trap")
        } catch let trap as Trap {
            XCTAssertEqual(trap.reason, .uninitializedElement)
            XCTAssertEqual(trap.message, "uninitialized element")
            XCTAssertEqual(trap.backtrace.first?.functionName, "add_five")
        }
    }

    // MARK: 3. Host import in a table

    private func times(_ body: String) -> String {
        #"""
        (module
          (import "env" "jstimes3" (func $jstimes3 (param i32) (result i32)))
          (type $t (func (param i32) (result i32)))
          (table 32 funcref)
          (elem (i32.const 16) $wasmtimes2 $jstimes3)
          (func $wasmtimes2 (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
          \#(body))
        """#
    }

    func testHostImportInTable() throws {
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "env", name: "jstimes3") { (x: Int32) -> Int32 in x &* 3 }

        let store = Store(engine: engine)
        let instance = try linker.instantiate(try module(times(#"""
            (func (export "times2") (param i32) (result i32) (call_indirect (type $t) (local.get 0) (i32.const 16)))
            (func (export "times3") (param i32) (result i32) (call_indirect (type $t) (local.get 0) (i32.const 17)))
            """#)), store: store)
        XCTAssertEqual(try instance.typedFunction("times2", Int32.self, Int32.self)(12), 24)
        XCTAssertEqual(try instance.typedFunction("times3", Int32.self, Int32.self)(12), 36)

        // Table index before the argument: 17 becomes the argument and 12 the index, an empty slot.
        let swapped = try linker.instantiate(try module(times(#"""
            (func (export "times3") (param i32) (result i32) (call_indirect (type $t) (i32.const 17) (local.get 0)))
            """#)), store: store)
        let swappedTimes3 = try swapped.typedFunction("times3", Int32.self, Int32.self)
        XCTAssertEqual(trapReason { _ = try swappedTimes3(12) }, .uninitializedElement)

        // Without (type ...) the call_indirect has type [] -> []: slot 17 does not match it.
        let untyped = try linker.instantiate(try module(times(#"""
            (func (export "times3") (param i32) (result i32) (call_indirect (local.get 0) (i32.const 17)))
            """#)), store: store)
        let untypedTimes3 = try untyped.typedFunction("times3", Int32.self, Int32.self)
        XCTAssertEqual(trapReason { _ = try untypedTimes3(12) }, .indirectCallTypeMismatch)

        // The store is fine after those traps.
        XCTAssertEqual(try instance.typedFunction("times3", Int32.self, Int32.self)(5), 15)
    }

    // MARK: 4. Function-pointer table as a compiler emits it

    func testFunctionPointerTable() throws {
        let store = Store(engine: engine)
        let instance = try Linker(engine: engine).instantiate(try module(#"""
            (module
              (type $binop (func (param i32 i32) (result i32)))
              (table 5 5 funcref)
              (elem (i32.const 1) $add $sub $mul $div)
              (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
              (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
              (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
              (func $div (type $binop) (i32.div_s (local.get 0) (local.get 1)))
              (func (export "apply") (param $op i32) (param $a i32) (param $b i32) (result i32)
                (call_indirect (type $binop) (local.get $a) (local.get $b) (local.get $op))))
            """#), store: store)
        let apply = try instance.typedFunction("apply", (Int32, Int32, Int32).self, Int32.self)
        XCTAssertEqual(try apply(1, 84, 2), 86)
        XCTAssertEqual(try apply(2, 84, 2), 82)
        XCTAssertEqual(try apply(3, 84, 2), 168)
        XCTAssertEqual(try apply(4, 84, 2), 42)
        XCTAssertEqual(trapReason { _ = try apply(0, 1, 2) }, .uninitializedElement)
        XCTAssertEqual(trapReason { _ = try apply(5, 1, 2) }, .undefinedElement)
        XCTAssertEqual(trapReason { _ = try apply(4, 1, 0) }, .integerDivideByZero)
        XCTAssertEqual(try apply(4, -9, 3), -3)
    }

    // MARK: 5. wasmtime's Func examples

    func testCallAddTwice() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.define(module: "host", name: "add", try Function(store: store) { (a: Int32, b: Int32) -> Int32 in a &+ b })
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "add" (func $add (param i32 i32) (result i32)))
              (func (export "call_add_twice") (result i32)
                (i32.add (call $add (i32.const 1) (i32.const 2)) (call $add (i32.const 3) (i32.const 4)))))
            """#), store: store)
        XCTAssertEqual(try instance.typedFunction("call_add_twice", Void.self, Int32.self)(), 10)
    }

    struct Overflow: Error, Equatable { var a: Int32, b: Int32 }

    func testHostErrorComesOutUnchanged() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "add") { (a: Int32, b: Int32) throws -> Int32 in
            let (sum, overflow) = a.addingReportingOverflow(b)
            if overflow { throw Overflow(a: a, b: b) }
            return sum
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "add" (func $add (param i32 i32) (result i32)))
              (func (export "foo") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1))))
            """#), store: store)
        let foo = try instance.typedFunction("foo", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try foo(1, 2), 3)
        XCTAssertThrowsError(try foo(Int32.max, 1)) { error in
            XCTAssertEqual(error as? Overflow, Overflow(a: Int32.max, b: 1))
        }
        XCTAssertThrowsError(try instance.function("foo")!.call([.i32(UInt32(Int32.max)), .i32(1)])) { error in
            XCTAssertEqual(error as? Overflow, Overflow(a: Int32.max, b: 1))
        }
        XCTAssertEqual(try foo(40, 2), 42, "the store works after a host error")
    }

    func testHostFunctionReceivesEveryNumericType() throws {
        final class Box: @unchecked Sendable { var seen: (Int32, UInt32, Float, Int64, UInt64, Double)? }
        let box = Box()
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "take") {
            (a: Int32, b: UInt32, c: Float, d: Int64, e: UInt64, f: Double) in box.seen = (a, b, c, d, e, f)
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "take" (func $take (param i32 i32 f32 i64 i64 f64)))
              (func (export "run")
                (call $take (i32.const -1) (i32.const 1) (f32.const 2) (i64.const -3) (i64.const 3) (f64.const 4))))
            """#), store: store)
        try instance.typedFunction("run", Void.self, Void.self)()
        let seen = try XCTUnwrap(box.seen)
        XCTAssertEqual(seen.0, -1)
        XCTAssertEqual(seen.1, 1)
        XCTAssertEqual(seen.2, 2.0)
        XCTAssertEqual(seen.3, -3)
        XCTAssertEqual(seen.4, 3)
        XCTAssertEqual(seen.5, 4.0)
    }

    func testDynamicHostFunctionFromStartFunction() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        let double = try Function(store: store, type: FunctionType(parameters: [.i32], results: [.i32])) { _, arguments in
            guard let x = arguments.first?.i32 else { throw KilnError.typeMismatch(reason: "i32 expected") }
            return [Value(x &* 2)]
        }
        linker.define(module: "", name: "double", double)
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "" "double" (func $double (param i32) (result i32)))
              (global $result (export "result") (mut i32) (i32.const 0))
              (func $start (global.set $result (call $double (i32.const 21))))
              (start $start))
            """#), store: store)
        XCTAssertEqual(instance.global("result")?.value, .i32(42))
        XCTAssertEqual(try double.call([.i32(5)]), [.i32(10)])

        // A dynamic host function that returns the wrong types fails the call cleanly.
        let wrong = try Function(store: store, type: FunctionType(parameters: [], results: [.i32])) { _, _ in [.i64(1)] }
        XCTAssertThrowsError(try wrong.call([])) { error in
            guard case KilnError.typeMismatch = error else { return XCTFail("\(error)") }
        }
    }

    struct InvalidUTF8: Error {}

    func testLogStringFromCallerMemory() throws {
        final class Log: @unchecked Sendable { var lines: [String] = [] }
        let log = Log()
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "", name: "log_str") { (caller: Caller, pointer: Int32, length: Int32) in
            guard let memory = caller.memory("memory") else { throw KilnError.unknownExport(name: "memory") }
            let bytes = try memory.read(at: Int(UInt32(bitPattern: pointer)), count: Int(UInt32(bitPattern: length)))
            guard let text = String(validating: bytes, as: UTF8.self) else { throw InvalidUTF8() }
            log.lines.append(text)
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "" "log_str" (func $log_str (param i32 i32)))
              (memory (export "memory") 1)
              (data (i32.const 4) "Hello, world!")
              (data (i32.const 100) "\ff\fe")
              (func (export "log") (param i32 i32) (call $log_str (local.get 0) (local.get 1))))
            """#), store: store)
        let logString = try instance.typedFunction("log", (Int32, Int32).self, Void.self)
        try logString(4, 13)
        XCTAssertEqual(log.lines, ["Hello, world!"])
        // Host misuse is a KilnError, and the call rethrows what the host function threw.
        for (pointer, length) in [(Int32(65530), Int32(100)), (-1, 1)] {
            XCTAssertThrowsError(try logString(pointer, length)) { error in
                guard case KilnError.invalidOperation = error else { return XCTFail("\(error)") }
            }
        }
        XCTAssertThrowsError(try logString(100, 2)) { error in XCTAssertTrue(error is InvalidUTF8, "\(error)") }
        try logString(4, 5)
        XCTAssertEqual(log.lines, ["Hello, world!", "Hello"])
    }

    func testTypedLookupChecksSignature() throws {
        let store = Store(engine: engine)
        let instance = try Linker(engine: engine).instantiate(try module(#"""
            (module
              (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
              (memory (export "memory") 1))
            """#), store: store)
        XCTAssertNoThrow(try instance.typedFunction("add", (Int32, Int32).self, Int32.self))
        XCTAssertNoThrow(try instance.typedFunction("add", (UInt32, UInt32).self, UInt32.self))
        for attempt in [
            { _ = try instance.typedFunction("add", (Int32, Int64).self, Int32.self) },
            { _ = try instance.typedFunction("add", Int32.self, Int32.self) },
            { _ = try instance.typedFunction("add", (Int32, Int32).self, Void.self) },
            { _ = try instance.typedFunction("add", (Int32, Int32).self, (Int32, Int32).self) },
            { _ = try instance.typedFunction("add", (Float, Float).self, Float.self) },
        ] as [() throws -> Void] {
            XCTAssertThrowsError(try attempt()) { error in
                guard case KilnError.typeMismatch(let reason) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("(i32, i32) -> i32"), reason)
            }
        }
        XCTAssertThrowsError(try instance.typedFunction("memory", Void.self, Void.self)) { error in
            XCTAssertEqual(error as? KilnError, .unknownExport(name: "memory"))
        }
        XCTAssertThrowsError(try instance.typedFunction("nope", Void.self, Void.self))
        // Dynamic calls check their arguments too.
        XCTAssertThrowsError(try instance.function("add")!.call([.i32(1)]))
        XCTAssertThrowsError(try instance.function("add")!.call([.i32(1), .i64(2)]))
    }

    func testMultipleResultsAsTuple() throws {
        let store = Store(engine: engine)
        let instance = try Linker(engine: engine).instantiate(try module(#"""
            (module
              (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
              (func (export "three") (result f32 f64 i64) (f32.const 1.5) (f64.const -2.25) (i64.const -1)))
            """#), store: store)
        let swap = try instance.typedFunction("swap", (Int32, Int64).self, (Int64, Int32).self)
        let (a, b) = try swap(1, 2)
        XCTAssertEqual(a, 2)
        XCTAssertEqual(b, 1)
        let three = try instance.typedFunction("three", Void.self, (Float, Double, UInt64).self)
        let result = try three()
        XCTAssertEqual(result.0, 1.5)
        XCTAssertEqual(result.1, -2.25)
        XCTAssertEqual(result.2, UInt64.max)

        // Host functions with several results, called from Wasm and from Swift.
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "divmod") { (a: Int32, b: Int32) -> (Int32, Int32) in
            (a / b, a % b)
        }
        let user = try linker.instantiate(try module(#"""
            (module
              (import "host" "divmod" (func $divmod (param i32 i32) (result i32 i32)))
              (func (export "combine") (param i32 i32) (result i32)
                (call $divmod (local.get 0) (local.get 1))
                (i32.const 100) (i32.mul) ;; remainder * 100
                (i32.add)))
            """#), store: store)
        let combine = try user.typedFunction("combine", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try combine(17, 5), 3 + 200)
        let divmod = try XCTUnwrap(linker.lookup(module: "host", name: "divmod", store: store)?.function)
        let typedDivmod = try divmod.typed((Int32, Int32).self, (Int32, Int32).self)
        let (q, r) = try typedDivmod(17, 5)
        XCTAssertEqual(q, 3)
        XCTAssertEqual(r, 2)
    }

    func testReferenceTypesInTypedCalls() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "identity") { (x: ExternRef?) -> ExternRef? in x }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "identity" (func $identity (param externref) (result externref)))
              (table $t 2 funcref)
              (func $seven (result i32) (i32.const 7))
              (elem declare func $seven)
              (func (export "round_trip") (param externref) (result externref) (call $identity (local.get 0)))
              (func (export "seven") (result funcref) (ref.func $seven))
              (func (export "is_null") (param funcref) (result i32) (ref.is_null (local.get 0))))
            """#), store: store)
        let roundTrip = try instance.typedFunction("round_trip", ExternRef?.self, ExternRef?.self)
        let object = ExternRef([1, 2, 3])
        XCTAssertTrue(try roundTrip(object) === object)
        XCTAssertNil(try roundTrip(nil))
        let seven = try XCTUnwrap(try instance.typedFunction("seven", Void.self, Function?.self)())
        XCTAssertEqual(seven.type, FunctionType(parameters: [], results: [.i32]))
        XCTAssertEqual(try seven.typed(Void.self, Int32.self)(), 7)
        let isNull = try instance.typedFunction("is_null", Function?.self, Int32.self)
        XCTAssertEqual(try isNull(nil), 1)
        XCTAssertEqual(try isNull(seven), 0)
    }

    func testManyParametersAndConversions() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        // Nine parameters: past the specialized arities, through the generic path both ways.
        linker.defineFunction(module: "host", name: "sum9") {
            (a: Int32, b: Int64, c: Float, d: Double, e: UInt32, f: UInt64, g: Int32, h: Int32, i: Int32) -> Double in
            Double(a) + Double(b) + Double(c) + d + Double(e) + Double(f) + Double(g) + Double(h) + Double(i)
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "sum9" (func $sum9 (param i32 i64 f32 f64 i32 i64 i32 i32 i32) (result f64)))
              (func (export "sum9") (param i32 i64 f32 f64 i32 i64 i32 i32 i32) (result f64)
                (call $sum9 (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                            (local.get 5) (local.get 6) (local.get 7) (local.get 8))))
            """#), store: store)
        let sum9 = try instance.typedFunction(
            "sum9", (Int32, Int64, Float, Double, UInt32, UInt64, Int32, Int32, Int32).self, Double.self)
        XCTAssertEqual(try sum9(1, 2, 3.5, 4.25, 5, 6, 7, 8, -9), 27.75)
        XCTAssertEqual(try instance.function("sum9")!.type.parameters.count, 9)

        XCTAssertEqual(Value(Int32(-1)), .i32(0xffff_ffff))
        XCTAssertEqual(Value(UInt64.max), Value(Int64(-1)))
        XCTAssertEqual(Value(Float.nan).f32?.isNaN, true)
        XCTAssertEqual(Int32.wasmType, .i32)
        XCTAssertEqual(Function?.wasmType, .ref(.funcRef))
        XCTAssertEqual(ExternRef?.wasmType, .ref(.externRef))
        guard case .function(let type)? = instance.export("sum9")?.type else { return XCTFail("no function type") }
        XCTAssertEqual(type.results, [.f64])
    }

    // MARK: 6. Re-entrancy

    func testReentrantTrapSurfacesInHostFunction() throws {
        final class State: @unchecked Sendable {
            var rethrow = false
            var seen: [String] = []
        }
        let state = State()
        let store = Store(engine: engine)
        store.userData = state
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "callback") { (caller: Caller, x: Int32) throws -> Int32 in
            let state = caller.userData as! State
            let inner = try caller.instance!.typedFunction("inner", Int32.self, Int32.self)
            do {
                return try inner(x) + 1
            } catch let trap as Trap {
                state.seen.append(trap.message)
                if state.rethrow { throw trap }
                return -1
            }
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "callback" (func $callback (param i32) (result i32)))
              (func (export "outer") (param i32) (result i32) (call $callback (local.get 0)))
              (func (export "inner") (param i32) (result i32)
                (if (local.get 0) (then (unreachable)))
                (i32.const 41)))
            """#), store: store)
        let outer = try instance.typedFunction("outer", Int32.self, Int32.self)
        XCTAssertEqual(try outer(0), 42)
        XCTAssertEqual(try outer(1), -1, "the host function caught the inner trap")
        XCTAssertEqual(state.seen, ["unreachable"])

        state.rethrow = true
        do {
            _ = try outer(1)
            XCTFail("expected the inner trap")
        } catch let trap as Trap {
            XCTAssertEqual(trap.reason, .unreachable)
            XCTAssertEqual(trap.backtrace.first?.functionName, "inner")
        }
        XCTAssertEqual(state.seen, ["unreachable", "unreachable"])
        XCTAssertEqual(try outer(0), 42, "the store works after the trap")
        XCTAssertEqual(try instance.typedFunction("inner", Int32.self, Int32.self)(0), 41)
    }

    func testUnboundedRecursionThroughHost() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "again") { (caller: Caller, depth: Int32) throws -> Int32 in
            let down = try caller.instance!.typedFunction("down", Int32.self, Int32.self)
            return try down(depth + 1)
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "again" (func $again (param i32) (result i32)))
              (func (export "down") (param i32) (result i32) (call $again (local.get 0))))
            """#), store: store)
        let down = try instance.typedFunction("down", Int32.self, Int32.self)
        XCTAssertEqual(trapReason { _ = try down(0) }, .callStackExhausted)
        XCTAssertEqual(trapReason { _ = try down(0) }, .callStackExhausted)
        XCTAssertEqual(try instance.typedFunction("down", Int32.self, Int32.self).type.results, [.i32])
    }

    func testStoreUsableAfterTraps() throws {
        let store = Store(engine: engine)
        let instance = try Linker(engine: engine).instantiate(try module(#"""
            (module
              (memory (export "memory") 1)
              (func $recurse (export "recurse") (param i32) (result i32) (call $recurse (i32.add (local.get 0) (i32.const 1))))
              (func (export "oob") (result i32) (i32.load (i32.const 70000)))
              (func (export "write") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
              (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))
            """#), store: store)
        let recurse = try instance.typedFunction("recurse", Int32.self, Int32.self)
        let oob = try instance.typedFunction("oob", Void.self, Int32.self)
        let div = try instance.typedFunction("div", (Int32, Int32).self, Int32.self)
        for _ in 0..<3 {
            XCTAssertEqual(trapReason { _ = try recurse(0) }, .callStackExhausted)
            XCTAssertEqual(trapReason { _ = try oob() }, .memoryOutOfBounds)
            XCTAssertEqual(trapReason { _ = try div(1, 0) }, .integerDivideByZero)
            XCTAssertEqual(trapReason { _ = try div(Int32.min, -1) }, .integerOverflow)
            XCTAssertEqual(try div(9, 3), 3)
        }
        do {
            _ = try recurse(0)
        } catch let trap as Trap {
            XCTAssertTrue(trap.description.contains("recurse"), trap.description)
        }
    }

    // MARK: Memory and globals

    func testMemoryFromHost() throws {
        let store = Store(engine: engine)
        let memory = try Memory(store: store, minimum: 1, maximum: 3)
        let linker = Linker(engine: engine)
        linker.define(module: "env", name: "memory", memory)
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "env" "memory" (memory 1 3))
              (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
              (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
              (func (export "size") (result i32) (memory.size))
              (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
            """#), store: store)
        let load = try instance.typedFunction("load", Int32.self, Int32.self)
        let storeByte = try instance.typedFunction("store", (Int32, Int32).self, Void.self)
        let size = try instance.typedFunction("size", Void.self, Int32.self)
        XCTAssertEqual(memory.pages, 1)
        XCTAssertEqual(memory.byteCount, 65536)
        try memory.write([1, 2, 3], at: 100)
        XCTAssertEqual(try load(101), 2)
        try storeByte(200, 77)
        XCTAssertEqual(try memory.read(at: 200, count: 1), [77])
        memory.withUnsafeBytes { XCTAssertEqual($0[200], 77) }
        memory.withUnsafeMutableBytes { $0[300] = 9 }
        XCTAssertEqual(try load(300), 9)
        XCTAssertThrowsError(try memory.read(at: 65535, count: 2))
        XCTAssertThrowsError(try memory.write([1, 2], at: 65535))
        XCTAssertThrowsError(try memory.read(at: -1, count: 1))

        XCTAssertEqual(memory.grow(by: 1), 1)
        XCTAssertEqual(try size(), 2)
        XCTAssertEqual(try instance.typedFunction("grow", Int32.self, Int32.self)(1), 2)
        XCTAssertEqual(memory.pages, 3)
        XCTAssertNil(memory.grow(by: 1), "max is 3")
        try memory.write([5], at: 3 * 65536 - 1)
        XCTAssertEqual(try load(3 * 65536 - 1), 5)
        XCTAssertEqual(memory.type, MemoryType(min: 3, max: 3))

        // An exported memory is the same memory.
        let exporter = try Linker(engine: engine).instantiate(try module(#"""
            (module (memory (export "mem") 2) (data (i32.const 0) "kiln"))
            """#), store: store)
        let exported = try XCTUnwrap(exporter.memory("mem"))
        XCTAssertEqual(try exported.read(at: 0, count: 4), Array("kiln".utf8))
        XCTAssertEqual(exported.pages, 2)
        XCTAssertEqual(exported.maximumPages, 65536)
    }

    func testGlobals() throws {
        let store = Store(engine: engine)
        let counter = try Global(store: store, value: .i32(5), mutable: true)
        let constant = try Global(store: store, value: Value(2.5))
        let linker = Linker(engine: engine)
        linker.define(module: "env", name: "counter", counter)
        linker.define(module: "env", name: "constant", constant)
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "env" "counter" (global $counter (mut i32)))
              (import "env" "constant" (global $constant f64))
              (global $own (export "own") (mut i64) (i64.const 7))
              (func (export "bump") (global.set $counter (i32.add (global.get $counter) (i32.const 1))))
              (func (export "constant") (result f64) (global.get $constant)))
            """#), store: store)
        try instance.typedFunction("bump", Void.self, Void.self)()
        XCTAssertEqual(counter.value, .i32(6))
        try counter.set(.i32(100))
        try instance.typedFunction("bump", Void.self, Void.self)()
        XCTAssertEqual(counter.value.i32, 101)
        XCTAssertEqual(try instance.typedFunction("constant", Void.self, Double.self)(), 2.5)
        XCTAssertFalse(constant.isMutable)
        XCTAssertThrowsError(try constant.set(Value(1.0))) { error in
            guard case KilnError.invalidOperation = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try counter.set(.i64(1))) { error in
            guard case KilnError.typeMismatch = error else { return XCTFail("\(error)") }
        }
        let own = try XCTUnwrap(instance.global("own"))
        XCTAssertEqual(own.value, .i64(7))
        try own.set(.i64(8))
        XCTAssertEqual(own.value, .i64(8))
    }

    // MARK: Linking errors

    func testUnlinkableMessages() throws {
        let store = Store(engine: engine)
        let importer = try module(#"""
            (module
              (import "env" "f" (func (param i32) (result i32)))
              (import "env" "t" (table 10 20 funcref))
              (import "env" "m" (memory 2 4))
              (import "env" "g" (global (mut i32))))
            """#)
        func message(_ configure: (Linker) throws -> Void) throws -> String {
            let linker = Linker(engine: engine)
            linker.defineFunction(module: "env", name: "f") { (x: Int32) -> Int32 in x }
            linker.define(module: "env", name: "t", try Table(store: store, elementType: .funcRef, minimum: 10, maximum: 20))
            linker.define(module: "env", name: "m", try Memory(store: store, minimum: 2, maximum: 4))
            linker.define(module: "env", name: "g", try Global(store: store, value: .i32(0), mutable: true))
            try configure(linker)
            do {
                _ = try linker.instantiate(importer, store: store)
                return "instantiated"
            } catch KilnError.unlinkable(let reason) {
                return reason
            }
        }
        XCTAssertEqual(try message { _ in }, "instantiated")
        XCTAssertEqual(
            try message { $0.define(module: "env", name: "f", try Global(store: store, value: .i32(0))) },
            "incompatible import type for env.f: expected a function, got global i32")
        XCTAssertEqual(
            try message { $0.defineFunction(module: "env", name: "f") { (x: Int64) -> Int32 in 0 } },
            "incompatible import type for env.f: expected function (i32) -> i32, got function (i64) -> i32")
        XCTAssertEqual(
            try message { $0.define(module: "env", name: "t", try Table(store: store, elementType: .funcRef, minimum: 10)) },
            "incompatible import type for env.t: expected table funcref {min 10, max 20}, got table funcref {min 10}")
        XCTAssertEqual(
            try message { $0.define(module: "env", name: "t", try Table(store: store, elementType: .externRef, minimum: 10, maximum: 20)) },
            "incompatible import type for env.t: expected table funcref {min 10, max 20}, got table externref {min 10, max 20}")
        XCTAssertEqual(
            try message { $0.define(module: "env", name: "m", try Memory(store: store, minimum: 1, maximum: 4)) },
            "incompatible import type for env.m: expected memory {min 2, max 4}, got memory {min 1, max 4}")
        XCTAssertEqual(
            try message { $0.define(module: "env", name: "g", try Global(store: store, value: .i32(0))) },
            "incompatible import type for env.g: expected global (mut i32), got global i32")

        let missing = try module(#"(module (import "env" "missing" (func (param i32))))"#)
        XCTAssertThrowsError(try Linker(engine: engine).instantiate(missing, store: store)) { error in
            XCTAssertEqual("\(error)", "unlinkable: unknown import: env.missing (function (i32) -> ()) is not defined")
        }
        // Objects of another store or engine are refused.
        let otherStore = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.define(module: "env", name: "missing", try Function(store: otherStore) { (_: Int32) in })
        XCTAssertThrowsError(try linker.instantiate(missing, store: store)) { error in
            XCTAssertEqual("\(error)", "unlinkable: import env.missing belongs to another store")
        }
        let otherEngine = Engine()
        XCTAssertThrowsError(try Linker(engine: otherEngine).instantiate(try module("(module)"), store: Store(engine: otherEngine))) { error in
            guard case KilnError.invalidOperation = error else { return XCTFail("\(error)") }
        }
    }

    func testLinkerFunctionsAreMadePerStore() throws {
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "env", name: "answer") { () -> Int32 in 42 }
        let code = try module(#"""
            (module (import "env" "answer" (func $answer (result i32))) (func (export "get") (result i32) (call $answer)))
            """#)
        for _ in 0..<2 {
            let store = Store(engine: engine)
            let first = try linker.instantiate(code, store: store)
            let second = try linker.instantiate(code, store: store)
            XCTAssertEqual(try first.typedFunction("get", Void.self, Int32.self)(), 42)
            XCTAssertEqual(try second.typedFunction("get", Void.self, Int32.self)(), 42)
            let a = try XCTUnwrap(linker.lookup(module: "env", name: "answer", store: store)?.function)
            let b = try XCTUnwrap(linker.lookup(module: "env", name: "answer", store: store)?.function)
            XCTAssertEqual(Value(a), Value(b), "one host function per store")
        }
        XCTAssertNil(linker.lookup(module: "env", name: "answer"))
    }

    // MARK: Async

    func testAsyncCallFromTask() async throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        let instance = try await linker.instantiate(try module(#"""
            (module
              (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
              (func (export "trap") (unreachable)))
            """#), store: store)
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        let sum = try await Task { try await add(1, 2) }.value
        XCTAssertEqual(sum, 3)
        let dynamic = try await instance.function("add")!.call([.i32(20), .i32(22)])
        XCTAssertEqual(dynamic, [.i32(42)])
        do {
            try await instance.typedFunction("trap", Void.self, Void.self)()
            XCTFail("expected a trap")
        } catch let trap as Trap {
            XCTAssertEqual(trap.reason, .unreachable)
        }
        // Many concurrent calls into one store are queued, not interleaved.
        let results = try await withThrowingTaskGroup(of: Int32.self) { group in
            for i in 0..<50 { group.addTask { try await add(Int32(i), 1) } }
            return try await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        XCTAssertEqual(results.sorted(), (1...50).map(Int32.init))
    }

    func testAsyncHostFunctions() async throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "slow_double") { (x: Int32) async throws -> Int32 in
            try await Task.sleep(nanoseconds: 1_000_000)
            return x * 2
        }
        // An async host function that calls back into Wasm: the call runs nested on the Wasm
        // thread that waits for it.
        linker.defineFunction(module: "host", name: "via_wasm") { (caller: Caller, x: Int32) async throws -> Int32 in
            let square = try caller.instance!.typedFunction("square", Int32.self, Int32.self)
            await Task.yield()
            return try await square(x) + 1
        }
        linker.defineFunction(module: "host", name: "fail") { () async throws in
            throw Overflow(a: 1, b: 2)
        }
        let instance = try await linker.instantiate(try module(#"""
            (module
              (import "host" "slow_double" (func $slow_double (param i32) (result i32)))
              (import "host" "via_wasm" (func $via_wasm (param i32) (result i32)))
              (import "host" "fail" (func $fail))
              (func (export "square") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
              (func (export "quadruple") (param i32) (result i32) (call $slow_double (call $slow_double (local.get 0))))
              (func (export "square_plus_one") (param i32) (result i32) (call $via_wasm (local.get 0)))
              (func (export "fail") (call $fail)))
            """#), store: store)
        let quadruple = try instance.typedFunction("quadruple", Int32.self, Int32.self)
        let value = try await quadruple(5)
        XCTAssertEqual(value, 20)
        let squarePlusOne = try instance.typedFunction("square_plus_one", Int32.self, Int32.self)
        let squared = try await squarePlusOne(7)
        XCTAssertEqual(squared, 50)
        do {
            try await instance.typedFunction("fail", Void.self, Void.self)()
            XCTFail("expected the host error")
        } catch {
            XCTAssertEqual(error as? Overflow, Overflow(a: 1, b: 2))
        }
        // Called synchronously from a thread that is not in the cooperative pool, it blocks
        // that thread while the closure runs.
        let syncResult = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try Self.callQuadruple(instance) })
            }
            thread.start()
        }
        XCTAssertEqual(syncResult, 12)
    }

    private static func callQuadruple(_ instance: Instance) throws -> Int32 {
        try instance.typedFunction("quadruple", Int32.self, Int32.self)(3)
    }

    // MARK: Overhead

    func testCallOverhead() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.defineFunction(module: "host", name: "add") { (a: Int32, b: Int32) -> Int32 in a &+ b }
        linker.defineFunction(module: "host", name: "add_dynamic", type: FunctionType(parameters: [.i32, .i32], results: [.i32])) {
            _, arguments in [.i32(arguments[0].i32.map { UInt32(bitPattern: $0) }! &+ UInt32(bitPattern: arguments[1].i32!))]
        }
        let instance = try linker.instantiate(try module(#"""
            (module
              (import "host" "add" (func $add (param i32 i32) (result i32)))
              (import "host" "add_dynamic" (func $add_dynamic (param i32 i32) (result i32)))
              (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
              (func (export "nop"))
              (func (export "host_loop") (param $n i32) (result i32) (local $sum i32)
                (block $done (loop $next
                  (br_if $done (i32.eqz (local.get $n)))
                  (local.set $sum (call $add (local.get $sum) (i32.const 1)))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (br $next)))
                (local.get $sum))
              (func (export "dynamic_host_loop") (param $n i32) (result i32) (local $sum i32)
                (block $done (loop $next
                  (br_if $done (i32.eqz (local.get $n)))
                  (local.set $sum (call $add_dynamic (local.get $sum) (i32.const 1)))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (br $next)))
                (local.get $sum)))
            """#), store: store)
        let iterations = ProcessInfo.processInfo.environment["KILN_OVERHEAD_ITERATIONS"].flatMap(Int.init) ?? 200_000
        // Thread CPU time, not wall time: other processes on a loaded machine do not count.
        func cpuNanoseconds() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) * 1e9 + Double(time.tv_nsec)
        }
        func measure(_ label: String, _ count: Int, _ body: () throws -> Void) rethrows {
            try body()  // warm up
            var best = Double.infinity
            for _ in 0..<3 {
                let start = cpuNanoseconds()
                try body()
                best = min(best, cpuNanoseconds() - start)
            }
            print(String(format: "[overhead] %@: %.1f ns/call", label, best / Double(count)))
        }
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        let nop = try instance.typedFunction("nop", Void.self, Void.self)
        let dynamicAdd = try XCTUnwrap(instance.function("add"))
        let hostLoop = try instance.typedFunction("host_loop", Int32.self, Int32.self)
        let dynamicHostLoop = try instance.typedFunction("dynamic_host_loop", Int32.self, Int32.self)
        var sink: Int32 = 0
        try measure("typed call Swift -> Wasm (i32, i32) -> i32", iterations) {
            for i in 0..<iterations { sink &+= try add(Int32(truncatingIfNeeded: i), 1) }
        }
        try measure("typed call Swift -> Wasm () -> ()", iterations) {
            for _ in 0..<iterations { try nop() }
        }
        try measure("dynamic call Swift -> Wasm [Value]", iterations) {
            for i in 0..<iterations { _ = try dynamicAdd.call([.i32(UInt32(truncatingIfNeeded: i)), .i32(1)]) }
        }
        try measure("typed host call Wasm -> Swift", iterations) {
            XCTAssertEqual(try hostLoop(Int32(iterations)), Int32(iterations))
        }
        try measure("dynamic host call Wasm -> Swift", iterations) {
            XCTAssertEqual(try dynamicHostLoop(Int32(iterations)), Int32(iterations))
        }
        XCTAssertNotEqual(sink, -1)
    }
}
