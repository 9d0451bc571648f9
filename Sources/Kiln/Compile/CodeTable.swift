import Foundation
import KilnRuntimeC

/// When a module's functions are lowered and compiled.
public enum CompilationMode: Sendable, Equatable {
    /// Every function when the `Module` is created.
    case eager
    /// Each function on its first call, with a batch of the functions it calls (see
    /// ``CodeTable``); creating the `Module` only decodes and validates.
    case lazy
    /// Lazy for modules whose code section is at least ``lazyThresholdBytes``, eager below.
    case automatic

    /// The code-section size from which `automatic` compiles lazily: 256 KiB, about the point
    /// where compiling everything up front (~0.1 s) starts to show in a program's start-up.
    public static let lazyThresholdBytes = 256 << 10
}

/// A module's code table: the one place where calls find the code of the module's functions.
///
/// Every defined function has two slots (its code and its tail entry) with a stub each (see
/// runtime-c/src/code_table.c). Generated code calls through the slots; funcref records, table
/// elements, exports and typed functions hold the stubs, which never move. Compiled code enters
/// the table batch by batch: all at once (eager), on a function's first call (lazy, through the
/// stub's lazy part), and later from the optimizing tier. Installing a slot is one atomic store;
/// the code it replaces stays loaded as long as the module lives, so a thread still running it
/// is safe.
final class CodeTable: @unchecked Sendable {
    private var table: UnsafeMutablePointer<kiln_code_table>!
    /// The module, validated: lowering takes nothing else.
    private let module: ValidatedModule
    private var info: ModuleInfo { module.info }
    private let signatureIDs: [UInt64]
    private let options: LoweringOptions
    /// Guards everything below. Held while a batch compiles: a thread calling another
    /// function that is not compiled yet waits; threads running compiled code never take it.
    private let lock = NSLock()
    private var batches: [any LoadedCode] = []
    private var tier = ExecutionTier.baseline
    private var tierNote: String?
    private var compiled: [Bool]
    private var ranges = CodeRanges()
    private var failure: KilnError?
    private(set) var entryThunks: [kiln_thunk] = []
    private var compiledSoFar = Statistics()

    /// What compiling took so far.
    var statistics: Statistics {
        lock.lock()
        defer { lock.unlock() }
        return compiledSoFar
    }

    /// Why the last lazy compilation failed (its call trapped with `compilationFailed`).
    var lazyCompilationFailure: KilnError? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    struct Statistics: Sendable {
        var batches = 0
        var functions = 0
        var lowerSeconds = 0.0
        var compileSeconds = 0.0
    }

    /// Lazily compiled batches stop growing past this many bytes of Wasm code.
    /// (Measured on cc1 -version: 20,000 instructions, about 56 KB, reached the first output
    /// sooner than 1,000 or 4,000; adding code-section neighbours to batches tripled the time.)
    static let lazyBatchBytes = 56_000
    /// Eager compilation compiles the module in batches of about this many bytes, so that
    /// the C of the whole module is never held at once.
    static let eagerBatchBytes = 1_120_000

    /// A table whose slots all start lazy. Compiles the entry thunks (small: one per type) with
    /// libtcc, or takes them and every function from `optimized`, the whole module's code.
    init(module: ValidatedModule, signatureIDs: [UInt64], options: LoweringOptions, optimized: (any LoadedCode)? = nil) throws(KilnError) {
        self.module = module
        self.signatureIDs = signatureIDs
        self.options = options
        self.compiled = Array(repeating: false, count: module.info.definedFunctionCount)
        let resolve: kiln_code_resolver = { owner, slot in
            Unmanaged<CodeTable>.fromOpaque(owner!).takeUnretainedValue().resolve(slot: slot)
        }
        guard let table = kiln_code_table_create(UInt32(info.definedFunctionCount), resolve, nil) else {
            throw KilnError.compilation(reason: "could not map the code table's stubs (out of memory or address space)")
        }
        self.table = table
        table.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        if let optimized {
            try install(optimized, functions: Array(0..<info.definedFunctionCount), withEntryThunks: true)
            tier = .optimized
        } else {
            try compile(functions: [], withEntryThunks: true)
        }
    }

    deinit { kiln_code_table_destroy(table) }

