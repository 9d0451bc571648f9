import Foundation
import XCTest
@testable import Kiln
import WasmParser

/// `RuntimeHelper` is the one list of the helpers generated code calls by name. The prelude
/// declares them (for clang and the optimized tier; for TCC the SIMD ones through the
/// declarations the lowering repeats), `symbols.c` hands their addresses to TCC, and `numeric.c`
/// and `simd.c` define them (`symbols.c` would not link otherwise): this keeps all of them one.
final class RuntimeHelperListTests: XCTestCase {
    static func runtimeFile(_ path: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("runtime-c/\(path)"), encoding: .utf8)
    }

    static func matches(_ pattern: String, in text: String) throws -> [[String]] {
        let expression = try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { match in
            (1..<match.numberOfRanges).map { String(text[Range(match.range(at: $0), in: text)!]) }
        }
    }

    /// Every helper the prelude declares with KILN_HELPER: name -> its declaration without
    /// KILN_HELPER, as the lowering would write it for one name.
    static func preludeHelpers() throws -> [String: String] {
        let text = try runtimeFile("include/kiln_prelude.h")
        var declared: [String: String] = [:]
        // A function: `KILN_HELPER T name(parameters);`.
        for match in try matches(#"^KILN_HELPER ([\w ]+?\**) ?(kiln_\w+)\(([^)]*)\);"#, in: text) {
            declared[match[1]] = "\(match[0]) \(match[1])(\(match[2]));"
        }
        // A list of one typedef: `KILN_HELPER kiln_v128_binary a, b, ...;`.
        for match in try matches(#"^KILN_HELPER (kiln_v128_\w+) ([^;(]+);"#, in: text) {
            for name in match[1].split(separator: ",").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) {
                declared[name] = "\(match[0]) \(name);"
            }
        }
        return declared
    }

    func testEveryHelperIsDeclaredAsTheLoweringDeclaresIt() throws {
        let declared = try Self.preludeHelpers()
        XCTAssertGreaterThan(RuntimeHelper.all.count, 250)
        for helper in RuntimeHelper.all {
            guard let prelude = declared[helper.name] else {
                XCTFail("\(helper.name) is in RuntimeHelper but kiln_prelude.h does not declare it")
                continue
            }
            if let declaration = helper.declaration {
                XCTAssertEqual(declaration, prelude, "the lowering's declaration of \(helper.name) differs from the prelude's")
            }
        }
        let listed = Set(RuntimeHelper.all.map(\.name))
        for name in declared.keys.sorted() {
            XCTAssertTrue(listed.contains(name), "kiln_prelude.h declares \(name), which RuntimeHelper does not list")
        }
    }

    func testEveryHelperIsInTheSymbolTable() throws {
        let symbols = try Self.runtimeFile("src/symbols.c")
        var table: Set<String> = []
        for match in try Self.matches(#"\{"(\w+)", \(const void \*\)(\w+)\}"#, in: symbols) {
            XCTAssertEqual(match[0], match[1], "symbols.c names \(match[0]) with the address of \(match[1])")
            XCTAssertTrue(table.insert(match[0]).inserted, "symbols.c lists \(match[0]) twice")
        }
        for helper in RuntimeHelper.all {
            XCTAssertTrue(table.contains(helper.name), "\(helper.name) is in RuntimeHelper but not in symbols.c: TCC could not link it")
        }
        // The other way round: a KILN_HELPER in the table that no longer is a RuntimeHelper.
        let declared = try Self.preludeHelpers()
        let listed = Set(RuntimeHelper.all.map(\.name))
        for name in table where declared[name] != nil {
            XCTAssertTrue(listed.contains(name), "symbols.c lists the helper \(name), which RuntimeHelper does not")
        }
    }

    /// The vector operations' helpers have the shape the validator types the operation with.
    func testSIMDHelpersHaveTheirOperationsShape() throws {
        let samples: [(Instruction.Simd, String)] = [
            (.i8x16Add, "binary"), (.f32x4Sqrt, "unary"), (.v128Bitselect, "ternary"), (.i32x4AllTrue, "test"),
            (.i64x2Shl, "shift"), (.f64x2Splat, "splat"), (.f32x4RelaxedMadd, "ternary"), (.i8x16RelaxedSwizzle, "binary"),
        ]
        for (op, shape) in samples {
            let helper = try XCTUnwrap(FunctionLowering.helper(op))
            let kind: String =
                switch helper {
                case .unary: "unary"
                case .binary: "binary"
                case .ternary: "ternary"
                case .test: "test"
                case .shift: "shift"
                case .splat: "splat"
                default: "other"
                }
            XCTAssertEqual(kind, shape, "\(op)")
            switch Validator.shape(of: op) {
            case .unary: XCTAssertEqual(kind, "unary")
            case .binary: XCTAssertEqual(kind, "binary")
            case .ternary: XCTAssertEqual(kind, "ternary")
            case .test: XCTAssertEqual(kind, "test")
            case .shift: XCTAssertEqual(kind, "shift")
            case .splat: XCTAssertEqual(kind, "splat")
            }
        }
    }
}
