import Kiln
import XCTest

/// The README's embedding example, verbatim in spirit: if this stops compiling, the README lies.
final class ReadmeExampleTests: XCTestCase {
    func testEmbeddingExample() throws {
        let engine = Engine()
        let module = try Module(engine: engine, wat: """
            (module
              (import "env" "log" (func $log (param i32)))
              (func (export "add") (param i32 i32) (result i32)
                (call $log (local.get 0))
                (i32.add (local.get 0) (local.get 1))))
            """)
        let store = Store(engine: engine)
        let linker = Linker(engine: engine)
        var logged: [Int32] = []
        linker.defineFunction(module: "env", name: "log") { (value: Int32) in logged.append(value) }
        let instance = try linker.instantiate(module, store: store)

        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try add(1, 2), 3)
        let results = try instance.function("add")!.call([.i32(40), .i32(2)])
        XCTAssertEqual(results, [.i32(42)])
        XCTAssertEqual(logged, [1, 40])
    }
}
