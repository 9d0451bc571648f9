import Foundation
import WasmParser
import XCTest

@testable import Kiln

/// Kiln's binary decoder: exact LEB128 rules, every opcode decoded as WasmParser decodes it,
/// legacy exception handling and tags, hostile bytes answered with errors, never crashes.
final class DecoderTests: XCTestCase {
    // MARK: Module builders

    static func leb(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        repeat {
            let byte = UInt8(value & 0x7f)
            value >>= 7
            bytes.append(value == 0 ? byte : byte | 0x80)
        } while value != 0
        return bytes
    }

    static func section(_ id: UInt8, _ contents: [UInt8]) -> [UInt8] {
        [id] + leb(UInt64(contents.count)) + contents
    }

    /// A module with one `() -> ()` function whose body (after the locals) is `body`, and one memory.
    static func module(body: [UInt8], extraSections: [UInt8] = []) -> [UInt8] {
        let function = [0x00] + body  // no locals
        return [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
            + section(1, [0x01, 0x60, 0x00, 0x00])
            + section(3, [0x01, 0x00])
            + section(5, [0x01, 0x00, 0x01])
            + extraSections
            + section(10, [0x01] + leb(UInt64(function.count)) + function)
    }

    /// The module with its first body decoded (bodies decode on demand: their errors come then).
    private func decode(_ bytes: [UInt8], allowing features: WasmFeatures = .all) throws(KilnError) -> (info: ModuleInfo, bodies: [FunctionBody]) {
        let info = try ModuleDecoder.decode(bytes, gate: FeatureGate(allowing: features))
        var bodies: [FunctionBody] = []
        for index in 0..<info.code.count { bodies.append(try info.code.body(index)) }
        return (info, bodies)
    }

    private func malformedReason(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try decode(bytes)
            XCTFail("expected malformed, but it decoded", file: file, line: line)
        } catch {
            if case .malformed(let reason, _) = error { return reason }
            XCTFail("expected malformed, got \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: Hostile bytes

    /// A section size near 2^64 once made `kiln validate` die of SIGSEGV in LimitsScan (the end
    /// of the section wrapped around); now it is an ordinary error.
    func testSectionSizeNear2To64IsAnErrorNotACrash() {
        let bytes: [UInt8] = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x61, 0x59, 0x00, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1a, 0x0b, 0x00, 0x03, 0x02, 0x01, 0x00, 0x08,
            0x17, 0x01, 0x09, 0x15, 0x00, 0xfd, 0x0c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf7, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xef, 0xff, 0xff, 0x1a, 0x0b,
        ]
        XCTAssertEqual(bytes.count, 56)
        XCTAssertThrowsError(try Module.validate(bytes: bytes)) { error in
            guard case KilnError.malformed = error else { return XCTFail("expected malformed, got \(error)") }
        }
        XCTAssertNil(LimitsScan.oversizedLimit(in: bytes, errorOffset: nil))
    }

    func testTruncatedImmediatesAreUnexpectedEnd() {
        // i32.const whose LEB runs past the body, br_table whose count exceeds the body.
        XCTAssertEqual(malformedReason(Self.module(body: [0x41, 0x80])), "unexpected end of section or function")
        XCTAssertEqual(malformedReason(Self.module(body: [0x0e, 0xff, 0xff, 0x03, 0x0b])), "unexpected end of section or function")
    }

    // MARK: LEB128

    func testLEB128Rules() throws {
        func read(_ bytes: [UInt8], _ body: (inout ByteReader) throws(KilnError) -> Int64) -> Result<Int64, KilnError> {
            bytes.withUnsafeBufferPointer { buffer -> Result<Int64, KilnError> in
                var reader = ByteReader(bytes: buffer, position: 0, end: buffer.count)
                do throws(KilnError) { return .success(try body(&reader)) } catch { return .failure(error) }
            }
        }
        func u32(_ bytes: [UInt8]) -> Result<Int64, KilnError> { read(bytes) { (r) throws(KilnError) in Int64(try r.u32()) } }
        func s32(_ bytes: [UInt8]) -> Result<Int64, KilnError> { read(bytes) { (r) throws(KilnError) in Int64(try r.s32()) } }
        func s64(_ bytes: [UInt8]) -> Result<Int64, KilnError> { read(bytes) { (r) throws(KilnError) in try r.s64() } }
        func u64(_ bytes: [UInt8]) -> Result<Int64, KilnError> { read(bytes) { (r) throws(KilnError) in Int64(bitPattern: try r.u64()) } }
        func reason(_ result: Result<Int64, KilnError>) -> String? {
            if case .failure(.malformed(let reason, _)) = result { return reason }
            return nil
        }

        // Non-minimal encodings are fine up to the width's byte count.
        XCTAssertEqual(try u32([0x80, 0x80, 0x80, 0x80, 0x00]).get(), 0)
        XCTAssertEqual(try u32([0xff, 0xff, 0xff, 0xff, 0x0f]).get(), 0xffff_ffff)
        XCTAssertEqual(reason(u32([0x80, 0x80, 0x80, 0x80, 0x80, 0x00])), "integer representation too long")
        XCTAssertEqual(reason(u32([0xff, 0xff, 0xff, 0xff, 0x1f])), "integer too large")
        XCTAssertEqual(try s32([0xff, 0xff, 0xff, 0xff, 0x7f]).get(), -1)
        XCTAssertEqual(try s32([0x80, 0x80, 0x80, 0x80, 0x78]).get(), Int64(Int32.min))
        XCTAssertEqual(reason(s32([0xff, 0xff, 0xff, 0xff, 0x4f])), "integer too large")
        XCTAssertEqual(reason(s32([0x80, 0x80, 0x80, 0x80, 0x08])), "integer too large")
        XCTAssertEqual(try s64([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]).get(), Int64.min)
        XCTAssertEqual(reason(s64([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), "integer too large")
        XCTAssertEqual(try u64([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).get(), -1)
        XCTAssertEqual(reason(u64([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])), "integer too large")
        XCTAssertEqual(reason(u64([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])), "integer representation too long")
    }

    /// Prefixed sub-opcodes are u32 LEBs: "\fc\80\00" is i32.trunc_sat_f32_s (WasmParser read a byte).
    func testPrefixedSubOpcodeIsALEB() throws {
        let info = try decode(Self.module(body: [0x43, 0, 0, 0, 0, 0xfc, 0x80, 0x00, 0x1a, 0x0b]))
        XCTAssertEqual(info.bodies[0].instructions.count, 4)
        guard case .standard(.conversion(.i32TruncSatF32S)) = info.bodies[0].instructions[1] else {
            return XCTFail("got \(info.bodies[0].instructions[1])")
        }
        XCTAssertEqual(info.bodies[0].offsets[1], info.bodies[0].offsets[0] + 5)
    }

    // MARK: Every opcode, as WasmParser decodes it

    /// For every opcode and sub-opcode, an instruction followed by zero bytes (which are its
    /// immediates or `unreachable`s): Kiln's decoder must yield exactly WasmParser's instruction.
    func testEveryOpcodeDecodesAsWasmParserDecodesIt() throws {
        var compared = 0
        var opcodes: [[UInt8]] = (0..<256).filter { ![0xfb, 0xfc, 0xfd, 0xfe].contains($0) }.map { [UInt8($0)] }
        for (prefix, last) in [(0xfb, 0x20), (0xfc, 0x20), (0xfd, 0x120), (0xfe, 0x50)] {
            opcodes += (0...last).map { [UInt8(prefix)] + Self.leb(UInt64($0)) }
        }
        for opcode in opcodes {
            // 0x80-ended immediates read as LEBs of zero; 16 bytes cover v128.const and shuffles.
            let body = opcode + [UInt8](repeating: 0, count: 20) + [0x0b]
            let bytes = Self.module(body: body)
            let theirs = try? wasmParserInstructions(bytes)
            let ours = try? decode(bytes).bodies[0].instructions
            if Self.legacyExceptionOpcodes.contains(opcode[0]), opcode.count == 1 {
                // WasmParser does not know them at all.
                XCTAssertNotNil(ours, "legacy opcode \(opcode)")
                continue
            }
            guard let theirs, let ours else {
                XCTAssertEqual(theirs == nil, ours == nil, "opcode \(opcode): WasmParser \(String(describing: theirs?.first)), Kiln \(String(describing: ours?.first))")
                continue
            }
            XCTAssertEqual(ours.count, theirs.count, "opcode \(opcode)")
            for (mine, expected) in zip(ours, theirs) {
                guard case .standard(let instruction) = mine else {
                    XCTAssertTrue(Self.legacyExceptionOpcodes.contains(opcode[0]), "opcode \(opcode): \(mine)")
                    continue
                }
                XCTAssertEqual(instruction, expected, "opcode \(opcode)")
            }
            compared += 1
        }
        // MVP, 0xFC, SIMD with relaxed SIMD, atomics, GC: well over 500 opcodes.
        XCTAssertGreaterThan(compared, 500)
    }

    /// try, catch, rethrow, delegate, catch_all.
    static let legacyExceptionOpcodes: Set<UInt8> = [0x06, 0x07, 0x09, 0x18, 0x19]

    private func wasmParserInstructions(_ bytes: [UInt8]) throws -> [Instruction] {
        struct Collector: AnyInstructionVisitor {
            typealias VisitorError = Never
            var binaryOffset = 0
            var instructions: [Instruction] = []
            mutating func visit(_ instruction: Instruction) { instructions.append(instruction) }
        }
        var parser = Parser(bytes: bytes, features: .all)
        while let payload = try parser.parseNext() {
            guard case .codeSection(let codes) = payload else { continue }
            var reader = ExpressionParser(code: codes[0])
            var collector = Collector()
            while let visit = try reader.parse() { try visit(visitor: &collector) }
            return collector.instructions
        }
        return []
    }

    // MARK: Name section

    func testNameSectionGivesModuleAndFunctionNamesAndSkipsTheRest() throws {
        func custom(_ contents: [UInt8]) -> [UInt8] { Self.section(0, [0x04] + Array("name".utf8) + contents) }
        let subsections: [UInt8] = Self.section(0, [0x01, 0x6d])  // module "m"
            + Self.section(2, [0x01, 0x00, 0x01, 0x00, 0x01, 0x78])  // locals: skipped
            + Self.section(1, [0x01, 0x00, 0x02, 0x66, 0x31])  // function 0 "f1"
        let info = try decode(Self.module(body: [0x0b]) + custom(subsections))
        XCTAssertEqual(info.info.names.module, "m")
        XCTAssertEqual(info.info.names.functions, [0: "f1"])
        // Invalid UTF-8, or a subsection past the section: the section is ignored, not an error.
        XCTAssertNil(try decode(Self.module(body: [0x0b]) + custom(Self.section(0, [0x01, 0xff]))).info.names.module)
        XCTAssertNil(try decode(Self.module(body: [0x0b]) + custom([0x00, 0x09, 0x01, 0x6d])).info.names.module)
    }

    // MARK: Legacy exception handling, tags, element segments

    func testLegacyExceptionHandlingDecodes() throws {
        // try (empty) ... catch 0 ... catch_all ... end; try delegate 0; rethrow 0 inside a catch.
        let tagSection = Self.section(13, [0x01, 0x00, 0x00])  // one tag of type 0
        let body: [UInt8] = [
            0x06, 0x40, 0x01, 0x07, 0x00, 0x09, 0x00, 0x19, 0x01, 0x0b,
            0x06, 0x40, 0x18, 0x00,
            0x0b,
        ]
        // The tag section goes between the memory and the global sections.
        let info = try decode(Self.module(body: body, extraSections: tagSection))
        XCTAssertEqual(info.info.tags, [0])
        let kinds = info.bodies[0].instructions.map { instruction -> String in
            switch instruction {
            case .standard(let standard): return "\(standard)"
            case .legacyTry: return "try"
            case .legacyCatch(let tag): return "catch \(tag)"
            case .legacyCatchAll: return "catch_all"
            case .legacyDelegate(let depth): return "delegate \(depth)"
            case .legacyRethrow(let depth): return "rethrow \(depth)"
            }
        }
        XCTAssertEqual(kinds, ["try", "nop", "catch 0", "rethrow 0", "catch_all", "nop", "end", "try", "delegate 0", "end"])

        // The default engine implements them.
        XCTAssertNoThrow(try Module.validate(bytes: Self.module(body: body, extraSections: tagSection)))
    }

    func testTagImportsAndExportsDecode() throws {
        let bytes: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
            + Self.section(1, [0x01, 0x60, 0x01, 0x7f, 0x00])
            + Self.section(2, [0x01, 0x01, 0x6d, 0x01, 0x74, 0x04, 0x00, 0x00])  // (import "m" "t" (tag (type 0)))
            + Self.section(13, [0x01, 0x00, 0x00])
            + Self.section(7, [0x01, 0x01, 0x65, 0x04, 0x01])  // (export "e" (tag 1))
        let info = try decode(bytes)
        XCTAssertEqual(info.info.tags, [0, 0])
        XCTAssertEqual(info.info.importedTagCount, 1)
    }

    func testElementSegmentFlagsPast7AreMalformed() {
        // Flags 8 once read as flags 0: an active segment of table 0 at offset 0, no functions.
        let bytes: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
            + Self.section(4, [0x01, 0x70, 0x00, 0x00])
            + Self.section(9, [0x01, 0x08, 0x41, 0x00, 0x0b, 0x00, 0x00])
        XCTAssertEqual(malformedReason(bytes), "malformed elements segment kind")
    }

    func testElementSegmentsOfEveryFlagDecode() throws {
        // Flags 0...7 over one table and one function.
        let segments: [[UInt8]] = [
            [0x00, 0x41, 0x00, 0x0b, 0x01, 0x00],
            [0x01, 0x00, 0x01, 0x00],
            [0x02, 0x00, 0x41, 0x00, 0x0b, 0x00, 0x01, 0x00],
            [0x03, 0x00, 0x01, 0x00],
            [0x04, 0x41, 0x00, 0x0b, 0x01, 0xd2, 0x00, 0x0b],
            [0x05, 0x70, 0x01, 0xd0, 0x70, 0x0b],
            [0x06, 0x00, 0x41, 0x00, 0x0b, 0x70, 0x01, 0xd2, 0x00, 0x0b],
            [0x07, 0x70, 0x01, 0xd2, 0x00, 0x0b],
        ]
        let bytes: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
            + Self.section(1, [0x01, 0x60, 0x00, 0x00])
            + Self.section(3, [0x01, 0x00])
            + Self.section(4, [0x01, 0x70, 0x00, 0x01])
            + Self.section(9, [UInt8(segments.count)] + segments.flatMap { $0 })
            + Self.section(10, [0x01, 0x02, 0x00, 0x0b])
        let info = try decode(bytes)
        XCTAssertEqual(info.info.elements.map(\.mode), [
            .active(table: 0, offset: [.i32Const(value: 0), .end]), .passive, .active(table: 0, offset: [.i32Const(value: 0), .end]),
            .declarative, .active(table: 0, offset: [.i32Const(value: 0), .end]), .passive,
            .active(table: 0, offset: [.i32Const(value: 0), .end]), .declarative,
        ])
        XCTAssertEqual(info.info.elements[0].type, ReferenceType(isNullable: false, heapType: .funcRef))
        XCTAssertEqual(info.info.elements[5].initializer, [[.refNull(type: .funcRef), .end]])
        XCTAssertNoThrow(try Module.validate(bytes: bytes))
    }
}
