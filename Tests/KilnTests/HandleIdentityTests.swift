import Foundation
import Kiln
import XCTest

/// Handles compare by identity; host misuse throws KilnError; traps that cross host functions
/// keep every Wasm frame.
final class HandleIdentityTests: XCTestCase {
    let engine = Engine()

    func testHandlesAreEqualByIdentity() throws {
        let store = Store(engine: engine)
        let memory = try Memory(store: store, minimum: 1)
        let table = try Table(store: store, elementType: .funcRef, minimum: 2)
        let global = try Global(store: store, value: .i32(7), mutable: true)
        let seen = Counter()
        let host = try Function(store: store, type: FunctionType(parameters: [], results: [])) { caller, _ in
            seen.record(caller.instance)
            return []
        }
        let linker = Linker(engine: engine)
        linker.define(module: "host", name: "memory", memory)
        linker.define(module: "host", name: "table", table)
        linker.define(module: "host", name: "global", global)
        linker.define(module: "host", name: "f", host)
        let instance = try linker.instantiate(try Module(engine: engine, wat: #"""
            (module
              (import "host" "memory" (memory $m 1))
              (import "host" "table" (table $t 2 funcref))
              (import "host" "global" (global $g (mut i32)))
              (import "host" "f" (func $f))
              (func $own (export "own"))
              (export "memory" (memory $m)) (export "table" (table $t)) (export "global" (global $g))
              (export "f" (func $f)) (export "f2" (func $f))
              (elem (i32.const 0) $f $own)
              (func (export "viaImport") (call $f))
              (func (export "viaTable") (call_indirect (i32.const 0))))
            """#), store: store)
        XCTAssertEqual(instance.memory("memory"), memory)
        XCTAssertEqual(instance.table("table"), table)
        XCTAssertEqual(instance.global("global"), global)
        XCTAssertEqual(instance.function("f"), host)
        XCTAssertEqual(instance.function("f"), instance.function("f2"))
        XCTAssertNotEqual(instance.function("own"), host)
        guard case .funcRef(let fromTable?) = table.get(0), case .funcRef(let own?) = table.get(1) else {
            return XCTFail("the element segment did not fill the table")
        }
        XCTAssertEqual(fromTable, host)
        XCTAssertEqual(own, instance.function("own"))
        XCTAssertEqual(Set([memory, instance.memory("memory")!]).count, 1, "hashes agree with ==")
        XCTAssertEqual(Set([host, fromTable, own]).count, 2)
        XCTAssertNotEqual(try Memory(store: store, minimum: 1), memory)

        try instance.function("viaImport")!.call([])
        XCTAssertEqual(seen.instances, [instance], "Caller.instance through an import is the importer")
        try instance.function("viaTable")!.call([])
        XCTAssertEqual(seen.instances, [instance, nil], "through a table there is no calling instance (documented)")
        let other = try Instance(store: store, module: try Module(engine: engine, wat: "(module)"))
        XCTAssertNotEqual(other, instance)
    }

    func testHostMisuseThrowsKilnError() throws {
        let store = Store(engine: engine)
        let memory = try Memory(store: store, minimum: 1)
        for (offset, count) in [(65535, 2), (-1, 1), (0, 65537), (70000, 0)] {
            XCTAssertThrowsError(try memory.read(at: offset, count: count)) { error in
                guard case KilnError.invalidOperation(let reason) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("65536 bytes"), reason)
            }
        }
        XCTAssertThrowsError(try memory.write([1, 2], at: 65535)) { error in
            guard case KilnError.invalidOperation = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try memory.read(at: 65535, count: 1), [0], "nothing was written")
        let table = try Table(store: store, elementType: .externRef, minimum: 3)
        XCTAssertThrowsError(try table.set(3, .externRef(nil))) { error in
            guard case KilnError.invalidOperation(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("3 elements"), reason)
        }
        XCTAssertNil(table.get(3), "get out of range is nil, not a crash")
        XCTAssertNil(table.get(-1))
    }

    func testTrapThroughHostFunctionKeepsOuterFrames() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        let inner = Box()
        let host = try Function(store: store, type: FunctionType(parameters: [], results: [])) { _, _ in
            try inner.function!.call([])  // traps; the error goes through as is
            return []
        }
        linker.define(module: "host", name: "reenter", host)
        let instance = try linker.instantiate(try Module(engine: engine, wat: #"""
            (module
              (import "host" "reenter" (func $reenter))
              (func $boom (export "boom") unreachable)
              (func $middle (call $reenter))
              (func $outer (export "outer") (call $middle)))
            """#), store: store)
        inner.function = instance.function("boom")
        do {
            try instance.function("outer")!.call([])
            XCTFail("no trap")
        } catch let trap as Trap {
            XCTAssertEqual(trap.reason, .unreachable)
            XCTAssertEqual(trap.backtrace.map(\.functionIndex), [1, 2, 3], "boom, then middle and outer: \(trap)")
        }
    }

    final class Counter: @unchecked Sendable {
        var instances: [Instance?] = []
        func record(_ instance: Instance?) { instances.append(instance) }
    }

    final class Box: @unchecked Sendable {
        var function: Function?
    }
}
