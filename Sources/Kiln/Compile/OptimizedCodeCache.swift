import Foundation
import KilnRuntimeC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Optimized code on disk, one file per module: `<name>.kso`, the shared object followed by a
/// footer (magic, the object's length, its SHA-256, the code's key), so that a truncated,
/// corrupted or misnamed entry is detected, deleted and rebuilt, never loaded. Entries are
/// written to a temporary file and renamed into place (atomic; concurrent writers of one key
/// write the same bytes); a load marks the entry used (mtime), and a store evicts the least
/// recently used entries past the size cap. The directory is private to the user (0700).
public struct OptimizedCodeCache: Sendable {
    /// The cache directory.
    public let directory: String
    /// Bytes the entries may take together before the least recently used are evicted.
    public let capacity: Int

    /// Default cap: 1 GiB.
    public static let defaultCapacity = 1 << 30
    static let suffix = ".kso"
    static let magic = Array("KILNSO01".utf8)
    static let footerSize = 8 + 8 + 32 + 32

    public init(directory: String, capacity: Int = OptimizedCodeCache.defaultCapacity) {
        self.directory = directory
        self.capacity = capacity
    }

    /// The directory Kiln uses: `configured`, else `$KILN_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
    public static func defaultDirectory(configured: String? = nil) -> String {
        if let configured, !configured.isEmpty { return configured }
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["KILN_CACHE_DIR"], !directory.isEmpty { return directory }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/kiln" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/kiln"
    }

    /// What the cache holds.
    public struct Statistics: Sendable, Equatable {
        /// Entries.
        public var entries: Int
        /// Their total size in bytes.
        public var bytes: Int
    }

    public func statistics() -> Statistics {
        let entries = listEntries()
        return Statistics(entries: entries.count, bytes: entries.reduce(0) { $0 + $1.size })
    }

    /// Deletes every entry (and leftover temporary files, and the remembered compiler versions).
    public func clear() throws(KilnError) {
        try? FileManager.default.removeItem(atPath: directory + "/compilers")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasSuffix(Self.suffix) || name.hasPrefix(".tmp-") {
            if unlink(directory + "/" + name) != 0 && errno != ENOENT {
                throw KilnError.compilation(reason: "cannot delete \(directory)/\(name): \(String(cString: strerror(errno)))")
            }
        }
    }

    // MARK: - Entries

    func path(of name: [UInt8]) -> String { directory + "/" + Self.hex(name) + Self.suffix }

    /// Whether an entry of that name exists (intact or not).
    func hasEntry(name: [UInt8]) -> Bool { access(path(of: name), F_OK) == 0 }

    /// The entry's shared object if it is present and intact (a damaged entry is deleted), and
    /// the entry's path; marks the entry used.
    func object(name: [UInt8], key: [UInt8]) -> (object: [UInt8], path: String)? {
        let path = path(of: name)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
            guard count > 0 else { break }
            done += count
        }
        guard done == size, Self.verify(bytes, key: key) else {
            unlink(path)
            return nil
        }
        // Mark it used, for eviction.
        futimens(fd, nil)
        bytes.removeLast(Self.footerSize)
        return (bytes, path)
    }

    /// The entry's code if it is present and intact; a damaged entry is deleted.
    func load(name: [UInt8], key: [UInt8]) -> SharedObjectCode? {
        guard let (object, path) = object(name: name, key: key) else { return nil }
        // dlopen may hand back an object it already holds under this name or inode (an entry
        // replaced or evicted while loaded): then load a private copy of the verified bytes.
        if let code = try? SharedObjectCode.load(path: path, key: key) { return code }
        return try? SharedObjectCode.loadCopy(of: object, key: key)
    }

    /// Writes an entry atomically and loads it. Evicts past the cap.
    func store(name: [UInt8], key: [UInt8], object: [UInt8]) throws(KilnError) -> SharedObjectCode {
        try ensureDirectory()
        var entry = object
        entry += Self.magic
        entry += Self.littleEndian(UInt64(object.count))
        entry += Self.sha256(object)
        entry += key
        let temporary = directory + "/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw KilnError.compilation(reason: "cannot write to the cache \(directory): \(String(cString: strerror(errno)))")
        }
        var written = 0
        while written < entry.count {
            let count = entry.withUnsafeBytes { write(fd, $0.baseAddress! + written, entry.count - written) }
            guard count > 0 else { break }
            written += count
        }
        close(fd)
        guard written == entry.count, rename(temporary, path(of: name)) == 0 else {
            unlink(temporary)
            throw KilnError.compilation(reason: "cannot write to the cache \(directory): \(String(cString: strerror(errno)))")
        }
        evict(keeping: Self.hex(name) + Self.suffix)
        guard let code = load(name: name, key: key) else {
            throw KilnError.compilation(reason: "the cache entry just written to \(directory) does not load")
        }
        return code
    }

    /// Whether bytes are an intact entry for `key`.
    static func verify(_ bytes: [UInt8], key: [UInt8]) -> Bool {
        guard bytes.count >= footerSize else { return false }
        let footer = bytes.count - footerSize
        guard Array(bytes[footer..<footer + 8]) == magic else { return false }
        var length: UInt64 = 0
        for (index, byte) in bytes[footer + 8..<footer + 16].enumerated() { length |= UInt64(byte) << (8 * UInt64(index)) }
        guard length == UInt64(footer) else { return false }
        guard Array(bytes[footer + 48..<footer + 80]) == key else { return false }
        let checksum = bytes.withUnsafeBytes { raw -> [UInt8] in
            var out = [UInt8](repeating: 0, count: 32)
            kiln_sha256(raw.baseAddress, UInt64(footer), &out)
            return out
        }
        return checksum == Array(bytes[footer + 16..<footer + 48])
    }

    /// Creates the directory (0700), or makes an existing one of ours private.
    func ensureDirectory() throws(KilnError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw KilnError.compilation(reason: "cannot create the cache directory \(directory): \(error.localizedDescription)")
        }
        chmod(directory, 0o700)
    }

    private func listEntries() -> [(name: String, size: Int, used: Double)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(Self.suffix) }.compactMap { name in
            var info = stat()
            guard stat(directory + "/" + name, &info) == 0 else { return nil }
            #if os(Linux)
            let used = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) * 1e-9
            #else
            let used = Double(info.st_mtimespec.tv_sec) + Double(info.st_mtimespec.tv_nsec) * 1e-9
            #endif
            return (name, Int(info.st_size), used)
        }
    }

    /// Deletes the least recently used entries until the rest fit the cap (never `keeping`).
    func evict(keeping: String) {
        let entries = listEntries().sorted { $0.used < $1.used }
        var total = entries.reduce(0) { $0 + $1.size }
        for entry in entries where total > capacity && entry.name != keeping {
            if unlink(directory + "/" + entry.name) == 0 || errno == ENOENT { total -= entry.size }
        }
    }

    // MARK: - Bytes

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBytes { kiln_sha256($0.baseAddress, UInt64($0.count), &out) }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func littleEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}
