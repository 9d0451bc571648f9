import Foundation
import XCTest

@testable import Kiln

/// The GC heap and collector: bounded memory under churn, large live structures, cycles, the
/// heap limit, and what keeps objects alive (Swift handles, globals, tables).
final class GCTests: XCTestCase {
    /// Resident set size of this process in bytes (/proc/self/statm).
    static func residentBytes() -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = UInt64(fields[1]) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    private func instance(_ wat: String, configuration: EngineConfiguration = EngineConfiguration(),
                          imports: (Store) throws -> [Extern] = { _ in [] }) throws -> (Store, Instance) {
        let engine = Engine(configuration: configuration)
        let module = try Module(engine: engine, wat: wat)
        let store = Store(engine: engine)
        return (store, try Instance(store: store, module: module, imports: imports(store)))
    }

    /// 10 GiB allocated in 1 KiB arrays, 16 of them live at a time: RSS stays bounded.
    func testTenGigabytesOfShortLivedObjectsStayWithinBoundedMemory() throws {
        final class Peak: @unchecked Sendable { var bytes: UInt64 = 0 }
        let peak = Peak()
        let (store, instance) = try instance("""
            (module
              (type $a (array (mut i64)))
              (type $ring (array (mut (ref null $a))))
              (import "env" "sample" (func $sample))
              (func (export "churn") (param $n i32)
                (local $i i32) (local $ring (ref $ring))
                (local.set $ring (array.new_default $ring (i32.const 16)))
                (loop $l
                  (array.set $ring (local.get $ring) (i32.and (local.get $i) (i32.const 15))
                    (array.new $a (i64.extend_i32_u (local.get $i)) (i32.const 126)))
                  (if (i32.eqz (i32.and (local.get $i) (i32.const 0xffff))) (then (call $sample)))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))
            """) { store in
            [.function(try Function(store: store) { peak.bytes = max(peak.bytes, Self.residentBytes()) })]
        }
        let before = Self.residentBytes()
        let churn = try XCTUnwrap(instance.function("churn"))
        // 126 i64s + 16 bytes of header and length: 1024 bytes each.
        let count = (10 << 30) / 1024
        _ = try churn.call([.i32(UInt32(count))])
        let statistics = store.gcStatistics
        XCTAssertGreaterThanOrEqual(statistics.allocatedBytes, 10 << 30)
        XCTAssertGreaterThan(statistics.collections, 100)
        let growth = peak.bytes - min(before, peak.bytes)
        XCTAssertLessThan(growth, 300 << 20, "RSS grew by \(growth >> 20) MiB")
        XCTAssertLessThan(statistics.heapBytes, 64 << 20)
    }

    private let nodes = """
            (module
              (type $node (struct (field i32) (field (ref null $node))))
              (global $head (mut (ref null $node)) (ref.null $node))
              (func (export "build") (param $n i32)
                (local $i i32)
                (loop $l
                  (global.set $head (struct.new $node (local.get $i) (global.get $head)))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
              ;; The list only in a local (a register, under an optimizer) until the end.
              (func (export "build_local") (param $n i32)
                (local $i i32) (local $p (ref null $node))
                (loop $l
                  (local.set $p (struct.new $node (local.get $i) (local.get $p)))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
                (global.set $head (local.get $p)))
              (func (export "check") (result i64 i32)
                (local $p (ref null $node)) (local $sum i64) (local $count i32) (local $expect i32)
                (local.set $p (global.get $head))
                (local.set $expect (i32.const -1))
                (block $done
                  (loop $l
                    (br_if $done (ref.is_null (local.get $p)))
                    ;; values run n-1, n-2, ..., 0: each one less than the last
                    (if (i32.and (i32.ne (local.get $expect) (i32.const -1))
                                 (i32.ne (struct.get $node 0 (local.get $p)) (i32.sub (local.get $expect) (i32.const 1))))
                      (then (return (i64.const -1) (local.get $count))))
                    (local.set $expect (struct.get $node 0 (local.get $p)))
                    (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (local.get $expect))))
                    (local.set $count (i32.add (local.get $count) (i32.const 1)))
                    (local.set $p (struct.get $node 1 (local.get $p)))
                    (br $l)))
                (local.get $sum) (local.get $count)))
        """

