/// Reads the binary format from a byte buffer: bytes, LEB128 integers with the spec's exact
/// rules (non-minimal encodings are allowed; more bytes than `ceil(N/7)`, or unused bits that
/// are not zero (unsigned) or the sign's extension (signed), are malformed), and fixed-size
/// values.
///
/// Positions are offsets in the whole module, so errors name the byte they are about. Every read
/// checks `position < end` itself, so the unchecked buffer subscript never reads outside it.
struct ByteReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    var position: Int
    /// One past the last byte this reader may read (a function body's or a section's end).
    let end: Int

    /// `end` must not exceed `bytes.count`.
    init(bytes: UnsafeBufferPointer<UInt8>, position: Int, end: Int) {
        precondition(end <= bytes.count && position >= 0)
        self.bytes = bytes
        self.position = position
        self.end = end
    }

    var isAtEnd: Bool { position >= end }
    var remaining: Int { end &- position }

    @inline(never)
    func malformed(_ reason: String, at offset: Int? = nil) -> KilnError {
        KilnError.malformed(reason: reason, offset: offset ?? position)
    }

    @inline(__always)
    mutating func byte() throws(KilnError) -> UInt8 {
        guard position < end else { throw malformed("unexpected end of section or function") }
        let value = bytes[position]
        position &+= 1
        return value
    }

    /// The next byte, not consumed; nil at the end.
    @inline(__always)
    func peek() -> UInt8? {
        position < end ? bytes[position] : nil
    }

    @inline(__always)
    mutating func u32() throws(KilnError) -> UInt32 {
        // One byte covers most indices and immediates.
        if position < end, bytes[position] < 0x80 {
            defer { position &+= 1 }
            return UInt32(bytes[position])
        }
        return UInt32(truncatingIfNeeded: try unsignedLEB(bits: 32))
    }

    mutating func u64() throws(KilnError) -> UInt64 { try unsignedLEB(bits: 64) }

    mutating func s32() throws(KilnError) -> Int32 {
        if position < end, bytes[position] < 0x40 {
            defer { position &+= 1 }
            return Int32(bytes[position])
        }
        return Int32(truncatingIfNeeded: try signedLEB(bits: 32))
    }

    mutating func s33() throws(KilnError) -> Int64 { try signedLEB(bits: 33) }

    mutating func s64() throws(KilnError) -> Int64 { try signedLEB(bits: 64) }

    @inline(never)
    mutating func unsignedLEB(bits: Int) throws(KilnError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift = 0
        while true {
            let byte = try self.byte()
            let bitsLeft = bits &- shift
            if bitsLeft <= 7 {
                // The last byte the width allows: no continuation, no bits past the width.
                if byte & 0x80 != 0 { throw malformed("integer representation too long", at: start) }
                if byte >> UInt8(bitsLeft) != 0 { throw malformed("integer too large", at: start) }
                return result | UInt64(byte) << UInt64(shift)
            }
            result |= UInt64(byte & 0x7f) << UInt64(shift)
            if byte & 0x80 == 0 { return result }
            shift &+= 7
        }
    }

    @inline(never)
    mutating func signedLEB(bits: Int) throws(KilnError) -> Int64 {
        let start = position
        var result: UInt64 = 0
        var shift = 0
        while true {
            let byte = try self.byte()
            let bitsLeft = bits &- shift
            if bitsLeft <= 7 {
                if byte & 0x80 != 0 { throw malformed("integer representation too long", at: start) }
                // The sign bit and the unused bits above it must all be equal.
                let signAndUnused: UInt8 = (0x7f >> UInt8(bitsLeft &- 1)) << UInt8(bitsLeft &- 1)
                let top = byte & signAndUnused
                if top != 0 && top != signAndUnused { throw malformed("integer too large", at: start) }
            }
            result |= UInt64(byte & 0x7f) << UInt64(shift)
            shift &+= 7
            if byte & 0x80 == 0 {
                if shift < 64, byte & 0x40 != 0 { result |= ~0 << UInt64(shift) }
                return Int64(bitPattern: result)
            }
        }
    }

    mutating func fixed32() throws(KilnError) -> UInt32 {
        guard remaining >= 4 else { throw malformed("unexpected end of section or function") }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[position &+ index]) << UInt32(8 * index) }
        position &+= 4
        return value
    }

    mutating func fixed64() throws(KilnError) -> UInt64 {
        guard remaining >= 8 else { throw malformed("unexpected end of section or function") }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[position &+ index]) << UInt64(8 * index) }
        position &+= 8
        return value
    }

    /// The next `count` bytes as an array (v128 constants and shuffle masks).
    mutating func array(count: Int) throws(KilnError) -> [UInt8] {
        guard remaining >= count else { throw malformed("unexpected end of section or function") }
        defer { position &+= count }
        return Array(bytes[position..<(position &+ count)])
    }
}
