import Foundation

/// The WebAssembly proposals an ``Engine`` accepts beyond the Wasm 2.0 core (MVP, mutable
/// globals, multi-value, sign extension, saturating truncation, bulk memory and reference types
/// are always on), in the spirit of wasmtime's `Config::wasm_*`.
///
/// The decoder consults the set while it reads a module: a module that uses a proposal outside
/// it fails at ``Module`` creation (and in ``Module/validate(bytes:features:)``) with
/// ``KilnError/unsupported(feature:)``, whether the proposal is switched off in the
/// configuration or not implemented by Kiln yet (``WasmFeatures/implemented``). Validation,
/// compilation and `kiln validate`/`compile`/`run` therefore accept exactly the same modules.
///
/// ```swift
/// var configuration = EngineConfiguration()
/// configuration.features.remove(.simd)     // reject modules that use v128
/// let engine = Engine(configuration: configuration)
/// ```
public struct WasmFeatures: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// 128-bit SIMD (Wasm 2.0): the `v128` type and the 0xFD instructions.
    public static let simd = WasmFeatures(rawValue: 1 << 0)
    /// Relaxed SIMD (Wasm 3.0): the 0xFD 0x100... instructions.
    public static let relaxedSIMD = WasmFeatures(rawValue: 1 << 1)
    /// Exception handling (Wasm 3.0): tags, `throw`, `throw_ref`, `try_table`, `exnref`.
    public static let exceptions = WasmFeatures(rawValue: 1 << 2)
    /// The legacy exception-handling instructions (`try`, `catch`, `catch_all`, `delegate`,
    /// `rethrow`), still emitted by older toolchains.
    public static let legacyExceptions = WasmFeatures(rawValue: 1 << 3)
    /// Tail calls (Wasm 3.0): `return_call`, `return_call_indirect`, `return_call_ref`.
    public static let tailCalls = WasmFeatures(rawValue: 1 << 4)
    /// 64-bit memories and tables (Wasm 3.0).
    public static let memory64 = WasmFeatures(rawValue: 1 << 5)
    /// More than one memory (Wasm 3.0).
    public static let multiMemory = WasmFeatures(rawValue: 1 << 6)
    /// Integer `add`, `sub`, `mul` in constant expressions (Wasm 3.0).
    public static let extendedConst = WasmFeatures(rawValue: 1 << 7)
    /// Typed function references (Wasm 3.0): non-null and concrete reference types,
    /// `call_ref`, `ref.as_non_null`, `br_on_null`, `br_on_non_null`, table initializers.
    public static let functionReferences = WasmFeatures(rawValue: 1 << 8)
    /// Garbage collection (Wasm 3.0): struct, array and i31 types and the 0xFB instructions.
    public static let gc = WasmFeatures(rawValue: 1 << 9)
    /// Threads: the 0xFE atomic instructions (Kiln runs them on unshared memories, as
    /// single-threaded builds of C++ programs emit them; shared memories are not supported).
    public static let threads = WasmFeatures(rawValue: 1 << 10)

    /// Every proposal Kiln knows by name, in a stable order, with its name on the command line
    /// (`kiln --wasm-features`) and in wasm-tools' `--features`.
    public static let named: [(feature: WasmFeatures, name: String)] = [
        (.simd, "simd"), (.relaxedSIMD, "relaxed-simd"), (.exceptions, "exceptions"),
        (.legacyExceptions, "legacy-exceptions"), (.tailCalls, "tail-call"), (.memory64, "memory64"),
        (.multiMemory, "multi-memory"), (.extendedConst, "extended-const"),
        (.functionReferences, "function-references"), (.gc, "gc"), (.threads, "threads"),
    ]

    /// Every proposal Kiln knows of.
    public static let all = WasmFeatures(named.map(\.feature))

    /// The proposals Kiln implements end to end (decode, validate, lower, run). Enabling one
    /// outside this set and `validatedOnly` in a configuration has no effect: its modules stay
    /// unsupported.
    public static let implemented: WasmFeatures = [
        .simd, .relaxedSIMD, .extendedConst, .functionReferences, .exceptions, .legacyExceptions,
        .tailCalls, .memory64, .multiMemory, .threads, .gc,
    ]

    /// The proposals Kiln decodes and validates completely but compiles only in part, refused as
    /// ``KilnError/unsupported(feature:)`` after validation. None since GC landed.
    public static let validatedOnly: WasmFeatures = []

    /// The default configuration: everything Kiln implements or validates.
    public static let `default`: WasmFeatures = implemented.union(validatedOnly)

    /// The proposals' names, comma-separated (the `--wasm-features` syntax).
    public var description: String {
        Self.named.filter { contains($0.feature) }.map(\.name).joined(separator: ",")
    }

    /// Applies a `--wasm-features` list to `self`: comma-separated names, each optionally
    /// prefixed with `-` to disable it; `all` and `-all` switch every proposal. Nil (with the
    /// offending word) on an unknown name.
    public func applying(_ list: String) -> Result<WasmFeatures, UnknownFeatureName> {
        var result = self
        for word in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !word.isEmpty {
            let disable = word.hasPrefix("-")
            let name = disable ? String(word.dropFirst()) : word
            let features: WasmFeatures
            if name == "all" {
                features = .all
            } else if let entry = Self.named.first(where: { $0.name == name }) {
                features = entry.feature
            } else {
                return .failure(UnknownFeatureName(name: name))
            }
            if disable { result.subtract(features) } else { result.formUnion(features) }
        }
        return .success(result)
    }

    /// A `--wasm-features` word that names no proposal.
    public struct UnknownFeatureName: Error, CustomStringConvertible {
        public var name: String
        public var description: String {
            "unknown WebAssembly feature \"\(name)\"; known: \(WasmFeatures.named.map(\.name).joined(separator: ", ")), all"
        }
    }

    /// The human name of a single proposal, for error messages.
    var displayName: String {
        switch self {
        case .simd: return "SIMD"
        case .relaxedSIMD: return "relaxed SIMD"
        case .exceptions: return "exception handling"
        case .legacyExceptions: return "legacy exception handling"
        case .tailCalls: return "tail calls"
        case .memory64: return "memory64"
        case .multiMemory: return "multi-memory"
        case .extendedConst: return "extended constant expressions"
        case .functionReferences: return "typed function references"
        case .gc: return "GC"
        case .threads: return "threads"
        default: return description
        }
    }
}