    /// The stable address of a defined function's code: what records and tables hold.
    func codeStub(_ defined: Int) -> UnsafeMutableRawPointer {
        kiln_code_table_stub(table, UInt32(2 * defined))
    }

    /// The slots, for each instance's `kiln_instance.code` (generated code calls through them).
    var slots: UnsafeMutablePointer<UnsafeMutableRawPointer?> { table.pointee.slots }

    /// Where table elements read a defined function's code when written (`kiln_table_element`),
    /// so that indirect calls skip the stub; nil while a swap to optimized code is to come, so
    /// that elements keep the stub, which follows the swap.
    func elementCodeSlot(_ defined: Int) -> UnsafeMutablePointer<UnsafeMutableRawPointer?>? {
        lock.lock()
        defer { lock.unlock() }
        return optimizing ? nil : table.pointee.slots + 2 * defined
    }

    /// The stable address of a defined function's tail entry (see `TailCalls`).
    func tailStub(_ defined: Int) -> UnsafeMutableRawPointer {
        kiln_code_table_stub(table, UInt32(2 * defined + 1))
    }

    /// Compiles every function not compiled yet, batch after batch of consecutive functions:
    /// a thread lowers the next batches while libtcc (one compile at a time per process)
    /// compiles the current one, with at most `loweredAhead` batches of C waiting.
    func compileAll() throws(KilnError) {
        lock.lock()
        defer { lock.unlock() }
        var batches: [[Int]] = [[]]
        var size = 0
        for defined in 0..<info.definedFunctionCount where !compiled[defined] {
            if size >= Self.eagerBatchBytes {
                batches.append([])
                size = 0
            }
            batches[batches.count - 1].append(defined)
            size += info.code.byteCount(defined)
        }
        batches.removeAll { $0.isEmpty }
        guard !batches.isEmpty else { return }
        let planned = batches
        let pipeline = LoweringPipeline(count: batches.count, ahead: Self.loweredAhead)
        let lowerer = Thread { [module, signatureIDs, options] in
            for (index, batch) in planned.enumerated() {
                guard pipeline.waitForRoom() else { return }
                let start = ContinuousClock.now
                let result = Result { () throws(KilnError) -> LoweredBatch in
                    try ModuleLowering.lower(module, functions: batch, withEntryThunks: false, signatureIDs: signatureIDs, options: options)
                }
                pipeline.deliver(index, result, seconds: Self.seconds(ContinuousClock.now - start))
            }
        }
        lowerer.stackSize = 64 << 20
        lowerer.start()
        defer { pipeline.cancel() }
        for (index, batch) in planned.enumerated() {
            let lowered = try pipeline.take(index).get()
            var clock = ContinuousClock.now
            let code = try TCCCompiler.compile(lowered.source)
            compiledSoFar.compileSeconds += Self.lap(&clock)
            try install(code, functions: batch, withEntryThunks: false)
            compiledSoFar.batches += 1
            compiledSoFar.functions += batch.count
        }
        compiledSoFar.lowerSeconds += pipeline.lowerSeconds
    }

    /// Lowered batches waiting for libtcc in `compileAll`.
    static let loweredAhead = 2

