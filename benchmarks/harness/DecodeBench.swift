// `kiln-bench decode FILE`: decoding speed of Kiln's decoder against the way Kiln decoded
// before it had its own (WasmParser's module parser, its name-section parser, and its
// ExpressionParser for every body, collecting `Instruction` values and keeping every body).
// Best of --reps, thread CPU time.
import Foundation
@_spi(Benchmarks) import Kiln
import WasmParser

/// Collects each instruction WasmParser's expression parser visits.
private struct Collector: AnyInstructionVisitor {
    typealias VisitorError = Never
    var binaryOffset = 0
    var instructions: [Instruction] = []
    mutating func visit(_ instruction: Instruction) { instructions.append(instruction) }
}

/// WasmParser's way: every section, then every body's instructions into an array, all kept
/// (as Kiln keeps every body in its ModuleInfo).
private func decodeWithWasmParser(_ bytes: [UInt8]) throws -> Int {
    var parser = Parser(bytes: bytes, features: .all)
    var count = 0
    var bodies: [([Instruction], [Int])] = []
    while let payload = try parser.parseNext() {
        if case .customSection(let section) = payload, section.name == "name" {
            // Kiln's decoder before its own read the name section with WasmParser too.
            var names = NameSectionParser(stream: StaticByteStreamSource(bytes: section.bytes))
            _ = try? names.parseAll()
        }
        guard case .codeSection(let codes) = payload else { continue }
        for code in codes {
            var reader = ExpressionParser(code: code)
            var collector = Collector()
            var offsets: [Int] = []
            while let visit = try reader.parse() {
                try visit(visitor: &collector)
                offsets.append(collector.binaryOffset)
            }
            count += collector.instructions.count
            bodies.append((collector.instructions, offsets))
        }
    }
    return count + bodies.count - bodies.count
}

func runDecode(file: String, reps: Int) {
    let bytes = readBytes(file)
    func best(_ body: () throws -> Int) -> (ms: Double, instructions: Int?, error: String?) {
        var fastest = UInt64.max
        var result = 0
        for _ in 0..<reps {
            let start = threadCPUNs()
            do { result = try body() } catch { return (0, nil, "\(error)") }
            fastest = min(fastest, threadCPUNs() - start)
        }
        return (Double(fastest) / 1e6, result, nil)
    }
    let kiln = best { try DecodeBenchmark.decode(bytes) }
    let wasmParser = best { try decodeWithWasmParser(bytes) }
    emit([
        ("mode", "decode"), ("file", file), ("bytes", bytes.count),
        ("kiln_decode_ms", kiln.ms), ("kiln_instructions", kiln.instructions), ("kiln_error", kiln.error),
        ("wasmparser_decode_ms", wasmParser.ms), ("wasmparser_instructions", wasmParser.instructions),
        ("wasmparser_error", wasmParser.error),
    ])
}
