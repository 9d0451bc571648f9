import Foundation
import KilnRuntimeC
import WasmTypes

/// Compilation settings shared by every module an Engine compiles.
public struct EngineConfiguration: Sendable {
    /// Bytes of stack for Wasm code on each thread that calls into Wasm (the Kiln-owned stack
    /// that calls switch to). Deeper recursion traps with ``TrapReason/callStackExhausted``.
    public var stackSize: Int = 16 << 20
    /// The WebAssembly proposals modules may use (beyond Wasm 2.0, always on). Default: every
    /// proposal Kiln implements. A module using one outside the set fails to compile (and to
    /// validate) with ``KilnError/unsupported(feature:)``.
    public var features: WasmFeatures = .default
    /// Meters fuel: every Wasm instruction costs one unit (see <doc:RunningUntrustedCode> for
    /// the exact rules), and a call that runs out traps with ``TrapReason/outOfFuel``. A store
    /// starts with no fuel: set ``Store/fuel`` before calling. Off: no metering code at all.
    public var consumeFuel = false
    /// Checks the engine's epoch against the store's deadline at every function entry and loop
    /// header (``Engine/incrementEpoch()``, ``Store/setEpochDeadline(_:)``); it is also how
    /// ``Store/interrupt()`` and task cancellation stop a running call. Off: no checks at all.
    public var epochInterruption = false
    /// When functions are compiled: all when a `Module` is created (`.eager`), each on its first
    /// call (`.lazy`: creating a module only decodes and validates it), or lazily for modules of
    /// ``CompilationMode/lazyThresholdBytes`` of code and more (`.automatic`, the default).
    public var compilation: CompilationMode = .automatic
    /// Lazy compilation: after each first call, how many batches a background thread compiles
    /// ahead, from the functions the new code calls (and, before the first call, from the start
    /// function and exports), so that later first calls may find their code ready. 0 (the
    /// default): compile only what is called. Measured on cc1 `-version`, whose first calls come
    /// every ~0.1 ms, 2 took the first output from 0.50 s to 1.1–1.45 s: a batch compiled ahead
    /// holds the module's lock, so the next first call waits for it, and few are guessed right.
    /// It pays only for programs that run a while between first calls.
    public var compileAheadBatches = 0
    /// Which compiler produces modules' native code: libtcc (`.baseline`, the default), an
    /// optimizing C compiler (`.optimized`), or both in turn (`.tiered`: libtcc first, then
    /// optimized code as it becomes ready, at once from the cache).
    public var tier: ExecutionTier = .baseline
    /// The optimizing C compiler (a path, or a name looked up on PATH). `KILN_CC` in the
    /// environment takes precedence; without either, the `clang` beside the Swift toolchain or on
    /// PATH, then `cc`. When none runs, `.optimized` falls back to libtcc (``Module/tierNote``).
    public var optimizingCompiler: String? = nil
    /// Whether optimized code is cached on disk (and loaded from there on later runs).
    public var cacheOptimizedCode = true
    /// The optimized-code cache's directory; nil: `$KILN_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln` (see ``OptimizedCodeCache``).
    public var cacheDirectory: String? = nil
    /// The cache's size cap in bytes; the least recently used entries go first.
    public var cacheCapacity: Int = OptimizedCodeCache.defaultCapacity
    /// The most bytes of GC objects a store may hold (nil: no limit). An allocation that would
    /// pass it collects first, then traps with ``TrapReason/gcHeapExhausted``.
    public var gcHeapLimit: UInt64? = nil
    /// The default settings.
    public init() {}
}

/// The compilation context: interns function signatures (so modules compiled by one Engine can
/// share tables and call each other's functions through them) and caches the native stubs behind
/// host functions. Thread-safe; usually one per process.
///
/// Modules, stores and linkers all belong to one engine and cannot be mixed with another's.
public final class Engine: @unchecked Sendable {
    /// The settings the engine was created with.
    public let configuration: EngineConfiguration
    private let lock = NSLock()
    /// Every type of every module compiled here, by iso-recursive identity (function types'
    /// ids are their signature ids).
    private var types = CanonicalTypeRegistry()
    /// RTTs of GC and function types (GCRuntime.swift).
    let gcTypes = RTTRegistry()
    private var hostStubs: [UInt64: (code: NativeCode, entry: UnsafeMutableRawPointer)] = [:]

    /// The epoch and the stores that check deadlines against it (C: lock-free ticks).
    let clock: OpaquePointer

    /// Creates an engine. Its stack size applies to its own stores only.
    public init(configuration: EngineConfiguration = EngineConfiguration()) {
        self.configuration = configuration
        guard let clock = kiln_clock_create() else { fatalError("kiln: out of memory creating an engine") }
        self.clock = clock
    }

    deinit { kiln_clock_destroy(clock) }

    /// Advances the epoch by one tick: stores whose deadline it reaches trap with
    /// ``TrapReason/interrupted`` at their next check (function entry or loop header), when
    /// ``EngineConfiguration/epochInterruption`` is on. Atomics only, no lock and no
    /// allocation: callable from any thread, and from a signal handler.
    public func incrementEpoch() {
        kiln_clock_tick(clock)
    }

    /// The current epoch (ticks since the engine was created).
    public var epoch: UInt64 { kiln_clock_now(clock) }

    /// What the lowering needs to know of the configuration.
    var loweringOptions: LoweringOptions {
        LoweringOptions(consumeFuel: configuration.consumeFuel, epochInterruption: configuration.epochInterruption)
    }

    /// The optimized-code cache this engine uses, or nil when caching is off.
    public var optimizedCodeCache: OptimizedCodeCache? {
        guard configuration.cacheOptimizedCode else { return nil }
        return OptimizedCodeCache(directory: OptimizedCodeCache.defaultDirectory(configured: configuration.cacheDirectory),
                                  capacity: configuration.cacheCapacity)
    }

    /// The engine-wide id of a function type (a final type of its own recursion group, as a
    /// plain `(func ...)` is); 0 is reserved for empty table slots.
    func signatureID(_ type: FunctionType) -> UInt64 {
        let key = TypeCanonicalization.GroupKey(types: [SubType(isFinal: true, supertypes: [], body: .function(type))])
        return withTypeRegistry { $0.ids(of: key)[0] }
    }

    /// Runs `body` on the canonical type table, under the engine's lock.
    func withTypeRegistry<T>(_ body: (inout CanonicalTypeRegistry) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&types)
    }

    /// Native code with the Wasm calling convention for host functions of this type.
    func hostStub(for type: FunctionType) throws(KilnError) -> UnsafeMutableRawPointer {
        let id = signatureID(type)
        lock.lock()
        if let stub = hostStubs[id] {
            lock.unlock()
            return stub.entry
        }
        lock.unlock()
        let code = try TCCCompiler.compile(ModuleLowering.hostStub(type))
        guard let entry = code.symbol("kiln_host_stub") else {
            throw KilnError.compilation(reason: "host stub missing")
        }
        lock.lock()
        defer { lock.unlock() }
        if let stub = hostStubs[id] { return stub.entry }
        hostStubs[id] = (code, entry)
        return entry
    }
}
