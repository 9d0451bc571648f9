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
    let module: ValidatedModule
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
    /// Compiles first calls' batches, and ahead of them (lazy modules).
    private var lazyCompiler: LazyCompiler!

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
        /// Lazy batches compiled ahead of a call (``LazyCompiler``), included in `batches`.
        var aheadBatches = 0
    }

    /// Lazily compiled batches stop growing past this many bytes of Wasm code.
    /// (Measured on cc1 -version: 20,000 instructions, about 56 KB, reached the first output
    /// sooner than 1,000 or 4,000; adding code-section neighbours to batches tripled the time.)
    static let lazyBatchBytes = 56_000
    /// Batches compiled ahead of calls stop at this many bytes.
    static let aheadBatchBytes = 12_000
    /// Eager compilation compiles the module in batches of about this many bytes, so that
    /// the C of the whole module is never held at once.
    static let eagerBatchBytes = 1_120_000

    /// A table whose slots all start lazy. Compiles the entry thunks (small: one per type) with
    /// libtcc, or takes them and every function from `optimized`, the whole module's code.
    init(module: ValidatedModule, signatureIDs: [UInt64], options: LoweringOptions, compileAheadBatches: Int = 0, optimized: (any LoadedCode)? = nil) throws(KilnError) {
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
        lazyCompiler = LazyCompiler(aheadPerDemand: compileAheadBatches) { [weak self] demand in
            self?.compileLazily(demand: demand) ?? false
        }
        table.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        if let optimized {
            try install(optimized, functions: Array(0..<info.definedFunctionCount), withEntryThunks: true)
            tier = .optimized
        } else {
            try compile(functions: [], withEntryThunks: true)
        }
    }

    deinit {
        lazyCompiler.stop()
        kiln_code_table_destroy(table)
    }

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

    /// Compiles every function not compiled yet, in batches of consecutive functions, on the
    /// compile workers (`CompileWorkers`, one per compiler and at least two): each lowers a batch
    /// and compiles it, and this thread installs them as they finish. At most one batch of C per
    /// worker exists at a time.
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
        let results = CompiledBatches(count: planned.count)
        let compilers = planned.count > 1 ? TCCCompiler.prepareParallelCompilers() : 1
        for _ in 0..<min(planned.count, max(2, compilers)) {
            CompileWorkers.shared.run { [module, signatureIDs, options] in
                while let index = results.claim() {
                    results.deliver(index, Self.lowerAndCompile(module, planned[index], withEntryThunks: false, signatureIDs: signatureIDs, options: options))
                }
            }
        }
        defer { results.cancel() }
        for _ in planned.indices {
            let (index, result) = results.next()
            let (code, lower, compile) = try result.get()
            compiledSoFar.lowerSeconds += lower
            compiledSoFar.compileSeconds += compile
            try install(code, functions: planned[index], withEntryThunks: false)
            compiledSoFar.batches += 1
            compiledSoFar.functions += planned[index].count
        }
    }

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

    /// The lazy part of a stub landed here (on the Wasm thread, outside Wasm): have the lazy
    /// compiler compile the function's batch unless it is compiled already, and return the
    /// slot's code (nil when compiling failed).
    private func resolve(slot: UInt32) -> UnsafeMutableRawPointer? {
        let defined = Int(slot / 2)
        if !isCompiled(defined) { lazyCompiler.demand(defined) }
        lock.lock()
        defer { lock.unlock() }
        return compiled[defined] ? table.pointee.slots[Int(slot)] : nil
    }

    /// The lazy compiler's work: the batch of a function a call is waiting for, or (`demand`
    /// nil) the next batch from the frontier of functions that compiled code calls. Returns
    /// whether anything is left to compile ahead.
    private func compileLazily(demand: Int?) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let roots: [Int]
        if let demand {
            guard !compiled[demand] else { return !frontier.isEmpty }
            roots = [demand]
        } else {
            roots = frontier
        }
        // Ahead batches are smaller: a call that needs other code waits for the one compiling.
        let (batch, rest) = lazyBatch(from: roots, bytes: demand == nil ? Self.aheadBatchBytes : Self.lazyBatchBytes)
        frontier = demand == nil ? rest : rest + frontier
        if frontier.count > Self.frontierLimit { frontier.removeLast(frontier.count - Self.frontierLimit) }
        guard !batch.isEmpty else { return !frontier.isEmpty }
        do throws(KilnError) {
            try compile(functions: batch, withEntryThunks: false)
            if demand == nil { compiledSoFar.aheadBatches += 1 }
        } catch {
            // Compiled ahead, the error waits for the call that needs the function (it retries).
            if demand != nil { failure = error }
        }
        return !frontier.isEmpty
    }

    /// Functions that compiled code calls and that are not compiled, nearest first: where
    /// compiling ahead continues. Bounded (the oldest go): it only guides a guess.
    private var frontier: [Int] = []
    static let frontierLimit = 4096

    /// Lets the lazy compiler start on the module's start function and exports before anything
    /// is called (instantiation and the host's set-up run meanwhile).
    func compileAheadFromEntryPoints() {
        lock.lock()
        var entries: [Int] = []
        if let start = info.start { entries.append(Int(start)) }
        for export in info.exports {
            if case .function(let index) = export.descriptor { entries.append(Int(index)) }
        }
        frontier = entries.filter { $0 >= info.importedFunctionCount }.map { $0 - info.importedFunctionCount }
        lock.unlock()
        lazyCompiler.compileAhead(batches: lazyCompiler.aheadPerDemand)
    }

    /// A breadth-first walk of direct calls from `roots`, collecting functions not compiled yet
    /// up to `lazyBatchBytes` of Wasm code: what a call is likely to run next. `rest` is where
    /// the walk stopped (functions found but not taken).
    private func lazyBatch(from roots: [Int], bytes budget: Int) -> (batch: [Int], rest: [Int]) {
        var queue = roots.filter { !compiled[$0] }
        var seen = Set(queue)
        var batch: [Int] = []
        var size = 0
        var next = 0
        while next < queue.count && size < budget {
            let function = queue[next]
            next += 1
            batch.append(function)
            size += info.code.byteCount(function)
            // The module validated: its bodies decode.
            guard let body = try? info.code.body(function) else { continue }
            for instruction in body.instructions {
                guard case .standard(.call(let callee)) = instruction, Int(callee) >= info.importedFunctionCount else { continue }
                let defined = Int(callee) - info.importedFunctionCount
                if !compiled[defined], seen.insert(defined).inserted { queue.append(defined) }
            }
        }
        return (batch, Array(queue[next...]))
    }

    // MARK: - Compiling a batch

    /// Lowers and compiles `functions` (defined indices) with libtcc and installs them. Caller
    /// holds `lock` (or is the initializer). A big batch is compiled in two halves at once, one
    /// on a compile worker, when there are compilers for both.
    private func compile(functions: [Int], withEntryThunks: Bool) throws(KilnError) {
        var parts = [functions]
        let sizes = functions.map(info.code.byteCount)
        let total = sizes.reduce(0, +)
        if !withEntryThunks && functions.count > 1 && total >= Self.splitBatchBytes
            && TCCCompiler.parallelism > 1 && TCCCompiler.prepareParallelCompilers() > 1 {
            // The first part: at least the first function (the one a call waits for), then
            // functions up to half the bytes, leaving at least one for the second.
            var first = 1
            var half = sizes[0]
            while first < functions.count - 1 && half + sizes[first] <= total / 2 {
                half += sizes[first]
                first += 1
            }
            parts = [Array(functions[..<first]), Array(functions[first...])]
        }
        let second = parts.count > 1
            ? CompileWorkers.shared.start { [module, signatureIDs, options, parts] in
                Self.lowerAndCompile(module, parts[1], withEntryThunks: false, signatureIDs: signatureIDs, options: options)
            } : nil
        var results = [Self.lowerAndCompile(module, parts[0], withEntryThunks: withEntryThunks, signatureIDs: signatureIDs, options: options)]
        if let second { results.append(second.wait()) }
        for (part, result) in zip(parts, results) {
            let (code, lower, compile) = try result.get()
            compiledSoFar.lowerSeconds += lower
            compiledSoFar.compileSeconds += compile
            try install(code, functions: part, withEntryThunks: withEntryThunks)
        }
        compiledSoFar.batches += functions.isEmpty ? 0 : 1
        compiledSoFar.functions += functions.count
    }

    /// Lazy batches of at least this many bytes compile in two halves at once.
    static let splitBatchBytes = 16_000

    typealias CompiledBatch = Result<(code: NativeCode, lower: Double, compile: Double), KilnError>

    /// Lowering and libtcc for one batch, on any thread; the time each took.
    private static func lowerAndCompile(_ module: ValidatedModule, _ functions: [Int], withEntryThunks: Bool, signatureIDs: [UInt64], options: LoweringOptions) -> CompiledBatch {
        Result { () throws(KilnError) in
            var clock = ContinuousClock.now
            let lowered = try ModuleLowering.lower(module, functions: functions, withEntryThunks: withEntryThunks, signatureIDs: signatureIDs, options: options)
            let lower = lap(&clock)
            let code = try TCCCompiler.compile(lowered.source)
            return (code, lower, lap(&clock))
        }
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
    func optimizeInBackground(_ job: OptimizedCodeJob) {
        guard canMixTiers else {
            setNote("tiered: a function type passes v128 by value, which libtcc and clang code cannot exchange; staying on libtcc (--tier optimized compiles it all)")
            return
        }
        if info.codeSize >= Self.hotFunctionsThresholdBytes {
            optimizeHotFunctions(job)
            return
        }
        lock.lock()
        optimizing = true
        lock.unlock()
        let thread = Thread { [self] in
            do throws(KilnError) {
                let lowered = try ModuleLowering.lower(module, signatureIDs: signatureIDs, options: options)
                let code = try job.compile(source: lowered.source)
                lock.lock()
                defer { lock.unlock() }
                try install(code, functions: Array(0..<info.definedFunctionCount), withEntryThunks: false)
                tier = .optimized
                tierNote = "tiered: optimized code compiled with \(job.compiler.path)"
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

    // MARK: Hot functions first

    /// Tiered modules with this much code or more are not compiled whole by the optimizing
    /// compiler (70 MB of C at -O2 takes many minutes): their hot functions are, in batches.
    /// (A variable for tests, which tier small modules this way.)
    nonisolated(unsafe) static var hotFunctionsThresholdBytes = 4 << 20
    /// Wasm bytes of hot functions per optimized batch (a second or two of clang).
    static let hotBatchBytes = 96 << 10
    /// Samples a function needs to count as hot: at least this many, and at least this share
    /// of the samples since the last batch (a flat profile, as GCC's, has few functions worth a
    /// compile: an absolute count alone sent hundreds of lukewarm functions to clang, whose
    /// time then outweighed the gain on cc1).
    static let hotSamples = 3
    static let hotShare = 0.01
    /// The optimizing compiler's time on hot batches stays under this share of the process's
    /// CPU time.
    static let hotCompileShare = 0.25
    /// The sampling profiler's period (process CPU time) and how often samples are read.
    static let sampleIntervalMicroseconds: UInt32 = 1000
    static let hotPeriodSeconds = 0.1

    /// What hot-function tiering did so far: batches and functions optimized, samples taken.
    private var hotStatistics = (batches: 0, functions: 0, samples: 0, seconds: 0.0)
    private var hotFunctions: Set<Int> = []

    /// The defined functions whose hot code runs optimized.
    var optimizedHotFunctions: Set<Int> {
        lock.lock()
        defer { lock.unlock() }
        return hotFunctions
    }

    /// The tiered policy for big modules: a sampling profiler (SIGPROF every millisecond of CPU
    /// time, kiln_sampler_*) records where threads run; the code ranges map each sample to a
    /// function; every period the hottest functions not optimized yet go to the optimizing
    /// compiler as one batch, whose code is installed in their slots (calls made from then on
    /// run it). Needs nothing from the lowering. Stops with the module. The batches are not
    /// cached: which functions run hot depends on the run.
    private func optimizeHotFunctions(_ job: OptimizedCodeJob) {
        guard kiln_sampler_start(Self.sampleIntervalMicroseconds) == 0 else {
            setNote("tiered: the sampling profiler did not start (SIGPROF/setitimer), staying on libtcc")
            return
        }
        lock.lock()
        optimizing = true
        tierNote = "tiered: optimizing hot functions"
        lock.unlock()
        let thread = Thread { [weak self, info, signatureIDs, options] in
            defer { kiln_sampler_stop() }
            var samples = [UInt](repeating: 0, count: 8192)
            var heat: [Int: Int] = [:]
            var done = Set<Int>()
            var signalled = false
            defer { if !signalled { self?.optimized.signal() } }
            while true {
                Thread.sleep(forTimeInterval: Self.hotPeriodSeconds)
                // The module went away: stop.
                guard let table = self else { return }
                let count = Int(kiln_sampler_drain(&samples, UInt32(samples.count)))
                table.lock.lock()
                for pc in samples[0..<count] {
                    if let function = table.ranges.function(containing: pc), !done.contains(function) { heat[function, default: 0] += 1 }
                }
                table.hotStatistics.samples += count
                table.lock.unlock()
                var batch: [Int] = []
                var size = 0
                // The hottest, whatever its size, then the next hottest within the budget (one
                // too big for what is left waits for a later batch: clang's time grows with size).
                let threshold = max(Self.hotSamples, Int(Double(heat.values.reduce(0, +)) * Self.hotShare))
                for (function, _) in heat.filter({ $0.value >= threshold }).sorted(by: { $0.value > $1.value }) {
                    let bytes = info.code.byteCount(function)
                    if batch.isEmpty {
                        batch.append(function)
                    } else if size + bytes <= Self.hotBatchBytes {
                        batch.append(function)
                        size += bytes
                    }
                }
                // What stayed lukewarm fades: a function must be hot in recent periods.
                heat = heat.compactMapValues { $0 > 1 ? $0 / 2 : nil }
                guard !batch.isEmpty else { continue }
                // Compiling must not cost more than a fraction of what the program has run: on a
                // flat profile and a busy machine, clang's time outweighs what it saves.
                var usage = timespec()
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &usage)
                let ran = Double(usage.tv_sec) + Double(usage.tv_nsec) * 1e-9
                table.lock.lock()
                let spent = table.hotStatistics.seconds
                table.lock.unlock()
                guard spent <= Self.hotCompileShare * ran else { continue }
                var clock = ContinuousClock.now
                if ProcessInfo.processInfo.environment["KILN_TRACE_TIERING"] != nil {
                    FileHandle.standardError.write(Data("kiln: hot batch \(batch.map { "\($0):\(info.code.byteCount($0))B" }) of \(heat.count) warm, \(count) samples\n".utf8))
                }
                do throws(KilnError) {
                    let lowered = try ModuleLowering.lower(table.module, functions: batch, withEntryThunks: false, signatureIDs: signatureIDs, options: options)
                    let code = try job.compileBatch(source: lowered.source, functions: batch)
                    table.lock.lock()
                    defer { table.lock.unlock() }
                    try table.install(code, functions: batch, withEntryThunks: false)
                    table.hotStatistics.batches += 1
                    table.hotStatistics.functions += batch.count
                    table.hotFunctions.formUnion(batch)
                    table.hotStatistics.seconds += Self.lap(&clock)
                    table.tier = .tiered
                    table.tierNote = "tiered: \(table.hotStatistics.functions) hot functions optimized in \(table.hotStatistics.batches) batches"
                } catch {
                    table.setNote("tiered: the optimizing compiler failed on hot functions, staying on libtcc for the rest: \(error)")
                    return
                }
                done.formUnion(batch)
                for function in batch { heat[function] = nil }
                if !signalled {
                    signalled = true
                    table.optimized.signal()
                }
            }
        }
        thread.qualityOfService = .utility
        thread.stackSize = 64 << 20
        thread.start()
    }


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

    static func lap(_ clock: inout ContinuousClock.Instant) -> Double {
        let now = ContinuousClock.now
        defer { clock = now }
        return seconds(now - clock)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

/// The batches of `compileAll`: workers claim them in order and deliver them compiled; the
/// installing thread takes them as they come.
private final class CompiledBatches: @unchecked Sendable {
    typealias Compiled = CodeTable.CompiledBatch
    private let condition = NSCondition()
    private let count: Int
    private var claimed = 0
    private var done: [(Int, Compiled)] = []
    private var cancelled = false

    init(count: Int) { self.count = count }

    /// A worker's next batch; nil when there is none left or the installer gave up.
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled, claimed < count else { return nil }
        claimed += 1
        return claimed - 1
    }

    func deliver(_ index: Int, _ result: Compiled) {
        condition.lock()
        done.append((index, result))
        condition.broadcast()
        condition.unlock()
    }

    /// The installer: the next batch to finish.
    func next() -> (Int, Compiled) {
        condition.lock()
        defer { condition.unlock() }
        while done.isEmpty { condition.wait() }
        return done.removeFirst()
    }

    /// Workers stop claiming (an install failed, or all are installed).
    func cancel() {
        condition.lock()
        cancelled = true
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