    /// 10 million live nodes survive the collections their own allocation triggers, intact.
    func testTenMillionLiveNodesSurviveCollections() throws {
        let (store, instance) = try instance(nodes)
        let n: UInt64 = 10_000_000
        _ = try XCTUnwrap(instance.function("build")).call([.i32(UInt32(n))])
        XCTAssertGreaterThan(store.gcStatistics.collections, 3)
        store.collectGarbage()
        XCTAssertEqual(try XCTUnwrap(instance.function("check")).call([]), [.i64(n * (n - 1) / 2), .i32(UInt32(n))])
    }

    /// The optimized tier (clang) may keep references in callee-saved registers across an
    /// allocation: the collector spills them before scanning.
    func testOptimizedTierKeepsReferencesInRegistersAlive() throws {
        guard OptimizingCompiler.locate(configured: nil) != nil else { throw XCTSkip("no optimizing C compiler") }
        var configuration = EngineConfiguration()
        configuration.tier = .optimized
        configuration.cacheOptimizedCode = false
        let engine = Engine(configuration: configuration)
        let module = try Module(engine: engine, wat: nodes)
        XCTAssertEqual(module.tier, .optimized, module.tierNote ?? "")
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: module)
        let n: UInt64 = 2_000_000
        _ = try XCTUnwrap(instance.function("build_local")).call([.i32(UInt32(n))])
        XCTAssertGreaterThanOrEqual(store.gcStatistics.collections, 2)
        XCTAssertEqual(try XCTUnwrap(instance.function("check")).call([]), [.i64(n * (n - 1) / 2), .i32(UInt32(n))])
    }

    private let cycles = """
        (module
          (type $pair (struct (field (mut (ref null $pair))) (field i64)))
          (global $keep (mut (ref null $pair)) (ref.null $pair))
          (func (export "cycles") (param $n i32)
            (local $a (ref $pair)) (local $b (ref $pair))
            (loop $l
              (local.set $a (struct.new $pair (ref.null $pair) (i64.const 1)))
              (local.set $b (struct.new $pair (local.get $a) (i64.const 2)))
              (struct.set $pair 0 (local.get $a) (local.get $b))
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br_if $l (local.get $n))))
          (func (export "keep") (param $n i32) (result (ref $pair))
            (local $list (ref null $pair))
            (loop $l
              (local.set $list (struct.new $pair (local.get $list) (i64.extend_i32_u (local.get $n))))
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br_if $l (local.get $n)))
            (ref.as_non_null (local.get $list)))
          (func (export "make") (param i64) (result (ref $pair)) (struct.new $pair (ref.null $pair) (local.get 0)))
          (func (export "store") (param i64) (global.set $keep (struct.new $pair (ref.null $pair) (local.get 0))))
          (func (export "load") (result i64) (struct.get $pair 1 (ref.as_non_null (global.get $keep)))))
        """

    /// Pairs that point at each other and at nothing else are freed.
    func testCyclesAreCollected() throws {
        let (store, instance) = try instance(cycles)
        _ = try XCTUnwrap(instance.function("cycles")).call([.i32(2_000_000)])
        XCTAssertGreaterThan(store.gcStatistics.collections, 0)
        store.collectGarbage()
        XCTAssertLessThan(store.gcStatistics.bytesInUse, 1 << 20)
    }

    /// Past the heap limit an allocation traps; the store stays usable and the garbage of the
    /// trapped call is collected.
    func testHeapLimitTrapsCleanlyAndTheStoreStaysUsable() throws {
        var configuration = EngineConfiguration()
        configuration.gcHeapLimit = 16 << 20
        let (store, instance) = try instance(cycles, configuration: configuration)
        let keep = try XCTUnwrap(instance.function("keep"))
        XCTAssertThrowsError(try keep.call([.i32(10_000_000)])) { error in
            XCTAssertEqual((error as? Trap)?.reason, .gcHeapExhausted, "\(error)")
        }
        // Within the limit after the trap: the list is garbage now.
        let result = try keep.call([.i32(100_000)])
        guard case .anyRef(let list)? = result.first, let list else { return XCTFail("\(result)") }
        XCTAssertEqual(list.field(1), .i64(1))
        XCTAssertLessThanOrEqual(store.gcStatistics.bytesInUse, 16 << 20)
    }

    /// An object only a Swift handle holds survives collections that reuse freed memory.
    func testObjectsHeldBySwiftHandlesSurvive() throws {
        let (store, instance) = try instance(cycles)
        let make = try XCTUnwrap(instance.function("make"))
        guard case .anyRef(let held)? = try make.call([.i64(42)]).first, let held else { return XCTFail("no object") }
        XCTAssertTrue(held.isStruct)
        // Garbage of the same size class, several collections' worth.
        _ = try XCTUnwrap(instance.function("cycles")).call([.i32(1_000_000)])
        store.collectGarbage()
        XCTAssertEqual(held.field(1), .i64(42))
        XCTAssertEqual(held.field(0), .anyRef(nil))
        // Handed back to Wasm, it is the same object.
        let identity = try Module(engine: store.engine, wat: """
            (module (func (export "same") (param anyref anyref) (result i32)
              (ref.eq (ref.cast eqref (local.get 0)) (ref.cast eqref (local.get 1)))))
            """)
        let same = try XCTUnwrap(try Instance(store: store, module: identity).function("same"))
        XCTAssertEqual(try same.call([.anyRef(held), .anyRef(held)]), [.i32(1)])
        // Typed calls take and return AnyRef? too.
        let typedSame = try Instance(store: store, module: identity).typedFunction("same", (AnyRef?, AnyRef?).self, Int32.self)
        XCTAssertEqual(try typedSame(held, AnyRef(i31: 5)), 0)
        let typedMake = try instance.typedFunction("make", Int64.self, AnyRef?.self)
        XCTAssertEqual(try typedMake(9)?.field(1), .i64(9))
    }

    /// With fuel metering, array allocations and bulk operations pay for their element count.
    func testArrayOperationsPayFuelByLength() throws {
        var configuration = EngineConfiguration()
        configuration.consumeFuel = true
        let (store, instance) = try instance("""
            (module
              (type $a (array (mut i32)))
              (func (export "fill") (param $n i32) (result i32)
                (local $x (ref $a))
                (local.set $x (array.new $a (i32.const 1) (local.get $n)))
                (array.fill $a (local.get $x) (i32.const 0) (i32.const 7) (local.get $n))
                (array.get $a (local.get $x) (i32.sub (local.get $n) (i32.const 1)))))
            """, configuration: configuration)
        let fill = try XCTUnwrap(instance.function("fill"))
        store.fuel = 1000
        XCTAssertEqual(try fill.call([.i32(100)]), [.i32(7)])
        store.fuel = 1000
        XCTAssertThrowsError(try fill.call([.i32(1_000_000)])) { error in
            XCTAssertEqual((error as? Trap)?.reason, .outOfFuel, "\(error)")
        }
    }

    /// An object only a global or a table holds survives.
    func testObjectsInGlobalsAndTablesSurvive() throws {
        let (store, instance) = try instance("""
            (module
              (type $box (struct (field i64)))
              (table $t 4 anyref)
              (global $g (mut (ref null $box)) (ref.null $box))
              (func (export "fill")
                (global.set $g (struct.new $box (i64.const 7)))
                (table.set $t (i32.const 2) (struct.new $box (i64.const 9))))
              (func (export "churn") (param $n i32)
                (loop $l
                  (drop (struct.new $box (i64.extend_i32_u (local.get $n))))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (br_if $l (local.get $n))))
              (func (export "read") (result i64 i64)
                (struct.get $box 0 (ref.as_non_null (global.get $g)))
                (struct.get $box 0 (ref.cast (ref $box) (table.get $t (i32.const 2))))))
            """)
        _ = try XCTUnwrap(instance.function("fill")).call([])
        _ = try XCTUnwrap(instance.function("churn")).call([.i32(2_000_000)])
        store.collectGarbage()
        XCTAssertGreaterThan(store.gcStatistics.collections, 1)
        XCTAssertEqual(try XCTUnwrap(instance.function("read")).call([]), [.i64(7), .i64(9)])
    }
}
