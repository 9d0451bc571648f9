import Foundation
import XCTest
import Kiln

/// The official spec suite (see SpecSuite for where it is found), run by SpecRunner: one test
/// per feature group. Every script of a group must pass every directive, with nothing failed and
/// nothing unsupported, except as `knownGaps` allows.
///
/// Set `KILN_SPEC_FILES=i32,br_table` to run only those scripts (of the group being run),
/// `KILN_SPEC_TRACE=1` to print every directive to stderr before it runs,
/// `KILN_SPEC_ALL_FAILURES=1` to list every failure, and `KILN_SPEC_SKIP=file:line,...` to skip
/// directives that crash (counted as failed).
final class SpecTests: XCTestCase {
    struct KnownGap: Sendable {
        var maxFailed: Int
        var maxUnsupported: Int
        var reason: String
    }

    /// The scripts that may still have failed or unsupported directives, at most this many, and
    /// why; every other script must have neither. Counted from the engine as it is: a ratchet,
    /// lower an entry (the run prints a note when a count drops below it) or drop it when a
    /// feature lands. Never raise one to hide a regression.
    static let knownGaps: [String: KnownGap] = [:]

    /// Directives that crash the process (a crash kills every test after it), by script and
    /// line; they count as failed with reason "crash". Remove an entry once its bug is fixed.
    static let crashingDirectives: [String: Set<Int>] = [:]

    func testMVP() throws { try check(.core) }
    /// Wasm 2.0's proposals; its small features (sign extension, saturating conversions,
    /// multi-value) are in the core scripts.
    func testWasm2() throws { try check(.referenceTypes, .bulkMemory, .simd) }
    func testExceptionHandling() throws { try check(.exceptions) }
    func testLegacyExceptionHandling() throws { try check(.legacyExceptions) }
    func testTailCalls() throws { try check(.tailCalls) }
    func testMemory64() throws { try check(.memory64) }
    func testMultiMemory() throws { try check(.multiMemory) }
    func testRelaxedSIMD() throws { try check(.relaxedSIMD) }
    func testTypedFunctionReferences() throws { try check(.typedFunctionReferences) }
    func testExtendedConst() throws { try check(.extendedConst) }
    /// Wasm GC: structs, arrays, i31, casts, type canonicalization and subtyping.
    func testGC() throws { try check(.gc) }
    func testCustomSectionsAndAnnotations() throws { try check(.annotations) }

    /// The code table's lazy path: the same scripts with every function compiled on its first
    /// call, through its stub, in batches (core, exceptions, tail calls, and typed references
    /// cover every call path: direct, indirect, call_ref, return_call*, exports, start).
    func testLazyCompilation() throws {
        var configuration = EngineConfiguration()
        configuration.compilation = .lazy
        try check(.core, .exceptions, .legacyExceptions, .tailCalls, .typedFunctionReferences, .gc, configuration: configuration)
    }

    /// Every known gap names a script that some test here runs (a typo would excuse nothing).
    func testKnownGapsNameScriptsThatRun() throws {
        let scripts = Set(try SpecSuite.locate().scripts())
        for (file, gap) in Self.knownGaps {
            XCTAssertTrue(scripts.contains(file), "knownGaps names \(file), which the suite does not have")
            XCTAssertNotEqual(SpecFeature.of(file), .gc, "knownGaps names \(file), a GC script, which swift test does not run")
            XCTAssertTrue(gap.maxFailed > 0 || gap.maxUnsupported > 0, "knownGaps entry \(file) allows nothing: drop it")
        }
    }

    /// Runs the features' scripts and asserts each against `knownGaps`.
    private func check(_ features: SpecFeature..., configuration: EngineConfiguration = EngineConfiguration()) throws {
        let suite = try SpecSuite.locate()
        var files: [String] = []
        for feature in features { files += try suite.scripts(of: feature) }
        XCTAssertFalse(files.isEmpty, "the suite at \(suite.directory.path) has no scripts for \(features)")
        for result in try run(files, in: suite, configuration: configuration) {
            XCTAssertGreaterThan(result.total, 0, "\(result.file): no directives ran")
            guard let gap = Self.knownGaps[result.file] else {
                XCTAssertEqual(result.failed, 0, "\(result.file): \(result.failures.prefix(3).joined(separator: "; "))")
                XCTAssertEqual(result.unsupported, 0, "\(result.file): \(result.unsupportedReasons.prefix(3).joined(separator: "; "))")
                continue
            }
            XCTAssertLessThanOrEqual(result.failed, gap.maxFailed,
                                     "\(result.file): more failures than known (\(gap.reason)): \(result.failures.prefix(3).joined(separator: "; "))")
            XCTAssertLessThanOrEqual(result.unsupported, gap.maxUnsupported,
                                     "\(result.file): more unsupported than known (\(gap.reason)): \(result.unsupportedReasons.prefix(3).joined(separator: "; "))")
            if result.failed < gap.maxFailed || result.unsupported < gap.maxUnsupported {
                print("note: \(result.file) now has \(result.failed) failed, \(result.unsupported) unsupported; "
                    + "lower its knownGaps entry (\(gap.maxFailed), \(gap.maxUnsupported))")
            }
        }
    }

