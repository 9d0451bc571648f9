import Foundation

/// The thread that compiles a lazy module's functions: a first call hands it the function and
/// waits (a *demand*), and between demands it compiles *ahead*, the functions that new code
/// calls and that are still lazy, so that the program's next first calls find them compiled
/// while it runs on the other core.
///
/// One long-lived thread with a large stack, rather than a thread per first call: lowering and
/// libtcc need an unknown amount of stack, which the Wasm thread (maybe deep in recursion) may
/// not have, and starting a thread per batch showed in start-up. Demands go first; compiling
/// ahead is bounded by credit that demands grant, so a program that stops asking for new code
/// stops costing compile time soon after.
final class LazyCompiler: @unchecked Sendable {
    /// What the thread runs, with `CodeTable.lock` free: compile the function's batch (a
    /// demand), or one batch ahead; returns whether there was anything left to compile ahead.
    typealias Work = (_ demand: Int?) -> Bool

    private let condition = NSCondition()
    private var demands: [(function: Int, ticket: Int)] = []
    private var nextTicket = 0
    private var finishedThrough = -1
    private var credit = 0
    private var stopped = false
    private var thread: Thread?
    private let work: Work

    /// Batches compiled ahead for each demand (0: compile only what runs).
    let aheadPerDemand: Int

    init(aheadPerDemand: Int, work: @escaping Work) {
        self.aheadPerDemand = aheadPerDemand
        self.work = work
    }

    /// Compiles `function`'s batch on the compiler thread and returns when it is done (or failed).
    func demand(_ function: Int) {
        condition.lock()
        defer { condition.unlock() }
        let ticket = nextTicket
        nextTicket += 1
        demands.append((function, ticket))
        credit = max(credit, aheadPerDemand)
        startIfNeeded()
        condition.broadcast()
        while finishedThrough < ticket && !stopped { condition.wait() }
    }

    /// Lets the thread compile up to `batches` batches ahead before the first demand (for the
    /// functions a program is likely to start with).
    func compileAhead(batches: Int) {
        guard aheadPerDemand > 0 else { return }
        condition.lock()
        credit = max(credit, batches)
        startIfNeeded()
        condition.broadcast()
        condition.unlock()
    }

    /// Ends the thread once it has finished its current batch (the module is going away).
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func startIfNeeded() {
        guard thread == nil, !stopped else { return }
        let thread = Thread { [self] in run() }
        thread.stackSize = 1 << 30
        thread.qualityOfService = .userInitiated
        thread.name = "kiln lazy compiler"
        self.thread = thread
        thread.start()
    }

    private func run() {
        while true {
            condition.lock()
            while demands.isEmpty && credit == 0 && !stopped { condition.wait() }
            if stopped {
                condition.unlock()
                return
            }
            let demand = demands.first
            if demand == nil { credit -= 1 }
            condition.unlock()

            let more = work(demand?.function)

            condition.lock()
            if let demand {
                demands.removeFirst()
                finishedThrough = demand.ticket
                condition.broadcast()
            } else if !more {
                credit = 0
            }
            condition.unlock()
        }
    }
}
