import Kiln
import XCTest

extension XCTestCase {
    /// The reason of the trap `body` ends in; fails the test (and returns nil) if it ends in none.
    func trapReason(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> TrapReason? {
        do {
            try body()
            XCTFail("expected a trap", file: file, line: line)
            return nil
        } catch let trap as Trap {
            return trap.reason
        } catch {
            XCTFail("expected a trap, got \(error)", file: file, line: line)
            return nil
        }
    }
}
