import Foundation
import XCTest
@testable import Kiln

/// The lowering's decisions come from its expression IR (Expression.swift), not from its text:
/// comparisons branch on the flags, constant shift counts are reduced, constant divisors drop
/// the checks they make impossible, and big trees are evaluated into a slot.
final class LoweringIRTests: XCTestCase {
    func generatedC(_ wat: String) throws -> String {
        try Module.generateC(engine: Engine(), bytes: try wasmBytes(fromText: wat))
    }

    func body(of function: String, in c: String) -> String {
        guard let start = c.range(of: "static u32 \(function)(") ?? c.range(of: "static void \(function)(") else { return "" }
        let rest = c[start.lowerBound...]
        return String(rest[..<(rest.range(of: "\n}\n")?.upperBound ?? rest.endIndex)])
    }

    func testComparisonsBranchWithoutMaterializingTheirValue() throws {
        let c = try generatedC("""
            (module (func (export "f") (param i32 i32) (result i32)
              (if (i32.lt_s (local.get 0) (local.get 1)) (then (return (i32.const 1))))
              (br_if 0 (i32.const 2) (i32.eqz (local.get 1)))
              (drop)
              (i32.lt_u (local.get 0) (local.get 1))))
            """)
        let f = body(of: "fn0", in: c)
        XCTAssertTrue(f.contains("if (!((s32)l0 < (s32)l1)) goto"), f)
        XCTAssertTrue(f.contains("if (l1 == 0) {"), f)
        XCTAssertTrue(f.contains("return CMP(l0 < l1);"), "a comparison used as a value keeps its CMP:\n\(f)")
    }

    func testConstantShiftCountsAndDivisorsAreReadFromTheTree() throws {
        let c = try generatedC("""
            (module (func (export "f") (param i32 i64) (result i32)
              (i32.add
                (i32.shl (local.get 0) (i32.const 33))
                (i32.add (i32.div_s (local.get 0) (i32.const 7))
                  (i32.wrap_i64 (i64.shr_u (local.get 1) (local.get 1)))))))
            """)
        let f = body(of: "fn0", in: c)
        XCTAssertTrue(f.contains("(l0 << 1)"), "33 mod 32:\n\(f)")
        XCTAssertTrue(f.contains("(l1 >> (l1 & 63))"), f)
        XCTAssertFalse(f.contains("DIV_ZERO"), "7 is not zero:\n\(f)")
        XCTAssertFalse(f.contains("INT_OVERFLOW"), "7 is not -1:\n\(f)")
        XCTAssertTrue(f.contains("(s32)l0 / (s32)7u"), f)
    }

    func testVariableDivisorKeepsItsChecks() throws {
        let f = body(of: "fn0", in: try generatedC("""
            (module (func (export "f") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))
            """))
        XCTAssertTrue(f.contains("if (l1 == 0) TRAP(DIV_ZERO);"), f)
        XCTAssertTrue(f.contains("TRAP(INT_OVERFLOW)"), f)
    }

    func testTreesAboveTheSpillSizeAreEvaluatedIntoASlot() throws {
        // A chain of n additions is a tree of 2n + 1 nodes.
        func chain(_ n: Int) -> String {
            "(local.get 0)" + String(repeating: " (local.get 0) (i32.add)", count: n)
        }
        let small = body(of: "fn0", in: try generatedC("(module (func (export \"f\") (param i32) (result i32) \(chain(5))))"))
        XCTAssertFalse(small.contains("s0i ="), small)
        let n = Int(FunctionLowering.spillSize) / 2 + 1
        let big = body(of: "fn0", in: try generatedC("(module (func (export \"f\") (param i32) (result i32) \(chain(n))))"))
        XCTAssertTrue(big.contains("s0i ="), big)
    }

    func testTheGeneratedCodeComputesTheSameValues() throws {
        let engine = Engine()
        let module = try Module(engine: engine, wat: """
            (module (func (export "f") (param i32 i32) (result i32)
              (i32.add (i32.shl (local.get 0) (i32.const 33))
                (i32.add (i32.div_s (local.get 0) (i32.const 7)) (i32.rem_s (local.get 0) (local.get 1))))))
            """)
        let f = try Instance(store: Store(engine: engine), module: module).typedFunction("f", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try f(100, 7), 200 + 14 + 2)
        XCTAssertEqual(try f(-100, -1), -200 + -14 + 0)
    }
}
