import Foundation
import Kiln
import XCTest

/// SIMD lowering cases the spec scripts do not reach: v128 through host functions, imported
/// globals and multi-value calls, stores that straddle the end of memory, and statement results
/// written into a slot that a pending expression below still reads.
final class SIMDTests: XCTestCase {
    let engine = Engine()

    private func v128(_ lanes: [UInt32]) -> Value {
        .v128(lanes.flatMap { lane in (0..<4).map { UInt8(truncatingIfNeeded: lane >> (8 * $0)) } })
    }

    private func instantiate(_ wat: String, linker: Linker? = nil, store: Store) throws -> Instance {
        try (linker ?? Linker(engine: engine)).instantiate(try Module(engine: engine, wat: wat), store: store)
    }

    func testStatementResultDoesNotClobberPendingExpression() throws {
        let store = Store(engine: engine)
        let instance = try instantiate(#"""
            (module
              (func $ten (result i32) (i32.const 10))
              (func $vec (result v128) (v128.const i32x4 1 2 3 4))
              ;; (l0 + call) folds the call's slot into a pending expression; the division then
              ;; writes its result to that slot.
              (func (export "scalar") (param i32) (result i32)
                (i32.add (local.get 0) (call $ten))
                (i32.div_u (i32.const 7) (local.get 0))
                (i32.add))
              (func (export "vector") (param v128) (result i32)
                (i32.add (i32x4.extract_lane 0 (local.get 0)) (i32x4.extract_lane 1 (call $vec)))
                (i32x4.extract_lane 2 (i32x4.add (local.get 0) (local.get 0)))
                (i32.add))
              (memory 1)
              (data (i32.const 4) "\aa\bb\cc\dd")
              ;; The address is a lane of the vector in the slot the lane load writes.
              (func (export "lane") (param v128 v128) (result v128)
                (v128.load32_lane 1 (i32x4.extract_lane 0 (i32x4.add (local.get 0) (local.get 0))) (local.get 1))))
            """#, store: store)
        XCTAssertEqual(try instance.function("scalar")?.call([.i32(1)]), [.i32(18)])
        XCTAssertEqual(try instance.function("vector")?.call([v128([1, 1, 1, 1])]), [.i32(5)])
        XCTAssertEqual(try instance.function("lane")?.call([v128([2, 0, 0, 0]), v128([9, 9, 9, 9])]),
                       [v128([9, 0xddcc_bbaa, 9, 9])])
    }

    func testV128AcrossBoundaries() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        let swap = try Function(store: store, type: FunctionType(parameters: [.v128, .i32, .v128], results: [.v128, .i32, .v128])) { _, arguments in
            [arguments[2], arguments[1], arguments[0]]
        }
        linker.define(module: "host", name: "swap", .function(swap))
        let global = try Global(store: store, type: GlobalType(mutability: .variable, valueType: .v128), value: v128([5, 6, 7, 8]))
        linker.define(module: "host", name: "g", .global(global))
        let instance = try instantiate(#"""
            (module
              (import "host" "swap" (func $swap (param v128 i32 v128) (result v128 i32 v128)))
              (import "host" "g" (global $g (mut v128)))
              (type $t (func (param v128 i32 v128) (result v128 i32 v128)))
              (table funcref (elem $swap))
              (func (export "direct") (param v128 v128) (result v128 i32 v128)
                (call $swap (local.get 0) (i32.const 5) (local.get 1)))
              (func (export "indirect") (param v128 v128) (result v128 i32 v128)
                (call_indirect (type $t) (local.get 0) (i32.const 6) (local.get 1) (i32.const 0)))
              (func (export "bump") (result v128)
                (global.set $g (i32x4.add (global.get $g) (v128.const i32x4 1 1 1 1)))
                (global.get $g))
              (func (export "select") (param v128 v128 i32) (result v128)
                (select (local.get 0) (local.get 1) (local.get 2))))
            """#, linker: linker, store: store)
        let a = v128([1, 2, 3, 4]), b = v128([5, 6, 7, 8])
        XCTAssertEqual(try instance.function("direct")?.call([a, b]), [b, .i32(5), a])
        XCTAssertEqual(try instance.function("indirect")?.call([a, b]), [b, .i32(6), a])
        XCTAssertEqual(try instance.function("bump")?.call([]), [v128([6, 7, 8, 9])])
        XCTAssertEqual(global.value, v128([6, 7, 8, 9]))
        XCTAssertEqual(try instance.function("select")?.call([a, b, .i32(0)]), [b])
        XCTAssertEqual(try instance.function("select")?.call([a, b, .i32(1)]), [a])
    }

    func testStraddlingStoreTrapsAndWritesNothing() throws {
        let store = Store(engine: engine)
        let instance = try instantiate(#"""
            (module
              (memory (export "memory") 1)
              (func (export "store") (param i32) (v128.store (local.get 0) (v128.const i64x2 -1 -1)))
              (func (export "load") (param i32) (result v128) (v128.load (local.get 0)))
              (func (export "extend") (param i32) (result v128) (v128.load32x2_u (local.get 0))))
            """#, store: store)
        for address: UInt32 in [65521, 65528, 65535, 65536] {
            XCTAssertThrowsError(try instance.function("store")?.call([.i32(address)])) { error in
                XCTAssertEqual((error as? Trap)?.reason, .memoryOutOfBounds)
            }
            XCTAssertThrowsError(try instance.function("load")?.call([.i32(address)]))
        }
        XCTAssertEqual(try instance.memory("memory")?.read(at: 65520, count: 16), Array(repeating: 0, count: 16))
        XCTAssertThrowsError(try instance.function("extend")?.call([.i32(65529)]))
        XCTAssertEqual(try instance.function("extend")?.call([.i32(65528)]), [v128([0, 0, 0, 0])])
        XCTAssertNoThrow(try instance.function("store")?.call([.i32(65520)]))
        XCTAssertEqual(try instance.memory("memory")?.read(at: 65520, count: 16), Array(repeating: 0xff, count: 16))
    }
}