    /// Runs the scripts (or those of them named in `$KILN_SPEC_FILES`), prints the table and
    /// returns the results.
    private func run(_ files: [String], in suite: SpecSuite, configuration: EngineConfiguration) throws -> [SpecRunner.FileResult] {
        var runner = SpecRunner(suite: suite, crashingDirectives: Self.crashingDirectives)
        runner.configuration = configuration
        var selected = files
        if let only = ProcessInfo.processInfo.environment["KILN_SPEC_FILES"], !only.isEmpty {
            let names = Set(only.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) })
            selected = files.filter { names.contains($0) }
        }
        let start = ContinuousClock.now
        let results = selected.map { runner.run(file: $0) }
        let elapsed = ContinuousClock.now - start
        let all = ProcessInfo.processInfo.environment["KILN_SPEC_ALL_FAILURES"] != nil
        print(Self.report(results, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18,
                          failuresPerFile: all ? Int.max : 20))
        return results
    }

    /// The per-file table, the failures and unsupported reasons (summarized), and the totals.
    static func report(_ results: [SpecRunner.FileResult], seconds: Double, failuresPerFile: Int = 20) -> String {
        var lines: [String] = []
        func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return right ? padding + text : text + padding
        }
        let width = max(28, (results.map(\.file.count).max() ?? 0) + 2)
        lines.append(pad("file", width) + pad("passed", 8, right: true) + pad("failed", 8, right: true)
            + pad("unsupported", 13, right: true) + pad("seconds", 9, right: true))
        for result in results {
            lines.append(pad(result.file, width) + pad("\(result.passed)", 8, right: true) + pad("\(result.failed)", 8, right: true)
                + pad("\(result.unsupported)", 13, right: true) + pad(String(format: "%.2f", result.seconds), 9, right: true))
        }
        for result in results where !result.failures.isEmpty {
            lines.append("")
            lines.append("\(result.file): \(result.failed) failed")
            for failure in result.failures.prefix(failuresPerFile) { lines.append("  " + failure) }
            if result.failures.count > failuresPerFile { lines.append("  ... and \(result.failures.count - failuresPerFile) more") }
        }
        for result in results where !result.unsupportedReasons.isEmpty {
            // Summarized by reason: a module that is unsupported makes many directives so.
            var counts: [String: Int] = [:]
            var order: [String] = []
            for entry in result.unsupportedReasons {
                let reason = entry.split(separator: ": ", maxSplits: 1).dropFirst().first.map(String.init) ?? entry
                if counts[reason] == nil { order.append(reason) }
                counts[reason, default: 0] += 1
            }
            lines.append("")
            lines.append("\(result.file): \(result.unsupported) unsupported")
            for reason in order.prefix(5) { lines.append("  \(counts[reason]!) x \(reason)") }
            if order.count > 5 { lines.append("  ... and \(order.count - 5) more reasons") }
        }
        let notes = results.flatMap(\.notes)
        if !notes.isEmpty {
            let shown = failuresPerFile == Int.max ? notes.count : 40
            lines.append("")
            lines.append("notes (passed, but worth a look): \(notes.count)")
            for note in notes.prefix(shown) { lines.append("  " + note) }
            if notes.count > shown { lines.append("  ... and \(notes.count - shown) more") }
        }
        let passed = results.reduce(0) { $0 + $1.passed }
        let failed = results.reduce(0) { $0 + $1.failed }
        let unsupported = results.reduce(0) { $0 + $1.unsupported }
        lines.append("")
        lines.append(String(format: "%d files in %.1f s", results.count, seconds))
        lines.append("\(passed) passed, \(failed) failed")
        lines.append("\(unsupported) unsupported")
        return lines.joined(separator: "\n")
    }
}