/// What a module may use: the configured features, of which only the implemented (or
/// validated, `WasmFeatures.validatedOnly`) ones count.
struct FeatureGate: Sendable {
    let configured: WasmFeatures
    let allowed: WasmFeatures

    init(_ configured: WasmFeatures) {
        self.configured = configured
        allowed = configured.intersection(WasmFeatures.implemented.union(.validatedOnly))
    }

    /// A gate that lets `allowed` through whether implemented or not (decoding benchmarks).
    init(allowing allowed: WasmFeatures) {
        configured = allowed
        self.allowed = allowed
    }

    /// Throws unless `feature` may be used; `what` names the construct that needs it.
    @inline(__always)
    func require(_ feature: WasmFeatures, _ what: @autoclosure () -> String) throws(KilnError) {
        if !allowed.contains(feature) { throw refusal(feature, what()) }
    }

    @inline(never)
    func refusal(_ feature: WasmFeatures, _ what: String) -> KilnError {
        let why = WasmFeatures.implemented.union(.validatedOnly).contains(feature)
            ? "disabled in the engine configuration (EngineConfiguration.features, kiln --wasm-features \(feature))"
            : "not implemented by Kiln yet"
        return KilnError.unsupported(feature: "\(feature.displayName) (\(what)): \(why)")
    }
}
