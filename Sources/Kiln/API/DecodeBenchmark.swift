import WasmParser

/// Decoding alone, for `kiln-bench decode` (its speed on 100 MB modules matters): not API.
@_spi(Benchmarks) public enum DecodeBenchmark {
    /// Decodes `bytes` with every proposal Kiln can decode allowed, and returns how many
    /// instructions the function bodies have.
    public static func decode(_ bytes: [UInt8]) throws(KilnError) -> Int {
        let info = try ModuleDecoder.decode(bytes, gate: FeatureGate(allowing: .all))
        var count = 0
        for index in 0..<info.code.count { count += try info.code.body(index).instructions.count }
        return count
    }
}
