import KilnRuntimeC
import WasmTypes

/// Caps on what the Wasm code of one store may allocate, in the spirit of wasmtime's
/// `StoreLimits`. Every cap is optional: `nil` is unlimited.
///
/// A `memory.grow` or `table.grow` past a cap returns -1 (the Wasm code sees a failed grow, it
/// does not trap); an instance, memory or table beyond its count, or a memory or table whose
/// declared minimum is over its cap, fails instantiation with ``KilnError/resourceLimitExceeded(reason:)``.
public struct StoreLimits: Sendable, Equatable {
    /// The largest size of each linear memory, in bytes.
    public var memoryBytes: Int?
    /// The most elements of each table.
    public var tableElements: Int?
    /// The most instances the store may hold.
    public var instances: Int?
    /// The most memories the store may hold (imported ones count where they were created).
    public var memories: Int?
    /// The most tables the store may hold.
    public var tables: Int?

    public init(memoryBytes: Int? = nil, tableElements: Int? = nil, instances: Int? = nil, memories: Int? = nil, tables: Int? = nil) {
        self.memoryBytes = memoryBytes
        self.tableElements = tableElements
        self.instances = instances
        self.memories = memories
        self.tables = tables
    }
}

/// Decides, grow by grow, whether Wasm code may enlarge a memory or a table (wasmtime's
/// `ResourceLimiter`). Called on the thread running the Wasm code, before a `memory.grow` or
/// `table.grow` that the declared maximum allows (and after ``StoreLimits``, which deny first).
///
/// Return `true` to allow, `false` to deny (the grow returns -1). A thrown error traps the Wasm
/// code and comes out of the outermost call as that same error.
public protocol ResourceLimiter: AnyObject, Sendable {
    /// `current` and `desired` are sizes in bytes; `maximum` is the declared maximum in bytes, or
    /// nil when the memory declares none.
    func memoryGrowing(current: Int, desired: Int, maximum: Int?) throws -> Bool
    /// Sizes in elements; `maximum` is nil when the table declares none.
    func tableGrowing(current: Int, desired: Int, maximum: Int?) throws -> Bool
}

extension Store {
    /// The fuel left (``EngineConfiguration/consumeFuel``). A store starts with 0; a call that
    /// needs more traps with ``TrapReason/outOfFuel`` and leaves 0. Set it between calls (it is
    /// not synchronized with a running call); values above `Int64.max` are clamped.
    public var fuel: UInt64 {
        get {
            let (sum, overflow) = UInt64(max(exec.pointee.fuel, 0)).addingReportingOverflow(exec.pointee.fuel_reserve)
            return overflow ? UInt64(Int64.max) : sum
        }
        set {
            let total = min(newValue, UInt64(Int64.max))
            let slice = exec.pointee.fuel_slice
            // During an async call with a yield interval, at most one slice is in the counter.
            let inCounter = slice == 0 ? total : min(total, slice)
            exec.pointee.fuel = Int64(inCounter)
            exec.pointee.fuel_reserve = total - inCounter
        }
    }

    /// Makes async calls (``Function/call(_:)-async``) check in every `N` units of fuel, in the
    /// spirit of wasmtime's `fuel_async_yield_interval`; nil (the default) never does. Needs
    /// ``EngineConfiguration/consumeFuel``.
    ///
    /// An async call's Wasm code runs on a thread of the store's own, never on a thread of
    /// Swift's cooperative pool, so a long guest cannot starve other tasks; what a check-in does
    /// is what a thread running native code can: it yields the processor (`sched_yield`) and
    /// looks for a stop, so that cancelling the calling task (or ``interrupt()``) ends the call
    /// at the next check-in even without ``EngineConfiguration/epochInterruption``. The Wasm
    /// frames stay where they are (there is no stack switching): the call resumes after the
    /// check-in. Fuel is counted exactly as without the interval.
    public var fuelAsyncYieldInterval: UInt64? {
        get { control.fuelAsyncYieldInterval }
        set { control.fuelAsyncYieldInterval = newValue == 0 ? nil : newValue }
    }