    /// A defined function's index from an address in its native code, for backtraces.
    func definedFunction(containing address: UnsafeRawPointer) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        return ranges.function(containing: UInt(bitPattern: address))
    }

    /// Whether a defined function has been compiled (lazy compilation's progress).
    func isCompiled(_ defined: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return compiled[defined]
    }

    // MARK: - Lazy compilation

    /// The lazy part of a stub landed here (on the Wasm thread, outside Wasm): compile the
    /// function's batch unless another thread did meanwhile, and return the slot's code.
    private func resolve(slot: UInt32) -> UnsafeMutableRawPointer? {
        let defined = Int(slot / 2)
        lock.lock()
        defer { lock.unlock() }
        if !compiled[defined] {
            let batch = lazyBatch(startingAt: defined)
            // On a thread of its own: the Wasm stack may be nearly used up, and compiling needs
            // an unknown amount of it.
            let result = onLargeStack { () -> KilnError? in
                do throws(KilnError) {
                    try self.compile(functions: batch, withEntryThunks: false)
                    return nil
                } catch { return error }
            }
            if let result {
                failure = result
                return nil
            }
        }
        return table.pointee.slots[Int(slot)]
    }

    /// The function and the functions it calls directly, breadth first, that are not compiled
    /// yet, up to `lazyBatchBytes` bytes: what a call is likely to run next.
    private func lazyBatch(startingAt first: Int) -> [Int] {
        var batch = [first]
        var queued: Set<Int> = [first]
        var size = info.code.byteCount(first)
        var next = 0
        while next < batch.count && size < Self.lazyBatchBytes {
            // The module validated: its bodies decode.
            guard let body = try? info.code.body(batch[next]) else { break }
            for instruction in body.instructions {
                guard case .standard(.call(let callee)) = instruction, Int(callee) >= info.importedFunctionCount else { continue }
                let defined = Int(callee) - info.importedFunctionCount
                guard !compiled[defined], queued.insert(defined).inserted else { continue }
                batch.append(defined)
                size += info.code.byteCount(defined)
                if size >= Self.lazyBatchBytes { break }
            }
            next += 1
        }
        return batch
    }

    // MARK: - Compiling a batch

    /// Lowers and compiles `functions` (defined indices) with libtcc and installs them. Caller
    /// holds `lock` (or is the initializer).
    private func compile(functions: [Int], withEntryThunks: Bool) throws(KilnError) {
        var clock = ContinuousClock.now
        let lowered = try ModuleLowering.lower(module, functions: functions, withEntryThunks: withEntryThunks, signatureIDs: signatureIDs, options: options)
        compiledSoFar.lowerSeconds += Self.lap(&clock)
        let code = try TCCCompiler.compile(lowered.source)
        compiledSoFar.compileSeconds += Self.lap(&clock)
        try install(code, functions: functions, withEntryThunks: withEntryThunks)
        compiledSoFar.batches += functions.isEmpty ? 0 : 1
        compiledSoFar.functions += functions.count
    }

    /// Installs the functions of compiled batch code (`ModuleLowering.lower(info, functions:...)`
    /// built by any compiler). Caller holds `lock` (or is the initializer).
    private func install(_ code: any LoadedCode, functions: [Int], withEntryThunks: Bool) throws(KilnError) {
        if withEntryThunks {
            guard let entries = code.symbol(LoweredBatch.entryTableSymbol) else {
                throw KilnError.compilation(reason: "generated code lacks its entry thunks")
            }
            let thunks = entries.assumingMemoryBound(to: kiln_thunk.self)
            entryThunks = (0..<info.types.count).map { thunks[$0] }
        }
        guard let symbols = code.symbol(LoweredBatch.batchSymbol), let end = code.symbol(LoweredBatch.batchEndSymbol) else {
            throw KilnError.compilation(reason: "generated code lacks its function table")
        }
        let addresses = symbols.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
        var starts: [(UInt, Int)] = []
        for (position, defined) in functions.enumerated() {
            guard let function = addresses[2 * position] else { continue }
            let typeIndex = Int(info.functionTypes[defined + info.importedFunctionCount])
            let tail = addresses[2 * position + 1] ?? unsafeBitCast(entryThunks[typeIndex], to: UnsafeMutableRawPointer.self)
            // The tail slot first: a thread that sees the new code may tail-call through it.
            kiln_code_table_install(table, UInt32(2 * defined + 1), tail)
            kiln_code_table_install(table, UInt32(2 * defined), function)
            starts.append((UInt(bitPattern: function), defined))
            compiled[defined] = true
        }
        // Where Wasm functions end: the batch's end marker and every entry thunk (an optimizing
        // compiler may place them anywhere among the functions).
        var ends = [UInt(bitPattern: end)]
        if let entries = code.symbol(LoweredBatch.entryTableSymbol) {
            let thunks = entries.assumingMemoryBound(to: UInt.self)
            ends += (0..<info.types.count).map { thunks[$0] }.filter { $0 != 0 }
        }
        ranges.add(starts: starts, ends: ends)
        batches.append(code)
    }

    // MARK: - Tiering

    /// Whether functions compiled by libtcc and by an optimizing compiler may call each other:
    /// not when a function type passes a v128 by value (the two compilers pass 16-byte values
    /// differently).
    var canMixTiers: Bool {
        !info.types.contains { type in (type.parameters + type.results).contains(.v128) }
    }

    /// The tiered policy: compiles the whole module with the optimizing compiler on a background
    /// thread and installs it in every slot when done (calls made from then on run it; frames
    /// already running finish on libtcc's code). Records of tiered modules hold stubs, so tables
    /// reach the new code too.
    func optimizeInBackground(engine: Engine, wasm: [UInt8]) {
        guard canMixTiers else {
            setNote("tiered: a function type passes v128 by value, which libtcc and clang code cannot exchange; staying on libtcc (--tier optimized compiles it all)")
            return
        }
        lock.lock()
        optimizing = true
        lock.unlock()
        let thread = Thread { [self] in
            do throws(KilnError) {
                let lowered = try ModuleLowering.lower(module, signatureIDs: signatureIDs, options: options)
                switch try engine.optimizedCode(wasm: wasm, source: lowered.source) {
                case .loaded(let code, let fromCache, let compiler):
                    lock.lock()
                    defer { lock.unlock() }
                    try install(code, functions: Array(0..<info.definedFunctionCount), withEntryThunks: false)
                    tier = .optimized
                    tierNote = fromCache ? "tiered: optimized code from the cache" : "tiered: optimized code compiled with \(compiler)"
                case .unavailable(let reason):
                    setNote(reason)
                }
            } catch {
                setNote("tiered: the optimizing compiler failed, staying on libtcc: \(error)")
            }
            optimized.signal()
        }
        thread.qualityOfService = .utility
        thread.stackSize = 64 << 20
        thread.start()
    }

    private let optimized = DispatchSemaphore(value: 0)
    private var optimizing = false

    /// Waits until a background optimization (`optimizeInBackground`) has finished or given up;
    /// returns at once when none was started.
    func waitForOptimization() {
        lock.lock()
        let started = optimizing
        lock.unlock()
        guard started else { return }
        optimized.wait()
        optimized.signal()
    }

    /// The tier the code runs on now, and why (or where it came from).
    var tierState: (tier: ExecutionTier, note: String?) {
        lock.lock()
        defer { lock.unlock() }
        return (tier, tierNote)
    }

    func setNote(_ note: String) {
        lock.lock()
        tierNote = note
        lock.unlock()
    }

    private static func lap(_ clock: inout ContinuousClock.Instant) -> Double {
        let now = ContinuousClock.now
        defer { clock = now }
        return seconds(now - clock)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

/// Hands lowered batches from the lowering thread to the compiling one, in order, with a bound
/// on how many wait (so the C of a whole module is never held at once).
private final class LoweringPipeline: @unchecked Sendable {
    private let condition = NSCondition()
    private var results: [Result<LoweredBatch, KilnError>?]
    private var waiting = 0
    private var cancelled = false
    private let ahead: Int
    private(set) var lowerSeconds = 0.0

    init(count: Int, ahead: Int) {
        results = Array(repeating: nil, count: count)
        self.ahead = ahead
    }

    /// The lowering side: false once the compiling side has stopped.
    func waitForRoom() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while waiting >= ahead && !cancelled { condition.wait() }
        return !cancelled
    }

    func deliver(_ index: Int, _ result: Result<LoweredBatch, KilnError>, seconds: Double) {
        condition.lock()
        results[index] = result
        waiting += 1
        lowerSeconds += seconds
        condition.broadcast()
        condition.unlock()
    }

    /// The compiling side: batch `index`, once lowered.
    func take(_ index: Int) -> Result<LoweredBatch, KilnError> {
        condition.lock()
        defer { condition.unlock() }
        while results[index] == nil { condition.wait() }
        let result = results[index]!
        results[index] = nil
        waiting -= 1
        condition.broadcast()
        return result
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Where each compiled function's code starts, across batches, sorted; each batch also marks
/// where code that is not a Wasm function starts (entry `-1`: the batch's end, entry thunks),
/// so an address there maps to nothing.
struct CodeRanges: Sendable {
    private var starts: [(address: UInt, function: Int)] = []

    mutating func add(starts new: [(UInt, Int)], ends: [UInt]) {
        guard !new.isEmpty else { return }
        starts += new.map { (address: $0.0, function: $0.1) }
        starts += ends.map { (address: $0, function: -1) }
        starts.sort { $0.address < $1.address }
    }

    func function(containing target: UInt) -> Int? {
        // The last start at or below the address.
        var low = 0, high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle].address <= target { low = middle + 1 } else { high = middle }
        }
        guard low > 0, starts[low - 1].function >= 0 else { return nil }
        return starts[low - 1].function
    }
}
