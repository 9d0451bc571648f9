import Foundation
import KilnRuntimeC
import Synchronization
import WasmTypes

// Swift concurrency: Wasm code runs to completion on one thread and never suspends, so an async
// call hands it to a thread the store owns and resumes the calling task when it returns; an async
// host function blocks that thread (never a cooperative one) while its closure runs in a task.

extension Function {
    /// Calls the function from Swift concurrency without blocking a cooperative thread.
    ///
    /// The call runs on a thread the store owns (started on first use, one per store, so async
    /// calls into one store run one at a time in the order they were made) and the calling task
    /// resumes when it returns. When the caller is the task of an async host function of this
    /// store, the call runs nested on the Wasm thread that is waiting for that host function.
    ///
    /// Cancelling the task stops the call with `CancellationError`: at once if it has not
    /// started, else at its next function entry or loop header when the engine has
    /// ``EngineConfiguration/epochInterruption`` on (without it, a running call runs on).
    @discardableResult
    public func call(_ arguments: [Value]) async throws -> [Value] {
        try await store.scheduler.run(store: store) { try self.call(arguments) }
    }

    /// Defines an async host function from a closure over `[Value]`.
    ///
    /// Wasm code that calls it blocks its thread while the closure runs in a new task; call such
    /// functions with the async `call(_:)` (which runs Wasm on a thread of the store's own)
    /// rather than from a thread of Swift's cooperative pool.
    public convenience init(
        store: Store, type: FunctionType, _ body: @escaping @Sendable (Caller, [Value]) async throws -> [Value]
    ) throws(KilnError) {
        try self.init(store: store, type: type, rawBody: { caller, raw in
            let values = raw.assumingMemoryBound(to: kiln_value.self)
            let store = caller.store
            var arguments: [Value] = []
            for (index, parameter) in type.parameters.enumerated() { arguments.append(store.value(values[index], type: parameter)) }
            let results = try store.scheduler.suspend(store: store) { [arguments] in try await body(caller, arguments) }
            try HostFunctionBox.checkResults(results, type, store: store)
            for (index, result) in results.enumerated() { values[index] = store.rawValue(result) }
        })
    }

    /// Defines an async host function of type `(P...) -> (R...)` from a typed closure:
    /// `Function(store: store) { (x: Int32) async throws -> Int32 in try await lookUp(x) }`.
    /// See the async `init(store:type:_:)` for how it runs.
    public convenience init<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        store: Store, _ body: @escaping @Sendable (repeat each P) async throws -> (repeat each R)
    ) throws(KilnError) {
        try self.init(
            store: store, type: FunctionType.of((repeat each P).self, (repeat each R).self),
            rawBody: { caller, values in
                let store = caller.store
                let arguments = SendableBox(_kilnLoadValues((repeat each P).self, from: values, store: store))
                let results = try store.scheduler.suspend(store: store) {
                    SendableBox(try await body(repeat each arguments.value))
                }
                _kilnStoreValues(repeat each results.value, into: values, store: store)
            })
    }

    /// Defines an async host function of type `(P...) -> (R...)` from a typed closure that also
    /// receives the ``Caller``.
    public convenience init<each P: WasmValueConvertible, each R: WasmValueConvertible>(
        store: Store, _ body: @escaping @Sendable (Caller, repeat each P) async throws -> (repeat each R)
    ) throws(KilnError) {
        try self.init(
            store: store, type: FunctionType.of((repeat each P).self, (repeat each R).self),
            rawBody: { caller, values in
                let store = caller.store
                let arguments = SendableBox(_kilnLoadValues((repeat each P).self, from: values, store: store))
                let results = try store.scheduler.suspend(store: store) {
                    SendableBox(try await body(caller, repeat each arguments.value))
                }
                _kilnStoreValues(repeat each results.value, into: values, store: store)
            })
    }
}

extension Linker {
    /// Instantiates from Swift concurrency: initializers and the start function run on the
    /// store's own thread (see the async `Function.call(_:)`).
    public func instantiate(_ module: Module, store: Store) async throws -> Instance {
        let imports = try resolveImports(of: module, store: store)
        return try await store.scheduler.run(store: store) {
            try Instantiation(module: module, store: store, imports: imports).run()
        }
    }
}

// MARK: - Scheduling

/// Per-store: the thread async calls run on, and the threads blocked in async host functions.
final class StoreScheduler: @unchecked Sendable {
    private let lock = NSLock()
    private var executor: Mailbox?
    /// Threads blocked in async host functions of the store, innermost last.
    private var suspended: [pthread_t] = []
    private let suspendedCount = Atomic<Int>(0)

