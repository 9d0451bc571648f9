import Foundation
import Kiln
import XCTest

/// The benchmark programs (C compiled to Wasm by zig's clang, benchmarks/build.sh) run through
/// Kiln must give the checksums that the same C gives natively (gcc -O2) and under wasmtime.
final class ProgramChecksumTests: XCTestCase {
    static let expected: [(program: String, checksum: Int64)] = [
        ("checksum", -3313312978819114810),
        ("interp", -112736079555060706),
        ("matmul", -5210626835163079289),
        ("nbody", -7731952429912513434),
        ("randmem", -6032409419593032399),
        ("recursion", 5427752348789893719),
        ("sieve", 293426553385540850),
        ("simd", 7857731270305946081),
        ("sort", 681036673658950895),
        ("strhash", 6762861946764769854),
    ]

    func testBenchmarkProgramsMatchNativeChecksums() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("benchmarks/wasm")
        let engine = Engine()
        for (program, checksum) in Self.expected {
            let module = try Module(engine: engine, contentsOf: directory.appendingPathComponent("\(program).wasm"))
            let store = Store(engine: engine)
            let instance = try Instance(store: store, module: module)
            let run = try instance.typedFunction("run", Void.self, Int64.self)
            XCTAssertEqual(try run(), checksum, program)
        }
    }
}
