import Foundation
import Kiln
import XCTest

/// Wasm 3.0 features beyond the spec scripts' reach: multi-memory, memory64 and table64,
/// relaxed SIMD's documented results, extended constant expressions.
final class MemoryFeaturesTests: XCTestCase {
    let engine = Engine()

    private func instantiate(_ wat: String, linker: Linker? = nil, store: Store) throws -> Instance {
        try (linker ?? Linker(engine: engine)).instantiate(try Module(engine: engine, wat: wat), store: store)
    }


    private func call(_ instance: Instance, _ name: String, _ arguments: [Value] = []) throws -> [Value] {
        guard let function = instance.function(name) else { throw KilnError.invalidOperation(reason: "no export \(name)") }
        return try function.call(arguments)
    }

    // MARK: - Multi-memory

    func testMemoriesAreIndependent() throws {
        let store = Store(engine: engine)
        let host = try Memory(store: store, minimum: 1, maximum: 2)
        try host.write([7, 0, 0, 0], at: 8)
        let linker = Linker(engine: engine)
        linker.define(module: "env", name: "mem", .memory(host))
        let instance = try instantiate(#"""
            (module
              (import "env" "mem" (memory $h 1 2))
              (memory $a (export "a") 1)
              (memory $b (export "b") 2 3)
              (data (memory $b) (i32.const 16) "\2a")
              (func (export "store") (param i32 i32 i32)
                (i32.store $a (local.get 0) (local.get 1))
                (i32.store $b (local.get 0) (local.get 2)))
              (func (export "load") (param i32) (result i32 i32 i32)
                (i32.load $h (local.get 0)) (i32.load $a (local.get 0)) (i32.load $b (local.get 0)))
              (func (export "sizes") (result i32 i32 i32)
                (memory.size $h) (memory.size $a) (memory.size $b))
              (func (export "grow_b") (param i32) (result i32) (memory.grow $b (local.get 0)))
              (func (export "copy_b_to_a") (param i32 i32 i32) (memory.copy $a $b (local.get 0) (local.get 1) (local.get 2)))
              (func (export "fill_h") (param i32 i32 i32) (memory.fill $h (local.get 0) (local.get 1) (local.get 2)))
              (func (export "load8") (param i32) (result i32 i32 i32)
                (i32.load8_u $h (local.get 0)) (i32.load8_u $a (local.get 0)) (i32.load8_u $b (local.get 0)))
              (func (export "store_b_far") (param i32) (i32.store8 $b (local.get 0) (i32.const 1))))
            """#, linker: linker, store: store)

        try _ = call(instance, "store", [.i32(8), .i32(100), .i32(200)])
        XCTAssertEqual(try call(instance, "load", [.i32(8)]), [.i32(7), .i32(100), .i32(200)])
        XCTAssertEqual(try call(instance, "load8", [.i32(16)]), [.i32(0), .i32(0), .i32(42)])
        XCTAssertEqual(try call(instance, "sizes"), [.i32(1), .i32(1), .i32(2)])

        // memory.copy between two memories, memory.fill of the imported one.
        try _ = call(instance, "copy_b_to_a", [.i32(100), .i32(8), .i32(9)])
        XCTAssertEqual(try call(instance, "load", [.i32(100)]), [.i32(0), .i32(200), .i32(0)])
        XCTAssertEqual(try call(instance, "load8", [.i32(108)]), [.i32(0), .i32(42), .i32(0)])
        try _ = call(instance, "fill_h", [.i32(0), .i32(0xab), .i32(4)])
        XCTAssertEqual(try host.read(at: 0, count: 5), [0xab, 0xab, 0xab, 0xab, 0])

        // Bounds are per memory: memory b has two pages, a one.
        try _ = call(instance, "store_b_far", [.i32(65536 + 5)])
        XCTAssertEqual(try instance.memory("b")!.read(at: 65536 + 5, count: 1), [1])
        XCTAssertEqual(trapReason { _ = try call(instance, "load", [.i32(65536)]) }, .memoryOutOfBounds)
        // 64 KiB from b at 64 KiB fits b (two pages) and a; one byte further does not fit b.
        try _ = call(instance, "copy_b_to_a", [.i32(0), .i32(65536), .i32(65536)])
        XCTAssertEqual(trapReason { _ = try call(instance, "copy_b_to_a", [.i32(0), .i32(65537), .i32(65536)]) }, .memoryOutOfBounds)

        // Growth is per memory too, within each one's maximum.
        XCTAssertEqual(try call(instance, "grow_b", [.i32(1)]), [.i32(2)])
        XCTAssertEqual(try call(instance, "grow_b", [.i32(1)]), [.i32(UInt32.max)])
        XCTAssertEqual(try call(instance, "sizes"), [.i32(1), .i32(1), .i32(3)])
        XCTAssertEqual(instance.memory("b")!.pages, 3)
        XCTAssertEqual(instance.memory("a")!.pages, 1)
    }

    // MARK: - memory64

    private let memory64Module = #"""
        (module
          (memory (export "mem") i64 1 70000)
          (data (i64.const 0x20) "\01\02\03\04\05\06\07\08")
          (func (export "load") (param i64) (result i64) (i64.load (local.get 0)))
          (func (export "load_off") (param i64) (result i32) (i32.load8_u offset=0xffff (local.get 0)))
          (func (export "store") (param i64 i64) (i64.store (local.get 0) (local.get 1)))
          (func (export "v128") (param i64) (result i64) (i64x2.extract_lane 0 (v128.load (local.get 0))))
          (func (export "size") (result i64) (memory.size))
          (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
          (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
          (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
          ;; An address local checked once is checked again after it is written, and where paths join.
          (func (export "rewrite") (param i64 i64) (result i64)
            (drop (i64.load (local.get 0)))
            (local.set 0 (local.get 1))
            (drop (i64.load (local.get 0)))
            (i64.load (local.tee 0 (i64.add (local.get 0) (local.get 0)))))
          (func (export "join") (param i64 i32) (result i64)
            (if (local.get 1) (then (drop (i64.load (local.get 0)))))
            (i64.load (local.get 0))))
        """#

    func testMemory64LoadsStoresAndBounds() throws {
        let store = Store(engine: engine)
        let instance = try instantiate(memory64Module, store: store)
        XCTAssertEqual(try call(instance, "load", [.i64(0x20)]), [.i64(0x0807_0605_0403_0201)])
        try _ = call(instance, "store", [.i64(65528), .i64(0x1122_3344_5566_7788)])
        XCTAssertEqual(try call(instance, "load", [.i64(65528)]), [.i64(0x1122_3344_5566_7788)])
        XCTAssertEqual(try call(instance, "load_off", [.i64(0)]), [.i32(0x11)])

        // Past the end, within and beyond 32 bits, and with offsets of 4 GiB or more.
        for address: UInt64 in [65529, 65536, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0020, 0x8000_0000_0000_0000, UInt64.max] {
            XCTAssertEqual(trapReason { _ = try call(instance, "load", [.i64(address)]) }, .memoryOutOfBounds, "load \(address)")
            XCTAssertEqual(trapReason { _ = try call(instance, "store", [.i64(address), .i64(1)]) }, .memoryOutOfBounds, "store \(address)")
            XCTAssertEqual(trapReason { _ = try call(instance, "v128", [.i64(address)]) }, .memoryOutOfBounds, "v128 \(address)")
        }
        // An offset of 4 GiB or more (which WasmKit's text parser does not accept: binary).
        let far = try Linker(engine: engine).instantiate(try Module(engine: engine, bytes: [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
            0x01, 0x06, 0x01, 0x60, 0x01, 0x7e, 0x01, 0x7f,  // type 0: [i64] -> [i32]
            0x03, 0x02, 0x01, 0x00,  // func 0: type 0
            0x05, 0x03, 0x01, 0x04, 0x01,  // memory i64 1
            0x07, 0x08, 0x01, 0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x00,  // export "load"
            0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00,  // local.get 0
            0x28, 0x02, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0b,  // i32.load offset=2^32, end
        ]), store: store)
        XCTAssertEqual(trapReason { _ = try call(far, "load", [.i64(0)]) }, .memoryOutOfBounds)
        XCTAssertEqual(trapReason { _ = try call(instance, "load_off", [.i64(1)]) }, .memoryOutOfBounds)
        // The wrapped sum of address and offset is not an in-bounds address.
        XCTAssertEqual(trapReason { _ = try call(instance, "load_off", [.i64(UInt64.max - 0xfffe)]) }, .memoryOutOfBounds)
        XCTAssertEqual(try call(instance, "rewrite", [.i64(8), .i64(0x20)]), [.i64(0)])
        XCTAssertEqual(trapReason { _ = try call(instance, "rewrite", [.i64(0), .i64(0x1_0000_0000)]) }, .memoryOutOfBounds)
        XCTAssertEqual(trapReason { _ = try call(instance, "rewrite", [.i64(0), .i64(0x8000_0000_0000_0000)]) }, .memoryOutOfBounds)
        XCTAssertEqual(try call(instance, "join", [.i64(0x20), .i32(1)]), [.i64(0x0807_0605_0403_0201)])
        XCTAssertEqual(trapReason { _ = try call(instance, "join", [.i64(0x1_0000_0000), .i32(0)]) }, .memoryOutOfBounds)
        // A trapping store wrote nothing.
        XCTAssertEqual(try call(instance, "load", [.i64(65528)]), [.i64(0x1122_3344_5566_7788)])
    }

    func testMemory64SizeGrowAndBulk() throws {
        let store = Store(engine: engine)
        let instance = try instantiate(memory64Module, store: store)
        XCTAssertEqual(try call(instance, "size"), [.i64(1)])
        XCTAssertEqual(try call(instance, "grow", [.i64(2)]), [.i64(1)])
        XCTAssertEqual(try call(instance, "size"), [.i64(3)])
        // Kiln's memories hold at most 65536 pages (4 GiB), whatever the declared maximum.
        XCTAssertEqual(try call(instance, "grow", [.i64(65536)]), [.i64(UInt64.max)])
        XCTAssertEqual(try call(instance, "grow", [.i64(0x1_0000_0001)]), [.i64(UInt64.max)])
        XCTAssertEqual(try call(instance, "size"), [.i64(3)])

        try _ = call(instance, "fill", [.i64(0x10000), .i32(0x5a), .i64(8)])
        XCTAssertEqual(try call(instance, "load", [.i64(0x10000)]), [.i64(0x5a5a_5a5a_5a5a_5a5a)])
        try _ = call(instance, "copy", [.i64(0x20000), .i64(0x20), .i64(8)])
        XCTAssertEqual(try call(instance, "load", [.i64(0x20000)]), [.i64(0x0807_0605_0403_0201)])
        XCTAssertEqual(trapReason { _ = try call(instance, "fill", [.i64(3 * 65536 - 4), .i32(0), .i64(5)]) }, .memoryOutOfBounds)
        XCTAssertEqual(trapReason { _ = try call(instance, "fill", [.i64(0x1_0000_0000), .i32(0), .i64(0)]) }, .memoryOutOfBounds)
        XCTAssertEqual(trapReason { _ = try call(instance, "copy", [.i64(0), .i64(UInt64.max), .i64(2)]) }, .memoryOutOfBounds)

        // The embedding API sees a 64-bit memory.
        let memory = try XCTUnwrap(instance.memory("mem"))
        XCTAssertTrue(memory.type.isMemory64)
        XCTAssertEqual(memory.pages, 3)
        XCTAssertEqual(try memory.read(at: 0x20, count: 2), [1, 2])
    }

    func testMemory64ImportsMatchAddressType() throws {
        let store = Store(engine: engine)
        let memory64 = try Memory(store: store, type: MemoryType(min: 1, max: nil, isMemory64: true))
        let memory32 = try Memory(store: store, minimum: 1)
        let importer = try Module(engine: engine, wat: #"""
            (module (import "env" "m" (memory i64 1))
              (func (export "peek") (param i64) (result i32) (i32.load8_u (local.get 0))))
            """#)
        let linker = Linker(engine: engine)
        linker.define(module: "env", name: "m", .memory(memory32))
        XCTAssertThrowsError(try linker.instantiate(importer, store: store)) { error in
            guard case KilnError.unlinkable = error else { return XCTFail("\(error)") }
        }
        let linker64 = Linker(engine: engine)
        linker64.define(module: "env", name: "m", .memory(memory64))
        let instance = try linker64.instantiate(importer, store: store)
        try memory64.write([9], at: 300)
        XCTAssertEqual(try call(instance, "peek", [.i64(300)]), [.i32(9)])

        // Larger than Kiln supports: a clear error, not a crash.
        XCTAssertThrowsError(try Memory(store: store, type: MemoryType(min: 65537, max: nil, isMemory64: true)))
    }

    func testMemory64Validation() {
        func reason(_ wat: String) -> String? {
            do {
                _ = try Module(engine: engine, wat: wat)
                return nil
            } catch KilnError.invalid(let reason, _, _) {
                return reason
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(reason("(module (memory i64 1) (func (drop (i32.load (i32.const 0)))))"), "type mismatch")
        XCTAssertEqual(reason("(module (memory 1) (func (drop (i32.load (i64.const 0)))))"), "type mismatch")
        XCTAssertEqual(reason("(module (memory i64 1) (func (result i32) (memory.size)))"), "type mismatch")
        XCTAssertEqual(reason("(module (memory i64 1) (data (i32.const 0) \"x\"))"), "type mismatch")
        XCTAssertEqual(reason("(module (table i64 1 funcref) (func (drop (table.get 0 (i32.const 0)))))"), "type mismatch")
        XCTAssertNil(reason("(module (memory i64 1) (memory 1) (func (memory.copy 0 1 (i64.const 0) (i32.const 0) (i32.const 0))))"))
        XCTAssertEqual(reason("(module (memory i64 1) (memory 1) (func (memory.copy 0 1 (i64.const 0) (i32.const 0) (i64.const 0))))"), "type mismatch")
    }

    // MARK: - table64

    func testTable64() throws {
        let store = Store(engine: engine)
        let instance = try instantiate(#"""
            (module
              (type $f (func (result i32)))
              (table $t (export "t") i64 3 10 funcref)
              (elem (table $t) (i64.const 1) func $two)
              (func $two (result i32) (i32.const 2))
              (func $seven (result i32) (i32.const 7))
              (elem declare func $seven)
              (func (export "call") (param i64) (result i32) (call_indirect $t (type $f) (local.get 0)))
              (func (export "size") (result i64) (table.size $t))
              (func (export "grow") (param i64) (result i64) (table.grow $t (ref.func $seven) (local.get 0)))
              (func (export "set") (param i64) (table.set $t (local.get 0) (ref.func $seven)))
              (func (export "is_null") (param i64) (result i32) (ref.is_null (table.get $t (local.get 0))))
              (func (export "fill") (param i64 i64) (table.fill $t (local.get 0) (ref.null func) (local.get 1))))
            """#, store: store)
        XCTAssertEqual(try call(instance, "call", [.i64(1)]), [.i32(2)])
        XCTAssertEqual(trapReason { _ = try call(instance, "call", [.i64(0)]) }, .uninitializedElement)
        XCTAssertEqual(trapReason { _ = try call(instance, "call", [.i64(3)]) }, .undefinedElement)
        XCTAssertEqual(trapReason { _ = try call(instance, "call", [.i64(0x1_0000_0001)]) }, .undefinedElement)
        XCTAssertEqual(try call(instance, "size"), [.i64(3)])
        XCTAssertEqual(try call(instance, "grow", [.i64(2)]), [.i64(3)])
        XCTAssertEqual(try call(instance, "grow", [.i64(6)]), [.i64(UInt64.max)])
        XCTAssertEqual(try call(instance, "grow", [.i64(0x1_0000_0000)]), [.i64(UInt64.max)])
        XCTAssertEqual(try call(instance, "call", [.i64(4)]), [.i32(7)])
        try _ = call(instance, "set", [.i64(0)])
        XCTAssertEqual(try call(instance, "call", [.i64(0)]), [.i32(7)])
        XCTAssertEqual(trapReason { _ = try call(instance, "set", [.i64(0x1_0000_0000)]) }, .tableOutOfBounds)
        XCTAssertEqual(trapReason { _ = try call(instance, "is_null", [.i64(5)]) }, .tableOutOfBounds)
        try _ = call(instance, "fill", [.i64(0), .i64(5)])
        XCTAssertEqual(try call(instance, "is_null", [.i64(4)]), [.i32(1)])
        XCTAssertEqual(trapReason { _ = try call(instance, "fill", [.i64(UInt64.max), .i64(2)]) }, .tableOutOfBounds)
        XCTAssertTrue(try XCTUnwrap(instance.table("t")).type.limits.isMemory64)
    }

    // MARK: - Relaxed SIMD

    private func f32x4(_ lanes: [Float]) -> Value {
        .v128(lanes.flatMap { lane in (0..<4).map { UInt8(truncatingIfNeeded: lane.bitPattern >> (8 * $0)) } })
    }

    private func i16x8(_ lanes: [Int16]) -> Value {
        .v128(lanes.flatMap { lane in (0..<2).map { UInt8(truncatingIfNeeded: UInt16(bitPattern: lane) >> (8 * $0)) } })
    }

    private func i32x4(_ lanes: [Int32]) -> Value {
        .v128(lanes.flatMap { lane in (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: lane) >> (8 * $0)) } })
    }

    private func bytes(_ lanes: [Int8]) -> Value { .v128(lanes.map { UInt8(bitPattern: $0) }) }

    /// Each relaxed operation gives the one result the README's SIMD notes document.
    func testRelaxedSIMDResults() throws {
        let store = Store(engine: engine)
        let instance = try instantiate(#"""
            (module
              (func (export "swizzle") (param v128 v128) (result v128) (i8x16.relaxed_swizzle (local.get 0) (local.get 1)))
              (func (export "trunc_s") (param v128) (result v128) (i32x4.relaxed_trunc_f32x4_s (local.get 0)))
              (func (export "trunc_u") (param v128) (result v128) (i32x4.relaxed_trunc_f32x4_u (local.get 0)))
              (func (export "madd") (param v128 v128 v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
              (func (export "nmadd") (param v128 v128 v128) (result v128) (f32x4.relaxed_nmadd (local.get 0) (local.get 1) (local.get 2)))
              (func (export "laneselect") (param v128 v128 v128) (result v128) (i32x4.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2)))
              (func (export "min") (param v128 v128) (result v128) (f32x4.relaxed_min (local.get 0) (local.get 1)))
              (func (export "max") (param v128 v128) (result v128) (f32x4.relaxed_max (local.get 0) (local.get 1)))
              (func (export "q15") (param v128 v128) (result v128) (i16x8.relaxed_q15mulr_s (local.get 0) (local.get 1)))
              (func (export "dot") (param v128 v128) (result v128) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get 0) (local.get 1)))
              (func (export "dot_add") (param v128 v128 v128) (result v128)
                (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2))))
            """#, store: store)
        // Out-of-range indices (16 and up, including "negative" bytes) give 0.
        let table = bytes((0..<16).map { Int8($0 * 3) })
        XCTAssertEqual(try call(instance, "swizzle", [table, bytes([15, 16, -1, -128, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])]),
                       [bytes([45, 0, 0, 0, 0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33])])
        // Truncation saturates and maps NaN to 0.
        XCTAssertEqual(try call(instance, "trunc_s", [f32x4([.nan, 3e9, -3e9, -1.5])]), [i32x4([0, Int32.max, Int32.min, -1])])
        XCTAssertEqual(try call(instance, "trunc_u", [f32x4([.nan, 5e9, -3, 1.5])]), [i32x4([0, -1, 0, 1])])
        // Fused: (1 + 2^-12)^2 - (1 + 2^-11) is 2^-24 rounded once, 0 if the product were rounded first.
        let x = Float(bitPattern: 0x3f80_0800), c = -Float(bitPattern: 0x3f80_1000)
        XCTAssertEqual(try call(instance, "madd", [f32x4([x, 2, 0, 1]), f32x4([x, 3, 0, 1]), f32x4([c, 1, -0.0, 1])]),
                       [f32x4([0x1p-24, 7, 0, 2])])
        XCTAssertEqual(try call(instance, "nmadd", [f32x4([x, 2, 0, 1]), f32x4([x, 3, 0, 1]), f32x4([-c, 1, 0, 1])]),
                       [f32x4([-0x1p-24, -5, 0, 0])])
        // Bit by bit, whatever the mask lanes look like.
        XCTAssertEqual(try call(instance, "laneselect", [i32x4([-1, -1, -1, -1]), i32x4([0, 0, 0, 0]), i32x4([-1, 0, 0x0f0f_0f0f, Int32.min])]),
                       [i32x4([-1, 0, 0x0f0f_0f0f, Int32.min])])
        // NaN in, NaN out; -0 below +0.
        let nan = Float(bitPattern: 0x7fc0_0000)
        XCTAssertEqual(try call(instance, "min", [f32x4([nan, 0, -0.0, 1]), f32x4([1, -0.0, 0, nan])]), [f32x4([nan, -0.0, -0.0, nan])])
        XCTAssertEqual(try call(instance, "max", [f32x4([nan, 0, -0.0, 1]), f32x4([1, -0.0, 0, 2])]), [f32x4([nan, 0, 0, 2])])
        // -1.0 * -1.0 in Q15 saturates.
        XCTAssertEqual(try call(instance, "q15", [i16x8([Int16.min, 16384, 0, 0, 0, 0, 0, 0]), i16x8([Int16.min, 16384, 0, 0, 0, 0, 0, 0])]),
                       [i16x8([Int16.max, 8192, 0, 0, 0, 0, 0, 0])])
        // b's lanes are signed even with the top bit set; pair sums wrap to 16 bits.
        let a = bytes([-128, -128, -128, -128, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        let b = bytes([-127, -127, -128, -128, 5, -6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try call(instance, "dot", [a, b]), [i16x8([32512, Int16.min, -9, 0, 0, 0, 0, 0])])
        XCTAssertEqual(try call(instance, "dot_add", [a, b, i32x4([1, 2, 3, 4])]), [i32x4([32512 - 32768 + 1, -9 + 2, 3, 4])])
    }

    // MARK: - Extended constant expressions

    func testExtendedConstantExpressions() throws {
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        linker.define(module: "env", name: "base", .global(try Global(store: store, value: .i32(100))))
        linker.define(module: "env", name: "wide", .global(try Global(store: store, value: .i64(1 << 40))))
        let instance = try instantiate(#"""
            (module
              (import "env" "base" (global $base i32))
              (import "env" "wide" (global $wide i64))
              (global $twice i32 (i32.mul (global.get $base) (i32.const 2)))
              (global (export "g") i32 (i32.sub (i32.add (global.get $twice) (i32.const 5)) (i32.const 1)))
              (global (export "h") i64 (i64.add (i64.mul (global.get $wide) (i64.const 3)) (i64.sub (i64.const 0) (i64.const 1))))
              (global (export "wrap") i32 (i32.add (i32.const 0x7fffffff) (i32.const 1)))
              (memory 1)
              (data (i32.add (global.get $base) (i32.const 8)) "\2a")
              (table 10 funcref)
              (elem (i32.sub (i32.const 10) (i32.const 1)) func $f)
              (func $f (result i32) (i32.const 99))
              (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
              (func (export "last") (result i32) (call_indirect (result i32) (i32.const 9))))
            """#, linker: linker, store: store)
        XCTAssertEqual(instance.global("g")?.value, .i32(204))
        XCTAssertEqual(instance.global("h")?.value, .i64(3 << 40 - 1))
        XCTAssertEqual(instance.global("wrap")?.value, .i32(0x8000_0000))
        XCTAssertEqual(try call(instance, "peek", [.i32(108)]), [.i32(42)])
        XCTAssertEqual(try call(instance, "last"), [.i32(99)])

        // A mutable global or a non-arithmetic instruction is not constant.
        XCTAssertThrowsError(try Module(engine: engine, wat: "(module (global $m (mut i32) (i32.const 1)) (global i32 (i32.add (global.get $m) (i32.const 1))))"))
        XCTAssertThrowsError(try Module(engine: engine, wat: "(module (global i32 (i32.div_u (i32.const 4) (i32.const 2))))"))
    }
}
