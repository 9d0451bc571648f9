import Foundation
import WAT
import XCTest

@testable import Kiln

final class ValidatorTests: XCTestCase {
    // MARK: Helpers

    private func validate(bytes: [UInt8]) throws(KilnError) {
        try Validator.validate(try ModuleDecoder.decode(bytes))
    }

    private func validate(_ text: String) throws {
        let bytes = try wat2wasm(text, features: ModuleDecoder.features)
        try validate(bytes: bytes)
    }

    private func assertValid(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try validate(text)
        } catch {
            XCTFail("expected valid, got \(error)", file: file, line: line)
        }
    }

    private func assertInvalid(_ text: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try validate(text)
            XCTFail("expected invalid (\(message)), but it validated", file: file, line: line)
        } catch let error as KilnError {
            guard case .invalid(let reason, _, _) = error else {
                XCTFail("expected .invalid(\(message)), got \(error)", file: file, line: line)
                return
            }
            XCTAssertTrue(reason.contains(message), "expected \"\(message)\", got \"\(reason)\"", file: file, line: line)
        } catch {
            XCTFail("expected invalid (\(message)), got \(error)", file: file, line: line)
        }
    }

    // MARK: Representative cases

    func testSimpleFunctionsValidate() {
        assertValid("""
            (module
              (func (export "add") (param i32 i32) (result i32)
                local.get 0 local.get 1 i32.add)
              (func (param i64) (result f64)
                local.get 0 f64.convert_i64_s f64.sqrt)
              (memory 1)
              (func (param i32) (result i32)
                (i32.load offset=4 align=4 (local.get 0))
                (i32.store8 (local.get 0) (i32.const 7))
                (i32.extend8_s)
                (i32.trunc_sat_f32_s (f32.const 1.5))
                (drop)))
            """)
    }

    func testMultiValueBlocksAndUnreachableCode() {
        assertValid("""
            (module
              (type $pair (func (param i32 i32) (result i32 i32)))
              (func (result i32 i32)
                (i32.const 1) (i32.const 2)
                (block (type $pair) (param i32 i32) (result i32 i32)))
              (func (result i32)
                (unreachable) (i32.add))
              (func (result i32)
                (block (result i32) (br 0 (i32.const 1)) (i64.const 0) (drop)))
              (func (param i32) (result i32)
                (block $a (result i32)
                  (block $b (result i32)
                    (br_table $a $b (i32.const 5) (local.get 0))))))
            """)
    }

    func testTypeMismatch() {
        assertInvalid("(module (func (result i32) (i64.const 0)))", "type mismatch")
        assertInvalid("(module (func (i32.add (i32.const 0) (f32.const 0)) (drop)))", "type mismatch")
        assertInvalid("(module (func (result i32) (if (result i32) (i32.const 1) (then (i32.const 1)))))", "type mismatch")
    }

    func testLabelsAndBranchTables() {
        assertInvalid("(module (func (br 1)))", "unknown label")
        assertInvalid("""
            (module (func (param i32) (result i32)
              (block $a (result i32)
                (block $b (result i64)
                  (br_table $a $b (i32.const 5) (local.get 0))))))
            """, "type mismatch")
        // Arity still has to agree across targets in unreachable code.
        assertInvalid("""
            (module (func
              (block $a (result i32) (block $b (unreachable) (br_table $a $b (i32.const 0))) (i32.const 0))
              (drop)))
            """, "type mismatch")
    }

    func testGlobals() {
        assertInvalid("(module (global i32 (i32.const 0)) (func (global.set 0 (i32.const 1))))", "immutable global")
        assertInvalid("""
            (module (global (mut i32) (i32.const 0)) (global i32 (global.get 0)))
            """, "constant expression required")
        assertInvalid("(module (global i32 (i64.const 0)))", "type mismatch")
        assertValid("""
            (module
              (import "m" "g" (global i32))
              (global i32 (global.get 0))
              (global i32 (i32.add (global.get 1) (i32.const 4))))
            """)
    }

    func testSelectAndReferences() {
        assertInvalid("""
            (module (func (param funcref funcref) (result funcref)
              (select (local.get 0) (local.get 1) (i32.const 1))))
            """, "type mismatch")
        assertValid("""
            (module (func (param funcref funcref) (result funcref)
              (select (result funcref) (local.get 0) (local.get 1) (i32.const 1))))
            """)
        assertInvalid("(module (func $f (drop (ref.func $f))))", "undeclared function reference")
        assertValid("(module (func $f (drop (ref.func $f))) (elem declare func $f))")
        assertInvalid("""
            (module (type $t (func)) (table 1 externref)
              (func (call_indirect (type $t) (i32.const 0))))
            """, "type mismatch")
    }

    func testMemoryRules() {
        assertInvalid("(module (memory 1) (func (drop (i32.load align=8 (i32.const 0)))))",
                      "alignment must not be larger than natural")
        assertInvalid("(module (func (drop (memory.size))))", "unknown memory")
        assertInvalid("(module (memory 65537))", "memory size must be at most 65536 pages (4GiB)")
        assertInvalid("(module (memory 2 1))", "size minimum must not be greater than maximum")
    }

    func testSimd() {
        assertValid("""
            (module (memory 1)
              (func (param v128 i32) (result i32)
                (i8x16.extract_lane_u 15 (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 31
                  (local.get 0) (v128.load64_lane 1 (local.get 1) (local.get 0))))
                (drop)
                (i32x4.all_true (i32x4.shl (local.get 0) (local.get 1)))))
            """)
        assertInvalid("(module (func (param v128) (result i32) (i32x4.extract_lane 4 (local.get 0))))", "invalid lane index")
        assertInvalid("(module (func (param v128) (result v128) (i32x4.add (local.get 0) (i32.const 0))))", "type mismatch")
    }

    func testModuleLevelRules() {
        assertInvalid("(module (func) (export \"a\" (func 0)) (export \"a\" (func 0)))", "duplicate export name")
        assertInvalid("(module (func (param i32)) (start 0))", "start function")
        assertInvalid("(module (table 1 funcref) (func $f) (elem (table 0) (i32.const 0) externref (ref.null extern)))",
                      "type mismatch")
        assertInvalid("(module (memory 1) (data (i64.const 0) \"a\"))", "type mismatch")
    }

    func testDataCountSectionRequired() {
        // memory.init without a data count section (the binary format requires one).
        let bytes: [UInt8] = [
            0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00,
            0x01, 0x04, 0x01, 0x60, 0x00, 0x00,  // type section
            0x03, 0x02, 0x01, 0x00,  // function section
            0x05, 0x03, 0x01, 0x00, 0x00,  // memory section
            0x0A, 0x0E, 0x01, 0x0C, 0x00,  // code section, one body, no locals
            0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x08, 0x00, 0x00, 0x0B,  // memory.init 0
            0x0B, 0x03, 0x01, 0x01, 0x00,  // data section: one passive, empty segment
        ]
        XCTAssertThrowsError(try validate(bytes: bytes)) { error in
            XCTAssertTrue("\(error)".contains("data count section required"), "\(error)")
        }
    }

    // MARK: Spec test suite

    static let specFiles = """
        block br br_if br_table call call_indirect func global if loop local_get local_set local_tee memory \
        return select unreachable unreached-invalid binary data elem exports imports table ref_func \
        memory_init table_init bulk simd_lane simd_load simd_store simd_const
        """.split(separator: " ").map(String.init)

    private func moduleBytes(_ module: ModuleDirective) -> [UInt8]? {
        switch module.source {
        case .text(let wat): return try? wat.encode()
        case .binary(let bytes): return bytes
        case .quote(let bytes): return try? wat2wasm(String(decoding: bytes, as: UTF8.self), features: ModuleDecoder.features)
        }
    }

    func testSpecSuiteAssertInvalid() throws {
        let directory = try SpecSuite.locate().directory.path

        var total = 0, caught = 0, correctMessage = 0, unencodable = 0
        var validTotal = 0, validAccepted = 0
        var notCaught: [String] = []
        var validRejectedByValidator: [String] = []
        for name in Self.specFiles {
            let text = try String(contentsOfFile: "\(directory)/\(name).wast", encoding: .utf8)
            var wast = try parseWAST(text, features: ModuleDecoder.features)
            while let (result, location) = wast.nextDirectiveResult() {
                guard case .success(let directive) = result else { continue }
                // Computing a line is linear in the file: only done for failures.
                func line() -> Int { location.computeLineAndColumn().line }
                switch directive {
                case .module(let module):
                    validTotal += 1
                    guard let bytes = moduleBytes(module) else { continue }
                    do {
                        try validate(bytes: bytes)
                        validAccepted += 1
                    } catch {
                        // Post-2.0 features are rejected by the decoder (malformed) or as
                        // unsupported; only a validation error would be a validator bug.
                        if case .invalid = error { validRejectedByValidator.append("\(name):\(line()): \(error)") }
                    }
                case .assertInvalid(let module, let message):
                    total += 1
                    // The text encoder itself refuses unknown indices in some of these.
                    guard let bytes = moduleBytes(module) else {
                        unencodable += 1
                        continue
                    }
                    do {
                        try validate(bytes: bytes)
                        notCaught.append("\(name):\(line()): \(message)")
                    } catch {
                        caught += 1
                        switch error {
                        case .invalid(let reason, _, _), .malformed(let reason, _):
                            if reason.contains(message) { correctMessage += 1 }
                        default: break
                        }
                    }
                default:
                    break
                }
            }
        }
        print("""
            ValidatorTests spec: assert_invalid caught \(caught), correct message \(correctMessage), \
            total \(total) (\(unencodable) not encodable by the WAT encoder); \
            valid modules accepted \(validAccepted) / \(validTotal)
            """)
        XCTAssertEqual(notCaught, [], "assert_invalid modules that validated")
        XCTAssertEqual(validRejectedByValidator, [], "valid modules rejected by the validator")
        XCTAssertGreaterThanOrEqual(correctMessage, 1000)
    }
}