    /// Where an async call from the current task runs: nested on the Wasm thread waiting for
    /// this task's async host function, or on the store's thread.
    ///
    /// Cancelling the calling task stops the call: before it starts, it throws `CancellationError`;
    /// while it runs, the store is interrupted (``Store/interrupt()``, which needs
    /// ``EngineConfiguration/epochInterruption``) and the call throws `CancellationError`.
    func run<T: Sendable>(store: Store, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let suspension = Suspension.current
        let state = CallState()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let job: @Sendable () -> Void = {
                    guard state.start() else {
                        continuation.resume(throwing: CancellationError())
                        return
                    }
                    let sliced = store.beginFuelSlices()
                    let result = Result { try body() }
                    if sliced { store.endFuelSlices() }
                    let interrupted = state.finish { store.clearInterrupt() }
                    if interrupted, case .failure(let error as Trap) = result, error.reason == .interrupted {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        continuation.resume(with: result)
                    }
                }
                if let suspension, suspension.store == ObjectIdentifier(store), suspension.mailbox.post(job) { return }
                executorMailbox().post(job)
            }
        } onCancel: {
            state.cancel { store.interrupt() }
        }
    }

    /// An async call's progress, for cancellation: an interrupt is sent only while it runs.
    private final class CallState: @unchecked Sendable {
        private let lock = NSLock()
        private var phase = 0  // 0 waiting, 1 running, 2 done, 3 cancelled before it ran
        private var interrupted = false

        func start() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            guard phase == 0 else { return false }
            phase = 1
            return true
        }

        /// Whether the call was interrupted; `clear` drops the interrupt if it was sent.
        func finish(_ clear: () -> Void) -> Bool {
            lock.lock()
            defer { lock.unlock() }
            phase = 2
            if interrupted { clear() }
            return interrupted
        }

        func cancel(_ interrupt: () -> Void) {
            lock.lock()
            defer { lock.unlock() }
            switch phase {
            case 0: phase = 3
            case 1:
                interrupted = true
                interrupt()
            default: break
            }
        }
    }

    /// Runs `body` in a new task while this (Wasm) thread waits, serving the task's own calls
    /// back into the store; returns or throws what `body` did.
    func suspend<T: Sendable>(store: Store, _ body: @escaping @Sendable () async throws -> T) throws -> T {
        let suspension = Suspension(store: ObjectIdentifier(store))
        let outcome = Outcome<T>()
        lock.lock()
        suspended.append(pthread_self())
        suspendedCount.add(1, ordering: .releasing)
        lock.unlock()
        defer {
            lock.lock()
            suspended.removeLast()
            suspendedCount.subtract(1, ordering: .releasing)
            lock.unlock()
        }
        Task.detached {
            let result: Result<T, any Error>
            do {
                result = .success(try await Suspension.$current.withValue(suspension) { try await body() })
            } catch {
                result = .failure(error)
            }
            suspension.mailbox.postLast { outcome.result = result }
        }
        suspension.mailbox.serve()
        return try outcome.result!.get()
    }

    /// Synchronous entry is allowed unless the store is waiting for an async host function on
    /// another thread (its task must re-enter with `await`).
    @inline(__always)
    func checkCanEnter() throws(KilnError) {
        if suspendedCount.load(ordering: .acquiring) == 0 { return }
        lock.lock()
        let owner = suspended.last
        lock.unlock()
        if let owner, pthread_equal(owner, pthread_self()) == 0 {
            throw KilnError.invalidOperation(
                reason: "the store is waiting for an async host function; call back into it with `try await function.call(...)`")
        }
    }

    private func executorMailbox() -> Mailbox {
        lock.lock()
        defer { lock.unlock() }
        if let executor { return executor }
        let mailbox = Mailbox()
        // Wasm code itself runs on the Kiln-owned stack that `kiln_enter` switches to; this
        // thread's own stack only carries the Swift around it.
        let thread = Thread { mailbox.serve() }
        thread.stackSize = 8 << 20
        thread.name = "Kiln store"
        thread.start()
        executor = mailbox
        return mailbox
    }

    /// Lets the store's thread finish (after its queued calls).
    func shutdown() {
        lock.lock()
        let executor = self.executor
        lock.unlock()
        executor?.close()
    }

    private final class Outcome<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }
}

/// The async host function whose task is running, for routing that task's calls.
final class Suspension: Sendable {
    @TaskLocal static var current: Suspension?
    let store: ObjectIdentifier
    let mailbox = Mailbox()
    init(store: ObjectIdentifier) { self.store = store }
}

/// A queue of jobs that one thread serves until it is closed.
final class Mailbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var closed = false

    /// Queues a job; false if the mailbox is closed.
    @discardableResult
    func post(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Queues a last job and closes the mailbox.
    func postLast(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        closed = true
        condition.signal()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
    }

    /// Runs jobs in order until the mailbox is closed and empty.
    func serve() {
        condition.lock()
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                condition.unlock()
                job()
                condition.lock()
            } else if closed {
                break
            } else {
                condition.wait()
            }
        }
        condition.unlock()
    }
}
