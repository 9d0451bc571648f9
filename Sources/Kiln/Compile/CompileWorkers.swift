import Foundation

/// Threads that lower and compile, shared by every module of the process: eager compilation
/// spreads a module's batches over them, and a lazy first call compiles half of a big batch on
/// one while its own thread compiles the other. Each has a large stack (lowering and libtcc need
/// an unknown amount); they start on first use and wait for work when idle.
final class CompileWorkers: @unchecked Sendable {
    /// At least two, so that lowering one batch overlaps compiling another even with one compiler.
    static let shared = CompileWorkers(count: max(2, TCCCompiler.parallelism))

    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var started = 0
    private var idle = 0
    private let count: Int

    private init(count: Int) { self.count = count }

    /// Runs `work` on a worker thread.
    func run(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(work)
        if idle == 0 && started < count {
            started += 1
            let thread = Thread { [self] in loop() }
            thread.stackSize = 1 << 30
            thread.name = "kiln compile worker"
            thread.start()
        }
        condition.signal()
        condition.unlock()
    }

    /// `work` on a worker, its result back to the caller when it is needed.
    func start<T: Sendable>(_ work: @escaping @Sendable () -> T) -> Pending<T> {
        let pending = Pending<T>()
        run { pending.fulfil(work()) }
        return pending
    }

    private func loop() {
        while true {
            condition.lock()
            idle += 1
            while queue.isEmpty { condition.wait() }
            idle -= 1
            let work = queue.removeFirst()
            condition.unlock()
            work()
        }
    }

    /// A result a worker will deliver.
    final class Pending<T: Sendable>: @unchecked Sendable {
        private let condition = NSCondition()
        private var value: T?

        fileprivate func fulfil(_ value: T) {
            condition.lock()
            self.value = value
            condition.broadcast()
            condition.unlock()
        }

        func wait() -> T {
            condition.lock()
            defer { condition.unlock() }
            while value == nil { condition.wait() }
            return value!
        }
    }
}
