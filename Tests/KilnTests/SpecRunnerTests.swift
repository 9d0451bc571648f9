import Foundation
import XCTest

/// The spec runner itself: on a small script whose every directive is known to pass or fail,
/// it must count each one right, so that a green spec suite means something.
final class SpecRunnerTests: XCTestCase {
    static let script = #"""
        (module $A
          (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
          (func (export "nan") (param i32) (result f32) (f32.reinterpret_i32 (local.get 0)))
          (func (export "v") (result v128) (v128.const i8x16 -1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 -128))
          (func (export "fnan") (result v128) (v128.const f32x4 1.0 nan -nan nan:0x600000))
          (func (export "id") (param externref) (result externref) (local.get 0))
          (func (export "null") (result funcref) (ref.null func))
          (func (export "trap") (unreachable))
          (global (export "g") i64 (i64.const -7))
        )
        (register "a" $A)
        (module (import "a" "add" (func $add (param i32 i32) (result i32)))
          (func (export "twice") (param i32) (result i32) (call $add (local.get 0) (local.get 0))))

        (assert_return (invoke "twice" (i32.const 21)) (i32.const 42))
        (assert_return (invoke "twice" (i32.const 21)) (i32.const 43))
        (assert_return (invoke $A "add" (i32.const -1) (i32.const 0)) (i32.const 4294967295))
        (assert_return (invoke $A "nan" (i32.const 0x7fc00000)) (f32.const nan:canonical))
        (assert_return (invoke $A "nan" (i32.const 0x7fc00001)) (f32.const nan:arithmetic))
        (assert_return (invoke $A "nan" (i32.const 0x7fc00001)) (f32.const nan:canonical))
        (assert_return (invoke $A "v") (v128.const i8x16 255 1 2 3 4 5 6 7 8 9 10 11 12 13 14 128))
        (assert_return (invoke $A "v") (v128.const i16x8 0x01ff 0x0302 0x0504 0x0706 0x0908 0x0b0a 0x0d0c 0x800e))
        (assert_return (invoke $A "v") (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15))
        (assert_return (invoke $A "fnan") (v128.const f32x4 1.0 nan:canonical nan:canonical nan:arithmetic))
        (assert_return (invoke $A "fnan") (v128.const f32x4 1.0 nan:canonical nan:canonical nan:canonical))
        (assert_return (invoke $A "add" (i32.const 1) (i32.const 1)) (either (i32.const 3) (i32.const 2)))
        (assert_return (invoke $A "add" (i32.const 1) (i32.const 1)) (either (i32.const 3) (i32.const 4)))
        (assert_return (invoke $A "id" (ref.extern 1)) (ref.extern 1))
        (assert_return (invoke $A "id" (ref.extern 1)) (ref.extern 2))
        (assert_return (invoke $A "id" (ref.extern 1)) (ref.extern))
        (assert_return (invoke $A "id" (ref.null extern)) (ref.null extern))
        (assert_return (invoke $A "null") (ref.null func))
        (assert_return (invoke $A "null") (ref.func))
        (assert_return (get $A "g") (i64.const -7))
        (assert_trap (invoke $A "trap") "unreachable")
        (assert_trap (invoke $A "trap") "integer overflow")
        (assert_trap (invoke $A "add" (i32.const 1) (i32.const 1)) "unreachable")
        (assert_exception (invoke $A "trap"))
        (assert_invalid (module (func (result i32))) "type mismatch")
        (assert_invalid (module (func)) "type mismatch")
        (assert_malformed (module quote "(func") "unexpected end")
        (assert_malformed (module quote "(module)") "nothing wrong with it")
        (assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
        (assert_unlinkable (module (import "a" "missing" (func))) "unknown import")
        (assert_trap (module (func $t (unreachable)) (start $t)) "unreachable")
        (invoke $A "trap")
        (assert_return (invoke $A "null") (ref.null extern))
        """#

    func testCountsEachDirectiveAsItTurnedOut() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-spec-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.script.write(to: folder.appendingPathComponent("sample.wast"), atomically: true, encoding: .utf8)

        let result = SpecRunner(suite: SpecSuite(directory: folder)).run(file: "sample")
        print(SpecTests.report([result], seconds: result.seconds))
        // The line of every directive that must fail; every other one must pass.
        let failingLines: Set<Int> = [16, 20, 23, 25, 27, 29, 33, 36, 37, 38, 40, 42, 46, 47]
        let failedLines = Set(result.failures.compactMap { $0.split(separator: ":").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) } })
        XCTAssertEqual(failedLines.sorted(), failingLines.sorted(), result.failures.joined(separator: "\n"))
        XCTAssertEqual(result.failed, failingLines.count)
        XCTAssertEqual(result.unsupported, 0, result.unsupportedReasons.joined(separator: "\n"))
        XCTAssertEqual(result.passed, 36 - failingLines.count)
    }

    /// The folded legacy `try` becomes the flat form wasm-tools reads, on the same lines.
    func testLegacyTryUnfolds() throws {
        let folded = """
            (func (result i32)
              (try $l (result i32)
                (do (i32.const 1))
                (catch $e (i32.const 2))  ;; (try in a comment
                (catch_all (i32.const 3))))
            (func (try (do (nop)) (delegate 0)) (try_table (catch $e 0)) (data "(try"))
            """
        let flat = """
            (func (result i32)
               try $l (result i32)
                    (i32.const 1) 
                 catch $e (i32.const 2)   ;; (try in a comment
                 catch_all (i32.const 3)  end )
            (func  try     (nop)   delegate 0   (try_table (catch $e 0)) (data "(try"))
            """
        let unfolded = try XCTUnwrap(LegacyTryUnfolder.unfold(Array(folded.utf8)))
        XCTAssertEqual(String(decoding: unfolded, as: UTF8.self), flat)
        XCTAssertNil(LegacyTryUnfolder.unfold(Array("(module (func (try_table (do))))".utf8)))
    }

    /// Every script belongs to the feature the suite README says.
    func testFeatureOfScripts() {
        let expected: [String: SpecFeature] = [
            "i32": .core, "f64": .core, "binary-leb128": .core, "spec-extra/memory_grow": .core, "table": .core,
            "memory_grow": .multiMemory, "address0": .multiMemory, "imports4": .multiMemory, "simd_memory-multi": .multiMemory,
            "address64": .memory64, "memory64-imports": .memory64, "binary_leb128_64": .memory64, "table_copy_mixed": .memory64,
            "simd_i16x8_arith2": .simd, "i16x8_relaxed_q15mulr_s": .relaxedSIMD, "relaxed_min_max": .relaxedSIMD,
            "elem": .referenceTypes, "ref_null": .referenceTypes, "table-sub": .bulkMemory, "table_init": .bulkMemory,
            "ref": .typedFunctionReferences, "return_call_ref": .tailCalls, "try_table": .exceptions,
            "legacy/throw": .legacyExceptions, "custom/branch_hint": .annotations, "id": .annotations,
            "type-rec": .gc, "array_copy": .gc, "br_on_cast_fail": .gc, "type": .core,
        ]
        for (script, feature) in expected {
            XCTAssertEqual(SpecFeature.of(script), feature, script)
        }
    }
}