    /// Check-ins made so far (see ``fuelAsyncYieldInterval``).
    public var fuelAsyncYields: UInt64 { exec.pointee.fuel_yields }

    /// An async call starts: fuel goes into slices of the yield interval; false if there is no
    /// interval or slices are already on (a nested call), so the caller leaves them as they are.
    func beginFuelSlices() -> Bool {
        guard engine.configuration.consumeFuel, let interval = control.fuelAsyncYieldInterval,
            exec.pointee.fuel_slice == 0
        else { return false }
        let total = fuel
        exec.pointee.fuel_slice = interval
        fuel = total
        return true
    }

    func endFuelSlices() {
        let total = fuel
        exec.pointee.fuel_slice = 0
        fuel = total
    }

    /// Makes calls trap with ``TrapReason/interrupted`` once the engine's epoch has advanced
    /// `ticksBeyondCurrent` ticks from now (``EngineConfiguration/epochInterruption``). Until a
    /// deadline is set there is none.
    public func setEpochDeadline(_ ticksBeyondCurrent: UInt64) {
        let (deadline, overflow) = engine.epoch.addingReportingOverflow(ticksBeyondCurrent)
        kiln_exec_set_deadline(exec, overflow ? UInt64.max : deadline)
    }

    /// Stops the call running in this store: it traps with ``TrapReason/interrupted`` at its next
    /// check. Callable from any thread. With no call running, the next call stops at its first
    /// check.
    ///
    /// The checks are in the generated code, so they exist only when the engine asks for them:
    /// with ``EngineConfiguration/epochInterruption``, at every loop header and at the entry of
    /// every function that calls others (as wasmtime's epoch interruption); with
    /// ``EngineConfiguration/consumeFuel`` and a ``fuelAsyncYieldInterval``, at every check-in of
    /// an async call. On a store whose engine has neither (``isInterruptible`` is false) there
    /// is nothing to stop a running call, and `interrupt()` does nothing: bound such calls with
    /// fuel, or turn epoch interruption on.
    public func interrupt() {
        guard isInterruptible else { return }
        kiln_exec_interrupt(exec)
    }

    /// Whether ``interrupt()`` can stop calls: the engine has ``EngineConfiguration/epochInterruption``
    /// or ``EngineConfiguration/consumeFuel`` (fuel's checks see an interrupt at the check-ins of
    /// async calls with a ``fuelAsyncYieldInterval``).
    public var isInterruptible: Bool {
        engine.configuration.epochInterruption || engine.configuration.consumeFuel
    }

    /// Drops an interrupt that did not reach a running call.
    func clearInterrupt() {
        kiln_exec_clear_interrupt(exec)
    }

    /// Caps on memories, tables and instances; nil (the default) is unlimited.
    public var limits: StoreLimits? {
        get { control.limits }
        set {
            control.limits = newValue
            exec.pointee.limited = (control.limits != nil || control.limiter != nil) ? 1 : 0
        }
    }

    /// Asked before every grow of a memory or table of this store; nil (the default) allows all.
    public var limiter: (any ResourceLimiter)? {
        get { control.limiter }
        set {
            control.limiter = newValue
            exec.pointee.limited = (control.limits != nil || control.limiter != nil) ? 1 : 0
        }
    }

    func prepareControl() {
        exec.pointee.epoch = kiln_clock_epoch(engine.clock)
        exec.pointee.deadline = UInt64.max
        // Functions that call others test a stop in their stack check (STACK_CHECK_EPOCH).
        exec.pointee.stop_limits = engine.configuration.epochInterruption ? 1 : 0
        if engine.configuration.epochInterruption, kiln_clock_attach(engine.clock, exec) != 0 {
            fatalError("kiln: out of memory attaching a store to its engine's clock")
        }
        exec.pointee.stack_size = UInt64(max(engine.configuration.stackSize, 0))
        exec.pointee.store = Unmanaged.passUnretained(self).toOpaque()
        exec.pointee.grow_check = { exec, kind, current, desired, maximum in
            guard let exec, let pointer = exec.pointee.store else { return 1 }
            let store = Unmanaged<Store>.fromOpaque(pointer).takeUnretainedValue()
            return store.checkGrow(kind: kind, current: current, desired: desired, maximum: maximum)
        }
    }

