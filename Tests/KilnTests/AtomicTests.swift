import Foundation
import Kiln
import XCTest

/// Atomic instructions on unshared memories (single-threaded builds of C++ programs use them):
/// plain accesses after the alignment check.
final class AtomicTests: XCTestCase {
    let engine = Engine()

    func testReadModifyWriteAndAlignment() throws {
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: #"""
            (module
              (memory 1)
              (func (export "add") (param i32 i32) (result i32) (i32.atomic.rmw.add (local.get 0) (local.get 1)))
              (func (export "sub8") (param i32 i32) (result i32) (i32.atomic.rmw8.sub_u (local.get 0) (local.get 1)))
              (func (export "cmpxchg") (param i32 i64 i64) (result i64)
                (i64.atomic.rmw.cmpxchg (local.get 0) (local.get 1) (local.get 2)))
              (func (export "load") (param i32) (result i32) (i32.atomic.load (local.get 0)))
              (func (export "store") (param i32 i32) (i32.atomic.store (local.get 0) (local.get 1)))
              (func (export "notify") (param i32) (result i32) (memory.atomic.notify (local.get 0) (i32.const 1)))
              (func (export "wait") (param i32) (result i32) (memory.atomic.wait32 (local.get 0) (i32.const 0) (i64.const 0)))
              (func (export "fence") (atomic.fence)))
            """#))
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        let load = try instance.typedFunction("load", Int32.self, Int32.self)
        XCTAssertEqual(try add(8, 5), 0, "returns the old value")
        XCTAssertEqual(try add(8, 5), 5)
        XCTAssertEqual(try load(8), 10)
        try instance.function("store")!.call([.i32(16), .i32(3)])
        let sub8 = try instance.typedFunction("sub8", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try sub8(16, 5), 3)
        XCTAssertEqual(try load(16), 0xFE, "an 8-bit wrap leaves the other bytes alone")
        let cmpxchg = try instance.typedFunction("cmpxchg", (Int32, Int64, Int64).self, Int64.self)
        XCTAssertEqual(try cmpxchg(24, 1, 9), 0, "no swap: 0 != 1")
        XCTAssertEqual(try cmpxchg(24, 0, 9), 0)
        XCTAssertEqual(try cmpxchg(24, 9, 4), 9)
        XCTAssertEqual(try instance.typedFunction("notify", Int32.self, Int32.self)(0), 0)
        try instance.function("fence")!.call([])

        func reason(_ body: () throws -> Void) -> TrapReason? {
            do { try body(); return nil } catch let trap as Trap { return trap.reason } catch { return nil }
        }
        XCTAssertEqual(reason { _ = try add(2, 1) }, .unalignedAtomic)
        XCTAssertEqual(reason { _ = try load(65536) }, .memoryOutOfBounds)
        XCTAssertEqual(reason { _ = try instance.typedFunction("wait", Int32.self, Int32.self)(0) }, .expectedSharedMemory)
    }

    /// Found by scripts/mutate.py: an imported shared table (shared-everything threads).
    func testSharedTablesAreUnsupported() {
        let hex = "0061736d0100000002250111746573742d7461626c652d31302d696e660c7461626c652d31302d7b6e660170030a14"
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        XCTAssertThrowsError(try Module.validate(engine: engine, bytes: bytes)) { error in
            guard case KilnError.unsupported(let feature) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(feature.contains("shared table"), feature)
        }
    }

    func testSharedMemoriesAreUnsupported() {
        XCTAssertThrowsError(try Module(engine: engine, wat: "(module (memory 1 1 shared))")) { error in
            guard case KilnError.unsupported(let feature) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(feature.contains("shared memory"), feature)
        }
    }
}
