import Foundation
import XCTest

final class TmpRefsExtra: XCTestCase {
    func testExtra() throws {
        let files = ProcessInfo.processInfo.environment["TMP_FILES"]!.split(separator: ",").map(String.init)
        let runner = SpecRunner()
        var results: [SpecRunner.FileResult] = []
        for file in files { results.append(runner.run(file: file)) }
        print(SpecTests.report(results, seconds: 0, failuresPerFile: Int.max))
    }
}
