/// Table and memory limits past the 32-bit range.
///
/// Wasm 3.0 encodes every limit as a u64, so `(table 0x1_0000_0000 funcref)` is well-formed and
/// invalid ("table size must be at most 2^32-1"). WasmParser reads the limits of 32-bit tables
/// and memories as u32 and fails with a LEB error instead. When it does, this scan re-reads the
/// import, table and memory sections and finds the limit that is only too large.
enum LimitsScan {
    /// The validation error for an oversized limit whose encoding spans `offset` (or any, when
    /// the parser gave no offset); nil if there is none or the sections do not parse here either.
    static func oversizedLimit(in bytes: [UInt8], errorOffset: Int?) -> KilnError? {
        var reader = Reader(bytes: bytes, position: 8)
        guard bytes.count >= 8 else { return nil }
        while reader.position < bytes.count {
            // The size is untrusted: compare it with the bytes left before adding (a size near 2^64
            // must not wrap the end around).
            guard let id = reader.byte(), let size = reader.leb(), size <= UInt64(bytes.count - reader.position)
            else { return nil }
            let end = reader.position + Int(size)
            var section = Reader(bytes: Array(bytes[..<end]), position: reader.position)
            let found: Found?
            switch id {
            case 2: found = scanImports(&section)
            case 4: found = scanTables(&section)
            case 5: found = scanMemories(&section)
            default: found = nil
            }
            if let found, errorOffset.map({ found.range.contains($0) }) ?? true {
                let message = found.isTable
                    ? "table size must be at most 2^32-1" : "memory size must be at most 65536 pages (4GiB)"
                return KilnError.invalid(reason: message, function: nil, offset: found.range.lowerBound)
            }
            // The sections come in order: past the memories, nothing is left to find.
            if id == 5 { return nil }
            reader.position = end
        }
        return nil
    }

    /// An oversized limit: the bytes of its encoding, and whether it is a table's.
    private struct Found {
        var range: ClosedRange<Int>
        var isTable: Bool
    }

    private struct Reader {
        let bytes: [UInt8]
        var position: Int

        mutating func byte() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        /// An unsigned LEB128 of at most 64 bits.
        mutating func leb() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard let byte = byte(), shift < 64 else { return nil }
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }

        mutating func skipName() -> Bool {
            guard let length = leb(), length <= UInt64(bytes.count - position) else { return false }
            position += Int(length)
            return true
        }

        /// A value or reference type: one byte, or a (nullable) reference with a heap type.
        mutating func skipValueType() -> Bool {
            guard let first = byte() else { return false }
            if first == 0x63 || first == 0x64 { return leb() != nil }  // heap type: an s33, skipped as bytes
            return true
        }
    }

    /// Limits: nil if they do not parse, else the oversized value found (if any).
    private static func limits(_ reader: inout Reader, isTable: Bool) -> Found?? {
        guard let flags = reader.byte(), flags <= 0x07 else { return nil }
        let is64 = flags & 0x04 != 0
        let count = flags & 0x01 != 0 ? 2 : 1
        var found: Found?
        for _ in 0..<count {
            let start = reader.position
            guard let value = reader.leb() else { return nil }
            let bound: UInt64 = isTable ? 0xFFFF_FFFF : 0x1_0000
            if !is64, value > bound, found == nil {
                found = Found(range: start...(reader.position - 1), isTable: isTable)
            }
        }
        return .some(found)
    }

    private static func scanImports(_ reader: inout Reader) -> Found? {
        guard let count = reader.leb() else { return nil }
        for _ in 0..<count {
            guard reader.skipName(), reader.skipName(), let kind = reader.byte() else { return nil }
            switch kind {
            case 0x00:
                guard reader.leb() != nil else { return nil }
            case 0x01:
                guard reader.skipValueType(), let result = limits(&reader, isTable: true) else { return nil }
                if let found = result { return found }
            case 0x02:
                guard let result = limits(&reader, isTable: false) else { return nil }
                if let found = result { return found }
            case 0x03:
                guard reader.skipValueType(), reader.byte() != nil else { return nil }
            default:
                return nil
            }
        }
        return nil
    }

    private static func scanTables(_ reader: inout Reader) -> Found? {
        guard let count = reader.leb() else { return nil }
        for _ in 0..<count {
            // A table with an initializer (0x40 0x00) ends in an expression, which is not skipped here.
            let hasInitializer = reader.position < reader.bytes.count && reader.bytes[reader.position] == 0x40
            if hasInitializer { reader.position += 2 }
            guard reader.skipValueType(), let result = limits(&reader, isTable: true) else { return nil }
            if let found = result { return found }
            if hasInitializer { return nil }
        }
        return nil
    }

    private static func scanMemories(_ reader: inout Reader) -> Found? {
        guard let count = reader.leb() else { return nil }
        for _ in 0..<count {
            guard let result = limits(&reader, isTable: false) else { return nil }
            if let found = result { return found }
        }
        return nil
    }
}