    private func checkGrow(kind: UInt32, current: UInt64, desired: UInt64, maximum: UInt64) -> Int32 {
        let isMemory = kind == 0
        if let limits = control.limits {
            if isMemory, let cap = limits.memoryBytes, desired > UInt64(max(cap, 0)) { return 0 }
            if !isMemory, let cap = limits.tableElements, desired > UInt64(max(cap, 0)) { return 0 }
        }
        guard let limiter = control.limiter else { return 1 }
        let declared: Int? = isMemory
            ? (maximum >= 65536 * 65536 ? nil : Int(maximum))
            : (maximum >= UInt64(UInt32.max) ? nil : Int(maximum))
        do {
            let allowed = isMemory
                ? try limiter.memoryGrowing(current: Int(current), desired: Int(desired), maximum: declared)
                : try limiter.tableGrowing(current: Int(current), desired: Int(desired), maximum: declared)
            return allowed ? 1 : 0
        } catch {
            pendingHostError = error
            return -1
        }
    }

    // MARK: - Instantiation

    func checkInstantiationLimits(_ info: ModuleInfo) throws(KilnError) {
        guard let limits = control.limits else { return }
        if let cap = limits.instances, instances.count + 1 > cap {
            throw KilnError.resourceLimitExceeded(reason: "the store may hold at most \(cap) instances (StoreLimits.instances)")
        }
        let newMemories = info.memories.count - info.importedMemoryCount
        if let cap = limits.memories, memories.count + newMemories > cap {
            throw KilnError.resourceLimitExceeded(
                reason: "the module defines \(newMemories) memories and the store holds \(memories.count); at most \(cap) are allowed (StoreLimits.memories)")
        }
        let newTables = info.tables.count - info.importedTableCount
        if let cap = limits.tables, tables.count + newTables > cap {
            throw KilnError.resourceLimitExceeded(
                reason: "the module defines \(newTables) tables and the store holds \(tables.count); at most \(cap) are allowed (StoreLimits.tables)")
        }
    }

    func checkMemoryLimits(_ minimumPages: UInt64) throws(KilnError) {
        guard let limits = control.limits else { return }
        if let cap = limits.memories, memories.count + 1 > cap {
            throw KilnError.resourceLimitExceeded(reason: "the store may hold at most \(cap) memories (StoreLimits.memories)")
        }
        if let cap = limits.memoryBytes, minimumPages.multipliedReportingOverflow(by: 65536).partialValue > UInt64(max(cap, 0)) || minimumPages > 65536 {
            throw KilnError.resourceLimitExceeded(
                reason: "a memory's minimum of \(minimumPages) pages (\(minimumPages * 65536) bytes) is over the limit of \(cap) bytes (StoreLimits.memoryBytes)")
        }
    }

    func checkTableLimits(_ minimum: UInt64) throws(KilnError) {
        guard let limits = control.limits else { return }
        if let cap = limits.tables, tables.count + 1 > cap {
            throw KilnError.resourceLimitExceeded(reason: "the store may hold at most \(cap) tables (StoreLimits.tables)")
        }
        if let cap = limits.tableElements, minimum > UInt64(max(cap, 0)) {
            throw KilnError.resourceLimitExceeded(
                reason: "a table's minimum of \(minimum) elements is over the limit of \(cap) elements (StoreLimits.tableElements)")
        }
    }
}

/// The store's limits and limiter (a class so the store's stored properties stay in Store.swift).
final class StoreControl: @unchecked Sendable {
    var limits: StoreLimits?
    var limiter: (any ResourceLimiter)?
    var fuelAsyncYieldInterval: UInt64?
}
