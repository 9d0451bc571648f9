import Foundation

/// The official spec suite on disk: where it is, which scripts it has, and which Wasm feature
/// each script tests. SpecTests and ConformanceTests share this, so the groups `swift test`
/// asserts and the rows of docs/conformance.md come from one mapping.
struct SpecSuite: Sendable {
    /// The WebAssembly/testsuite commit of `../shared/spec-testsuite` (and of what scripts/test
    /// fetches when that copy is missing).
    static let testsuiteCommit = "193e551ff22663995b1ac95dc62344133669e14b"

    let directory: URL

    struct NotFound: Error, CustomStringConvertible {
        var tried: [String]
        var description: String {
            "spec suite not found (tried \(tried.joined(separator: ", "))): run scripts/test, which fetches it, "
                + "or set KILN_SPEC_TESTSUITE to a copy of WebAssembly/testsuite at \(SpecSuite.testsuiteCommit)"
        }
    }

    /// The suite: `$KILN_SPEC_TESTSUITE` (or its older name `$KILN_SPEC_DIR`), else
    /// `../shared/spec-testsuite` next to the repository root, else `spec-testsuite/` in the
    /// repository (where scripts/test fetches it). An explicit setting that does not hold the
    /// suite is an error, not a reason to look elsewhere.
    static func locate(filePath: String = #filePath) throws -> SpecSuite {
        let environment = ProcessInfo.processInfo.environment
        for variable in ["KILN_SPEC_TESTSUITE", "KILN_SPEC_DIR"] {
            if let path = environment[variable], !path.isEmpty {
                let url = URL(fileURLWithPath: path).standardizedFileURL
                guard holdsSuite(url) else { throw NotFound(tried: ["$\(variable)=\(url.path)"]) }
                return SpecSuite(directory: url)
            }
        }
        let candidates = [
            repositoryRoot(filePath: filePath).appendingPathComponent("../shared/spec-testsuite").standardizedFileURL,
            repositoryRoot(filePath: filePath).appendingPathComponent("spec-testsuite"),
        ]
        guard let found = candidates.first(where: holdsSuite) else { throw NotFound(tried: candidates.map(\.path)) }
        return SpecSuite(directory: found)
    }

    static func repositoryRoot(filePath: String = #filePath) -> URL {
        // .../Tests/KilnTests/SpecSuite.swift -> repository root
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    private static func holdsSuite(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent("i32.wast").path)
    }

    func url(of script: String) -> URL {
        directory.appendingPathComponent(script + ".wast")
    }

    /// Every script, as paths relative to the suite without `.wast`: the top level, `legacy/`,
    /// `custom/` and `spec-extra/` (the testsuite's `proposals/` is not part of Wasm 3.0).
    func scripts() throws -> [String] {
        var names: [String] = []
        for folder in ["", "legacy/", "custom/", "spec-extra/"] {
            let url = directory.appendingPathComponent(folder)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            for entry in try FileManager.default.contentsOfDirectory(atPath: url.path) where entry.hasSuffix(".wast") {
                names.append(folder + entry.dropLast(5))
            }
        }
        return names.sorted()
    }

    /// The scripts `swift test` runs for `feature`.
    func scripts(of feature: SpecFeature) throws -> [String] {
        try scripts().filter { SpecFeature.of($0) == feature } + feature.scriptsItShares
    }
}

/// The feature a script tests, after the suite README's "File -> feature groups". Each script
/// belongs to one feature; Wasm 2.0's small features (sign extension, saturating conversions,
/// multi-value) live in the core scripts.
enum SpecFeature: String, CaseIterable, Sendable {
    case core = "core (MVP and 2.0 core)"
    case referenceTypes = "reference types (2.0)"
    case bulkMemory = "bulk memory (2.0)"
    case simd = "SIMD (2.0)"
    case exceptions = "exception handling (3.0)"
    case legacyExceptions = "legacy exception handling"
    case tailCalls = "tail calls (3.0)"
    case memory64 = "memory64 (3.0)"
    case multiMemory = "multi-memory (3.0)"
    case relaxedSIMD = "relaxed SIMD (3.0)"
    case typedFunctionReferences = "typed function references (3.0)"
    case extendedConst = "extended const (3.0)"
    case annotations = "custom sections and annotations"
    case gc = "GC (3.0)"

    /// Scripts of other features that this one's test runs too. Extended const has no scripts
    /// of its own: its cases were merged into these.
    var scriptsItShares: [String] {
        self == .extendedConst ? ["data", "elem", "global"] : []
    }

    static func of(_ script: String) -> SpecFeature {
        let name = script.split(separator: "/").last.map(String.init) ?? script
        if script.hasPrefix("legacy/") { return .legacyExceptions }
        if script.hasPrefix("custom/") || name == "annotations" || name == "id" { return .annotations }
        // The MVP memory_grow (the top-level one is the multi-memory variant).
        if script == "spec-extra/memory_grow" { return .core }
        if name.hasPrefix("relaxed_") || name.contains("_relaxed_") { return .relaxedSIMD }
        if name == "simd_memory-multi" { return .multiMemory }
        if name.hasPrefix("simd_") { return .simd }
        if (name.hasSuffix("64") && name != "f64" && name != "i64") || name.hasPrefix("memory64") || name == "table_copy_mixed" {
            return .memory64
        }
        // address0, imports3, linking2, ...: the multi-memory copies of core scripts.
        let digits = "0123456789"
        let numbered = name.count > 1 && "01234".contains(name.last!) && !digits.contains(name.dropLast().last!)
        if numbered || ["memory-multi", "memory_size_import", "memory_grow"].contains(name) {
            return .multiMemory
        }
        if name.hasPrefix("array") || name.hasPrefix("br_on_cast")
            || ["struct", "i31", "ref_cast", "ref_test", "ref_eq", "extern", "type-rec", "type-subtyping", "type-canon",
                "type-equivalence", "binary-gc"].contains(name) {
            return .gc
        }
        if ["call_ref", "ref_as_non_null", "br_on_null", "br_on_non_null", "local_init", "ref", "unreached-valid"].contains(name) {
            return .typedFunctionReferences
        }
        if name.hasPrefix("return_call") { return .tailCalls }
        if ["tag", "throw", "throw_ref", "try_table"].contains(name) { return .exceptions }
        if ["ref_func", "ref_null", "ref_is_null", "table_get", "table_set", "table_grow", "table_size", "table_fill", "elem"]
            .contains(name) {
            return .referenceTypes
        }
        if ["bulk", "memory_copy", "memory_fill", "memory_init", "table_copy", "table_init", "table-sub"].contains(name) {
            return .bulkMemory
        }
        return .core
    }
}
