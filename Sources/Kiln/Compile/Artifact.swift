import Foundation
import KilnRuntimeC

/// Why a precompiled artifact cannot be loaded.
public enum ArtifactError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes do not start with the artifact magic.
    case notAnArtifact
    /// The bytes are truncated or damaged (the checksum or the layout does not hold).
    case corrupt(reason: String)
    /// The artifact's format is one this Kiln does not read.
    case formatVersion(artifact: UInt32, supported: UInt32)
    /// Another build of Kiln wrote it: its code may not match this runtime.
    case kilnVersion(artifact: String, running: String)
    /// It was compiled for another architecture, OS or CPU.
    case target(artifact: String, running: String)
    /// It was compiled (and validated) with other WebAssembly features than the engine's.
    case features(artifact: String, engine: String)
    /// It was compiled with other code-shaping engine options (fuel metering, epoch checks).
    case engineOptions(artifact: String, engine: String)

    public var description: String {
        switch self {
        case .notAnArtifact:
            return "not a Kiln artifact (no KILNAOT magic); compile one with `kiln compile app.wasm -o app.kiln`"
        case .corrupt(let reason):
            return "the artifact is damaged (\(reason)); compile it again"
        case .formatVersion(let artifact, let supported):
            return "artifact format \(artifact), this Kiln reads format \(supported); compile it again with this Kiln"
        case .kilnVersion(let artifact, let running):
            return "compiled by Kiln \(artifact), this is Kiln \(running); compile it again with this Kiln"
        case .target(let artifact, let running):
            return "compiled for \(artifact), this machine is \(running); compile it on (or for) this machine"
        case .features(let artifact, let engine):
            return "compiled with features \(artifact), the engine has \(engine); use the same --wasm-features"
        case .engineOptions(let artifact, let engine):
            return "compiled with \(artifact), the engine uses \(engine); compile with the same --consume-fuel/--epoch-interruption as the run"
        }
    }
}

/// A precompiled module (`kiln compile app.wasm -o app.kiln`): the optimized shared object and
/// the Wasm module it was built from (to instantiate, and to validate again), with a header that
/// says which Kiln, target, features and engine options it needs.
///
/// Layout, little-endian: the magic `KILNAOT\0`, the format version (u32), then fields, each a
/// u64 length and its bytes, in this order: Kiln's version, the target, the features, the engine
/// options, the compiler, the signature ids (u64 each), the cache key, the Wasm module, the
/// shared object; last, the SHA-256 of everything before it.
struct Artifact: Equatable {
    static let magic: [UInt8] = Array("KILNAOT".utf8) + [0]
    static let formatVersion: UInt32 = 1

    var kilnVersion: String
    var target: String
    var features: String
    var engineOptions: String
    var compiler: String
    var signatureIDs: [UInt64]
    var key: [UInt8]
    var wasm: [UInt8]
    var object: [UInt8]

    static func isArtifact(_ bytes: [UInt8]) -> Bool { bytes.starts(with: magic) }

    /// What an engine's configuration must match to load an artifact: its features and the
    /// options that change the generated code.
    static func requirements(of engine: Engine) -> (features: String, engineOptions: String) {
        let options = engine.loweringOptions
        return ("\(engine.configuration.features)", "fuel metering \(options.consumeFuel ? "on" : "off"), epoch checks \(options.epochInterruption ? "on" : "off")")
    }

    /// The short form of a target description: its first line (architecture and OS) and the CPU model.
    static func shortTarget(_ description: String) -> String {
        let lines = description.split(separator: "\n")
        let model = lines.first { $0.hasPrefix("model name") }.map { ", " + $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? ""
        return String(lines.first ?? "") + model
    }

    func serialized() -> [UInt8] {
        var bytes = Self.magic + withUnsafeBytes(of: Self.formatVersion.littleEndian, Array.init)
        func field(_ value: [UInt8]) {
            bytes += OptimizedCodeCache.littleEndian(UInt64(value.count))
            bytes += value
        }
        for text in [kilnVersion, target, features, engineOptions, compiler] { field(Array(text.utf8)) }
        field(signatureIDs.flatMap { OptimizedCodeCache.littleEndian($0) })
        field(key)
        field(wasm)
        field(object)
        bytes += OptimizedCodeCache.sha256(bytes)
        return bytes
    }

    /// Parses and checks an artifact's bytes (untrusted: every length is checked).
    init(parsing bytes: [UInt8]) throws(ArtifactError) {
        guard Self.isArtifact(bytes) else { throw .notAnArtifact }
        guard bytes.count >= Self.magic.count + 4 + 32 else { throw .corrupt(reason: "truncated: \(bytes.count) bytes") }
        let body = bytes.count - 32
        guard OptimizedCodeCache.sha256(Array(bytes[0..<body])) == Array(bytes[body...]) else {
            throw .corrupt(reason: "checksum mismatch")
        }
        var position = Self.magic.count
        func integer(_ size: Int) throws(ArtifactError) -> UInt64 {
            guard body - position >= size else { throw .corrupt(reason: "truncated at byte \(position)") }
            var value: UInt64 = 0
            for index in 0..<size { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
            position += size
            return value
        }
        let version = UInt32(try integer(4))
        guard version == Self.formatVersion else { throw .formatVersion(artifact: version, supported: Self.formatVersion) }
        func field() throws(ArtifactError) -> [UInt8] {
            let length = try integer(8)
            guard length <= UInt64(body - position) else { throw .corrupt(reason: "a field of \(length) bytes past the end at byte \(position)") }
            defer { position += Int(length) }
            return Array(bytes[position..<position + Int(length)])
        }
        func text() throws(ArtifactError) -> String { String(decoding: try field(), as: UTF8.self) }
        kilnVersion = try text()
        target = try text()
        features = try text()
        engineOptions = try text()
        compiler = try text()
        let ids = try field()
        guard ids.count % 8 == 0 else { throw .corrupt(reason: "signature ids of \(ids.count) bytes") }
        signatureIDs = stride(from: 0, to: ids.count, by: 8).map { start in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(ids[start + $1]) << (8 * UInt64($1)) }
        }
        key = try field()
        wasm = try field()
        object = try field()
        guard key.count == 32, position == body else { throw .corrupt(reason: "unexpected layout") }
    }

    init(kilnVersion: String, target: String, features: String, engineOptions: String, compiler: String,
         signatureIDs: [UInt64], key: [UInt8], wasm: [UInt8], object: [UInt8]) {
        self.kilnVersion = kilnVersion
        self.target = target
        self.features = features
        self.engineOptions = engineOptions
        self.compiler = compiler
        self.signatureIDs = signatureIDs
        self.key = key
        self.wasm = wasm
        self.object = object
    }

    /// Refuses an artifact this Kiln, machine or engine cannot run.
    func check(for engine: Engine) throws(ArtifactError) {
        guard kilnVersion == OptimizingCompiler.kilnVersion else {
            throw .kilnVersion(artifact: kilnVersion, running: OptimizingCompiler.kilnVersion)
        }
        guard target == OptimizingCompiler.targetDescription else {
            var artifact = Self.shortTarget(target), running = Self.shortTarget(OptimizingCompiler.targetDescription)
            if artifact == running {
                artifact += " (other CPU features)"
                running += " (other CPU features)"
            }
            throw .target(artifact: artifact, running: running)
        }
        let required = Self.requirements(of: engine)
        guard features == required.features else { throw .features(artifact: features, engine: required.features) }
        guard engineOptions == required.engineOptions else { throw .engineOptions(artifact: engineOptions, engine: required.engineOptions) }
    }
}
