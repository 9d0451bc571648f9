import Foundation
import Kiln
import WAT
import XCTest

/// Embedder control: fuel, epoch deadlines, interrupts, task cancellation and resource limits.
final class LimitsTests: XCTestCase {
    static let runaway = #"""
        (module
          (func (export "spin") (loop $l (br $l)))
          (func $add (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
          (func (export "count") (param i32) (result i32) (local i32)
            (loop $l
              (local.set 1 (i32.add (local.get 1) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
            (local.get 1))
          (func (export "twice") (param i32) (result i32)
            (call $add (local.get 0) (call $add (local.get 0) (i32.const 1))))
          (func (export "branchy") (param i32) (result i32)
            (if (result i32) (local.get 0) (then (i32.const 10)) (else (i32.const 20) (i32.const 1) (i32.add))))
          (memory 1)
          (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 7) (local.get 0)))
          (func (export "blocks") (param i32) (result i32) (local i32)
            (block $out
              (block $b
                (br_if $b (i32.eqz (local.get 0)))
                (local.set 1 (i32.const 5))
                (br $out))
              (local.set 1 (i32.const 7)))
            (block $c
              (block $d
                (block $e
                  (br_table $c $d $e (local.get 0)))
                (local.set 1 (i32.add (local.get 1) (i32.const 100))))
              (local.set 1 (i32.add (local.get 1) (i32.const 10))))
            (local.get 1)))
        """#

    func reason(_ body: () throws -> Void) -> TrapReason? { Self.trapReason(body) }

    /// Calls the endless `spin` and expects it to stop with this trap and message.
    func assertSpinTraps(_ instance: Instance, _ reason: TrapReason, _ message: String, line: UInt = #line) throws {
        do {
            try instance.function("spin")!.call([])
            XCTFail("the loop ran forever?", line: line)
        } catch let trap as Trap {
            XCTAssertEqual(trap.reason, reason, line: line)
            XCTAssertEqual(trap.message, message, line: line)
        }
    }

    static func trapReason(_ body: () throws -> Void) -> TrapReason? {
        do { try body(); return nil } catch let trap as Trap { return trap.reason } catch { return nil }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func add() { lock.lock(); count += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    }

    func engine(fuel: Bool = false, epochs: Bool = false) -> Engine {
        var configuration = EngineConfiguration()
        configuration.consumeFuel = fuel
        configuration.epochInterruption = epochs
        return Engine(configuration: configuration)
    }

    // MARK: - Fuel

    func testFuelStopsRunawayLoopAndRefuelWorks() throws {
        let engine = engine(fuel: true)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: Self.runaway))
        XCTAssertEqual(store.fuel, 0, "a store starts with no fuel")
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(reason { _ = try add(1, 2) }, .outOfFuel)
        store.fuel = 100_000
        try assertSpinTraps(instance, .outOfFuel, "all fuel consumed")
        XCTAssertEqual(store.fuel, 0)
        store.fuel = 10
        XCTAssertEqual(try add(40, 2), 42, "refuelled, the store runs again")
        XCTAssertEqual(store.fuel, 7)
    }

    func testExactFuelFigures() throws {
        let engine = engine(fuel: true)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: Self.runaway))
        func consumed(_ body: () throws -> Void) rethrows -> UInt64 {
            store.fuel = 1_000_000
            try body()
            return 1_000_000 - store.fuel
        }
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        let count = try instance.typedFunction("count", Int32.self, Int32.self)
        let twice = try instance.typedFunction("twice", Int32.self, Int32.self)
        let branchy = try instance.typedFunction("branchy", Int32.self, Int32.self)
        let fill = try instance.typedFunction("fill", Int32.self, Void.self)
        // local.get, local.get, i32.add (end is free).
        XCTAssertEqual(try consumed { _ = try add(1, 2) }, 3)
        // 8 per iteration (local.get, i32.const, i32.add, local.set, local.get, local.get,
        // i32.lt_u, br_if), then local.get.
        for n: Int32 in [1, 10, 1000] {
            XCTAssertEqual(try consumed { XCTAssertEqual(try count(n), n) }, UInt64(8 * n + 1))
            XCTAssertEqual(try consumed { _ = try count(n) }, UInt64(8 * n + 1), "deterministic")
        }
        // local.get, local.get, i32.const, call, call + 3 in each add.
        XCTAssertEqual(try consumed { _ = try twice(5) }, 5 + 2 * 3)
        // local.get, if; then i32.const; else i32.const, i32.const, i32.add.
        XCTAssertEqual(try consumed { XCTAssertEqual(try branchy(1), 10) }, 3)
        XCTAssertEqual(try consumed { XCTAssertEqual(try branchy(0), 21) }, 5)
        // i32.const, i32.const, local.get, memory.fill, and one unit per 64 bytes.
        XCTAssertEqual(try consumed { try fill(0) }, 4)
        XCTAssertEqual(try consumed { try fill(6400) }, 4 + 100)
        // Block ends are paid on the way in (by the region that falls or jumps there, or on a
        // conditional edge), which changes where charges are, not what a path costs:
        // local.get, i32.eqz, br_if (3); then i32.const, local.set, br (3) or, at $b,
        // i32.const, local.set (2); local.get, br_table (2); at $e and at $d 4 each; at $c 1.
        let blocks = try instance.typedFunction("blocks", Int32.self, Int32.self)
        XCTAssertEqual(try consumed { XCTAssertEqual(try blocks(0), 7) }, 3 + 2 + 2 + 1)
        XCTAssertEqual(try consumed { XCTAssertEqual(try blocks(1), 15) }, 3 + 3 + 2 + 4 + 1)
        XCTAssertEqual(try consumed { XCTAssertEqual(try blocks(2), 115) }, 3 + 3 + 2 + 4 + 4 + 1)
        XCTAssertEqual(try consumed { XCTAssertEqual(try blocks(9), 115) }, 3 + 3 + 2 + 4 + 4 + 1)
        // Exactly enough runs; one short traps before the region runs.
        store.fuel = 3
        XCTAssertEqual(try add(1, 1), 2)
        store.fuel = 2
        XCTAssertEqual(reason { _ = try add(1, 1) }, .outOfFuel)
    }

    func testNoControlCodeWhenOff() throws {
        let bytes = try wat2wasm(Self.runaway)
        let plain = try Module.generateC(engine: engine(), bytes: bytes)
        XCTAssertFalse(plain.contains("FUEL(") || plain.contains("EPOCH_CHECK"))
        let metered = try Module.generateC(engine: engine(fuel: true), bytes: bytes)
        // A function with a loop charges through the counter's address it takes at entry.
        XCTAssertTrue(metered.contains("FUEL_P(8);"))
        XCTAssertTrue(metered.contains("FUEL(3);"), "add, no loop: through ctx")
        XCTAssertFalse(metered.contains("EPOCH_CHECK"))
        let epochs = try Module.generateC(engine: engine(epochs: true), bytes: bytes)
        XCTAssertTrue(epochs.contains("EPOCH_CHECK_P"), "spin's loop header")
        XCTAssertFalse(epochs.contains("FUEL("))
    }

    // MARK: - Epochs, interrupts, cancellation

    func testEpochDeadlineStopsRunawayLoop() throws {
        let engine = engine(epochs: true)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: Self.runaway))
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try add(1, 2), 3, "no deadline until one is set")
        store.setEpochDeadline(2)
        let ticker = Thread {
            for _ in 0..<2 {
                Thread.sleep(forTimeInterval: 0.02)
                engine.incrementEpoch()
            }
        }
        ticker.start()
        try assertSpinTraps(instance, .interrupted, "interrupt")
        XCTAssertEqual(engine.epoch, 2)
        XCTAssertEqual(reason { _ = try add(1, 2) }, .interrupted, "the deadline has passed")
        store.setEpochDeadline(1)
        XCTAssertEqual(try add(1, 2), 3)
    }

    static let recursive = #"""
        (module
          (func $fib (export "fib") (param i32) (result i32)
            (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
              (then (local.get 0))
              (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                             (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
          (func $down (export "down") (param i32) (result i32)
            (if (result i32) (local.get 0)
              (then (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
              (else (i32.const 0))))
          (func $ping (export "ping") (param i32) (result i32)
            (return_call $pong (i32.add (local.get 0) (i32.const 1))))
          (func $pong (param i32) (result i32)
            (return_call $ping (local.get 0)))
          (func $leaf (export "leaf") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))
        """#

    /// Loop-free code is stopped at function entries: in the stack check of a function that
    /// calls (fib), explicitly in one that tail-calls (ping/pong); a leaf checks nothing.
    func testEpochChecksWithoutLoops() throws {
        let bytes = try wat2wasm(Self.recursive)
        let c = try Module.generateC(engine: engine(epochs: true), bytes: bytes)
        XCTAssertTrue(c.contains("STACK_CHECK_EPOCH("))
        XCTAssertEqual(c.components(separatedBy: "EPOCH_CHECK\n").count - 1, 2, "only ping and pong check explicitly:\n\(c)")
        let engine = engine(epochs: true)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: Self.recursive))
        let fib = try instance.typedFunction("fib", Int32.self, Int32.self)
        XCTAssertEqual(try fib(20), 6765)
        for name in ["fib", "ping"] {
            let interrupter = Thread {
                Thread.sleep(forTimeInterval: 0.05)
                store.interrupt()
            }
            interrupter.start()
            let start = ContinuousClock.now
            // fib(50) runs for hours, ping for ever.
            XCTAssertEqual(reason { _ = try instance.function(name)!.call([.i32(name == "fib" ? 50 : 0)]) }, .interrupted, name)
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
        }
        XCTAssertEqual(try fib(10), 55, "the stack check passes again")
        XCTAssertEqual(reason { _ = try instance.function("down")!.call([.i32(100_000_000)]) }, .callStackExhausted,
                       "a real overflow still traps as one")
        XCTAssertEqual(try fib(10), 55)
    }

    func testInterruptNeedsChecks() throws {
        let plain = engine()
        let store = Store(engine: plain)
        XCTAssertFalse(store.isInterruptible)
        let instance = try Instance(store: store, module: try Module(engine: plain, wat: Self.runaway))
        store.interrupt()
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try add(1, 2), 3, "no checks: interrupt() does nothing")
        let epochs = engine(epochs: true)
        let stopping = Store(engine: epochs)
        XCTAssertTrue(stopping.isInterruptible)
        let spinner = try Instance(store: stopping, module: try Module(engine: epochs, wat: Self.runaway))
        stopping.interrupt()
        XCTAssertEqual(reason { try spinner.function("spin")!.call([]) }, .interrupted, "pending until the next call")
    }

    func testFuelAsyncYieldInterval() async throws {
        let engine = engine(fuel: true)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: Self.runaway))
        let count = instance.function("count")!
        // Same consumption with and without check-ins: 8 per iteration, then 1.
        store.fuel = 1_000_000
        _ = try await count.call([.i32(10_000)])
        XCTAssertEqual(store.fuel, 1_000_000 - 80_001)
        XCTAssertEqual(store.fuelAsyncYields, 0)
        store.fuelAsyncYieldInterval = 1_000
        store.fuel = 1_000_000
        let counted = try await count.call([.i32(10_000)])
        XCTAssertEqual(counted, [.i32(10_000)])
        XCTAssertEqual(store.fuel, 1_000_000 - 80_001)
        XCTAssertEqual(store.fuelAsyncYields, 80, "one check-in per 1,000 units")
        // Running out still traps at the same point, with no fuel left.
        store.fuel = 80_000
        do {
            _ = try await count.call([.i32(10_000)])
            XCTFail("ran on an empty tank")
        } catch let trap as Trap {
            XCTAssertEqual(trap.reason, .outOfFuel)
        }
        XCTAssertEqual(store.fuel, 0)
        // Cancellation reaches a check-in without epoch interruption. With 2^40 units the loop
        // would otherwise run for many minutes.
        store.fuel = 1 << 40
        let stopped = try await Self.cancelAfterStarting(instance.function("spin")!)
        XCTAssertLessThan(try XCTUnwrap(stopped, "the loop ran to the end of its fuel?"), .milliseconds(500))
        XCTAssertGreaterThan(store.fuel, (1 << 40) - 1_000_000_000, "the rest of the fuel is back in the store")
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        func syncAdd() throws -> Int32 { try add(1, 2) }
        XCTAssertEqual(try syncAdd(), 3, "a synchronous call has no slices")
    }

    /// Starts an async call of `spin`, cancels its task 50 ms later, and returns how long the
    /// call took to stop with a CancellationError (nil if it ended otherwise).
    static func cancelAfterStarting(_ spin: Function) async throws -> Duration? {
        let task = Task { try await spin.call([]) }
        try await Task.sleep(for: .milliseconds(50))
        let cancelled = ContinuousClock.now
        task.cancel()
        do {
            _ = try await task.value
            return nil
        } catch is CancellationError {
            return ContinuousClock.now - cancelled
        }
    }

    func testInterruptFromAnotherThread() throws {
        let engine = engine(epochs: true)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: Self.runaway))
        let interrupter = Thread {
            Thread.sleep(forTimeInterval: 0.05)
            store.interrupt()
        }
        interrupter.start()
        let start = ContinuousClock.now
        XCTAssertEqual(reason { try instance.function("spin")!.call([]) }, .interrupted)
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
        let add = try instance.typedFunction("add", (Int32, Int32).self, Int32.self)
        XCTAssertEqual(try add(1, 2), 3, "an interrupt stops one call")
    }

    func testTaskCancellationStopsAsyncCall() async throws {
        let engine = engine(epochs: true)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: Self.runaway))
        let stopped = try await Self.cancelAfterStarting(instance.function("spin")!)
        let latency = try XCTUnwrap(stopped, "the loop ran forever?")
        print("cancellation latency: \(latency)")
        XCTAssertLessThan(latency, .milliseconds(500), "goal 10 ms; generous on a loaded machine")
        let add = instance.function("add")!
        let results = try await add.call([.i32(2), .i32(3)])
        XCTAssertEqual(results, [.i32(5)], "the store runs the next call")
    }

    // MARK: - Resource limits

    final class Limiter: ResourceLimiter, @unchecked Sendable {
        var calls: [(Int, Int, Int?)] = []
        var allow = false
        struct Refused: Error, Equatable {}
        var fail = false
        func memoryGrowing(current: Int, desired: Int, maximum: Int?) throws -> Bool {
            calls.append((current, desired, maximum))
            if fail { throw Refused() }
            return allow
        }
        func tableGrowing(current: Int, desired: Int, maximum: Int?) throws -> Bool {
            calls.append((current, desired, maximum))
            return allow
        }
    }

    static let growing = #"""
        (module
          (memory 1 10)
          (table 1 externref)
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
          (func (export "growTable") (param i32) (result i32) (table.grow (ref.null extern) (local.get 0))))
        """#

    func testLimiterDeniesGrow() throws {
        let engine = Engine()
        let store = Store(engine: engine)
        let limiter = Limiter()
        store.limiter = limiter
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: Self.growing))
        let grow = try instance.typedFunction("grow", Int32.self, Int32.self)
        let growTable = try instance.typedFunction("growTable", Int32.self, Int32.self)
        XCTAssertEqual(try grow(1), -1, "denied")
        XCTAssertEqual(limiter.calls.count, 1)
        XCTAssertEqual(limiter.calls[0].0, 65536)
        XCTAssertEqual(limiter.calls[0].1, 131072)
        XCTAssertEqual(limiter.calls[0].2, 655360)
        XCTAssertEqual(try growTable(5), -1)
        XCTAssertEqual(limiter.calls.last?.1, 6)
        XCTAssertEqual(limiter.calls.last?.2, nil)
        limiter.allow = true
        XCTAssertEqual(try grow(1), 1)
        XCTAssertEqual(try growTable(5), 1)
        XCTAssertEqual(try grow(100), -1, "over the declared maximum: the limiter is not asked")
        limiter.fail = true
        do {
            _ = try grow(1)
            XCTFail("the limiter's error should come out")
        } catch let error as Limiter.Refused {
            XCTAssertEqual(error, Limiter.Refused())
        }
    }

    func testStoreLimits() throws {
        let engine = Engine()
        let store = Store(engine: engine)
        store.limits = StoreLimits(memoryBytes: 3 * 65536, tableElements: 4, instances: 1)
        let module = try Module(engine: engine, wat: Self.growing)
        let instance = try Instance(store: store, module: module)
        let grow = try instance.typedFunction("grow", Int32.self, Int32.self)
        let growTable = try instance.typedFunction("growTable", Int32.self, Int32.self)
        XCTAssertEqual(try grow(2), 1)
        XCTAssertEqual(try grow(1), -1, "past memoryBytes")
        XCTAssertEqual(try growTable(3), 1)
        XCTAssertEqual(try growTable(1), -1, "past tableElements")
        XCTAssertThrowsError(try Instance(store: store, module: module)) { error in
            guard case KilnError.resourceLimitExceeded(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("instances"), reason)
        }
        let other = Store(engine: engine)
        other.limits = StoreLimits(memoryBytes: 65535)
        XCTAssertThrowsError(try Instance(store: other, module: module)) { error in
            guard case KilnError.resourceLimitExceeded(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("memoryBytes"), reason)
        }
        let third = Store(engine: engine)
        third.limits = StoreLimits(memories: 0)
        XCTAssertThrowsError(try Instance(store: third, module: module))
    }

    // MARK: - Robustness

    func testTenThousandLiveMemoriesEachTrapCleanly() throws {
        let engine = Engine()
        let module = try Module(engine: engine, wat: #"""
            (module (memory 1) (func (export "peek") (param i32) (result i32) (i32.load (local.get 0))))
            """#)
        let store = Store(engine: engine)
        var peeks: [TypedFunction<Int32, Int32>] = []
        for _ in 0..<10_000 {
            let instance = try Instance(store: store, module: module)
            peeks.append(try instance.typedFunction("peek", Int32.self, Int32.self))
        }
        // The newest and the oldest, then every one: each still has its reservation registered.
        for peek in [peeks.last!, peeks.first!] + peeks {
            XCTAssertEqual(reason { _ = try peek(65536) }, .memoryOutOfBounds)
        }
        XCTAssertEqual(try peeks[5000](0), 0)
    }

    func testHugeExternrefTableGrowCostsNothingUntilUsed() throws {
        let engine = Engine()
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: try Module(engine: engine, wat: #"""
            (module
              (table 0 externref)
              (func (export "grow") (param i32) (result i32) (table.grow (ref.null extern) (local.get 0)))
              (func (export "size") (result i32) (table.size))
              (func (export "isNull") (param i32) (result i32) (ref.is_null (table.get (local.get 0)))))
            """#))
        let grow = try instance.typedFunction("grow", Int32.self, Int32.self)
        let before = Self.residentBytes()
        XCTAssertEqual(try grow(714_452_631), 0)
        XCTAssertEqual(try instance.typedFunction("size", Void.self, Int32.self)(), 714_452_631)
        XCTAssertEqual(try instance.typedFunction("isNull", Int32.self, Int32.self)(714_452_630), 1)
        XCTAssertLessThan(Self.residentBytes() - before, 256 << 20, "RSS stays far below the table's 22 GB")
    }

    static func residentBytes() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "0 0"
        return (Int(text.split(separator: " ")[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func testStackSizeIsPerEngine() throws {
        let wat = #"""
            (module (func $down (export "down") (param i32) (result i32)
              (if (result i32) (local.get 0) (then (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1))))) (else (i32.const 0)))))
            """#
        var small = EngineConfiguration()
        small.stackSize = 1 << 20
        let smallEngine = Engine(configuration: small)
        let bigEngine = Engine()  // 16 MiB, created after: must not change the small one's
        let smallStore = Store(engine: smallEngine)
        let bigStore = Store(engine: bigEngine)
        let smallDown = try Instance(store: smallStore, module: try Module(engine: smallEngine, wat: wat)).typedFunction("down", Int32.self, Int32.self)
        let bigDown = try Instance(store: bigStore, module: try Module(engine: bigEngine, wat: wat)).typedFunction("down", Int32.self, Int32.self)
        XCTAssertEqual(try bigDown(50_000), 50_000)
        XCTAssertEqual(reason { _ = try smallDown(50_000) }, .callStackExhausted)
        XCTAssertEqual(try smallDown(1000), 1000)
        XCTAssertEqual(try bigDown(50_000), 50_000)
    }

    func testThreadsWithMixedTrapsFuelAndInterrupts() throws {
        let engine = engine(fuel: true, epochs: true)
        let module = try Module(engine: engine, wat: Self.runaway + "")
        let oob = try Module(engine: engine, wat: #"""
            (module (memory 1) (func (export "peek") (param i32) (result i32) (i32.load (local.get 0))))
            """#)
        let threads = 4
        let failures = Counter()
        let group = DispatchGroup()
        for worker in 0..<threads {
            group.enter()
            Thread {
                defer { group.leave() }
                func fail() { failures.add() }
                do {
                    let store = Store(engine: engine)
                    let instance = try Instance(store: store, module: module)
                    let peek = try Instance(store: store, module: oob).typedFunction("peek", Int32.self, Int32.self)
                    let count = try instance.typedFunction("count", Int32.self, Int32.self)
                    let spin = instance.function("spin")!
                    for round in 0..<30 {
                        switch (round + worker) % 3 {
                        case 0:
                            store.fuel = 1000
                            if Self.trapReason({ try spin.call([]) }) != .outOfFuel { fail() }
                        case 1:
                            store.fuel = 1 << 40
                            if Self.trapReason({ _ = try peek(70000) }) != .memoryOutOfBounds { fail() }
                            if (try? count(100)) != 100 { fail() }
                        default:
                            store.fuel = 1 << 40
                            let interrupter = Thread { Thread.sleep(forTimeInterval: 0.002); store.interrupt() }
                            interrupter.start()
                            if Self.trapReason({ try spin.call([]) }) != .interrupted { fail() }
                        }
                    }
                } catch {
                    fail()
                }
            }.start()
        }
        group.wait()
        XCTAssertEqual(failures.value, 0)
    }
}
