import Foundation
import KilnRuntimeC
internal import WASI
import WasmTypes

/// WASI preview 1 (`wasi_snapshot_preview1`) for command and reactor modules.
///
/// The system calls themselves are WasmKit's engine-independent `WASIBridgeToHost`; this type
/// configures it (arguments, environment, preopened directories, stdio descriptors), exposes its
/// functions as Kiln host functions over the calling instance's exported `"memory"`, and runs
/// `_start` / `_initialize`.
///
///     let wasi = try WASI(arguments: ["app", "x"], preopens: [.init(hostPath: "data", guestPath: "/data")])
///     defer { try? wasi.close() }
///     try wasi.define(in: linker, store: store)
///     let instance = try linker.instantiate(module, store: store)
///     let status = try wasi.start(instance)   // proc_exit's code, or 0; traps are thrown
///
/// Only preopened directories are reachable; paths that leave them (`..`, absolute paths,
/// symlinks pointing out) are refused by the bridge. Stdio descriptors are borrowed, never
/// closed; everything else the program opened, and the preopens, are closed by `close()` (or
/// when the object goes away).
public final class WASI: @unchecked Sendable {
    /// A host directory made visible to the program under `guestPath`.
    public struct Preopen: Sendable, Equatable {
        public var hostPath: String
        public var guestPath: String

        /// `guestPath` defaults to `hostPath`, so relative paths resolve against a preopened ".".
        public init(hostPath: String, guestPath: String? = nil) {
            self.hostPath = hostPath
            self.guestPath = guestPath ?? hostPath
        }
    }

    /// The import module name every function is defined under.
    public static let moduleName = "wasi_snapshot_preview1"

    public let arguments: [String]
    public let environment: [String: String]
    public let preopens: [Preopen]
    private let bridge: WASIBridgeToHost
    private let functions: [(name: String, function: WASIHostFunction<GuestMemoryView>)]

    /// Opens the preopened directories (throws if one cannot be opened). `stdin`, `stdout` and
    /// `stderr` are host descriptors the program's 0, 1 and 2 map to; they stay the caller's.
    public init(
        arguments: [String] = [], environment: [String: String] = [:], preopens: [Preopen] = [],
        stdin: Int32 = 0, stdout: Int32 = 1, stderr: Int32 = 2
    ) throws {
        self.arguments = arguments
        self.environment = environment
        self.preopens = preopens
        bridge = try WASIBridgeToHost(
            args: arguments, environment: environment,
            preopens: preopens.map { WASIBridgeToHost.Preopen(guestPath: $0.guestPath, hostPath: $0.hostPath) },
            stdin: stdin, stdout: stdout, stderr: stderr)
        functions = bridge.hostFunctions(capabilities: WASICapability<GuestMemoryView>.all)
            .sorted { $0.key < $1.key }
            .map { (name: $0.key, function: $0.value) }
    }

    deinit {
        try? bridge.close()
    }

    /// Closes the preopened directories and every file the program left open. Idempotent.
    public func close() throws {
        try bridge.close()
    }

    /// Defines every preview-1 function in `linker` as a host function of `store` (or only those
    /// named in `only`: each distinct function type costs a native stub, ~0.5 ms). A function
    /// reaches guest memory through the exported `"memory"` of the instance that imported it.
    /// The functions keep this object alive: its files stay open while the store may call them.
    public func define(in linker: Linker, store: Store, only names: Set<String>? = nil) throws(KilnError) {
        for (name, function) in try hostFunctions(store: store, only: names) {
            linker.define(module: WASI.moduleName, name: name, .function(function))
        }
    }

    /// The preview-1 functions as host functions of `store`, by name, for embedders that link
    /// by hand.
    public func hostFunctions(store: Store, only names: Set<String>? = nil) throws(KilnError) -> [(name: String, function: Function)] {
        // One binding per store: it caches the last caller's memory as raw pointers (no handle,
        // so no retain cycle through the store's host closures).
        let binding = MemoryBinding()
        var result: [(name: String, function: Function)] = []
        for (name, function) in functions where names?.contains(name) ?? true {
            let implementation = function.implementation
            let isVectoredIO = ["fd_read", "fd_write", "fd_pread", "fd_pwrite"].contains(name)
            let host = try Function(store: store, type: function.type) { caller, arguments in
                _ = self  // the store's host closures own the configuration; no cycle (it holds no store)
                let view = GuestMemoryView(memory: binding.memory(of: caller), faults: FaultLog())
                // Out-of-bounds buffers must trap before any byte moves, not after a partial write.
                if isVectoredIO, !view.contains(iovecs: arguments[1], count: arguments[2]) {
                    throw Trap(reason: .memoryOutOfBounds, backtrace: [], underlying: nil)
                }
                let results: [WasmTypes.Value]
                do {
                    results = try implementation(view, arguments.map(\.wasmTypesValue))
                } catch let exit as WASIExitCode {
                    throw WASIExit(code: Int32(bitPattern: exit.code))
                } catch {
                    try view.checkFaults(function: name)
                    throw error
                }
                try view.checkFaults(function: name)
                return results.map(Value.init)
            }
            result.append((name, host))
        }
        return result
    }

    /// Runs a command module's `_start`. Returns the status `proc_exit` was given, or 0 when
    /// `_start` returns; a trap or host failure is thrown.
    @discardableResult
    public func start(_ instance: Instance) throws -> Int32 {
        guard let start = instance.function("_start") else {
            throw KilnError.unlinkable(reason: "not a WASI command: no exported function _start")
        }
        do {
            try start.call([])
        } catch {
            if let exit = WASIExit(error) { return exit.code }
            throw error
        }
        return 0
    }

    /// Runs a reactor module's `_initialize`, if it exports one. `proc_exit` in it is thrown as
    /// `WASIExit`.
    public func initialize(_ instance: Instance) throws {
        guard let initialize = instance.function("_initialize") else { return }
        do {
            try initialize.call([])
        } catch {
            if let exit = WASIExit(error) { throw exit }
            throw error
        }
    }
}

/// Thrown out of Wasm by `proc_exit`; `Function.call` rethrows it to the embedder.
public struct WASIExit: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: Int32
    public init(code: Int32) { self.code = code }

    /// The exit request in `error`, directly or as the host error a trap carries.
    public init?(_ error: any Error) {
        if let exit = error as? WASIExit {
            self = exit
        } else if let trap = error as? Trap, trap.reason == .hostError, let exit = trap.underlying as? WASIExit {
            self = exit
        } else {
            return nil
        }
    }

    public var description: String { "WASI program exited with status \(code)" }
}

// MARK: - Guest memory

/// Where a host function's guest memory is: the importing instance's `"memory"` export, looked
/// up on the first call from each instance. Holds raw pointers, valid while the store lives,
/// which is as long as the host functions that use this binding.
private final class MemoryBinding: @unchecked Sendable {
    private var instance: UnsafeMutablePointer<kiln_instance>?
    private var memory: UnsafeMutablePointer<kiln_memory>?

    func memory(of caller: Caller) -> UnsafeMutablePointer<kiln_memory>? {
        if let context = caller.instanceContext, context == instance { return memory }
        let found = caller.instance?.memory("memory")?.memory
        if let context = caller.instanceContext, found != nil {
            instance = context
            memory = found
        }
        return found
    }
}

/// Out-of-bounds accesses seen during one WASI call.
private final class FaultLog: @unchecked Sendable {
    var outOfBounds = false
    var noMemory = false
}

/// Kiln linear memory seen as WasmKit's `GuestMemory`. The protocol cannot throw, so an access
/// outside the memory is served from a zeroed scratch buffer and recorded; the host function
/// then traps with "out of bounds memory access" instead of returning to the guest.
struct GuestMemoryView: GuestMemory, @unchecked Sendable {
    fileprivate let memory: UnsafeMutablePointer<kiln_memory>?
    fileprivate let faults: FaultLog

    func withUnsafeMutableBufferPointer<T>(
        offset: UInt, count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> T
    ) rethrows -> T {
        if let memory {
            let size = UInt(memory.pointee.pages) &* UInt(Memory.pageSize)
            if count >= 0, offset <= size, UInt(count) <= size - offset {
                return try body(UnsafeMutableRawBufferPointer(start: memory.pointee.base + Int(offset), count: count))
            }
            faults.outOfBounds = true
        } else {
            faults.noMemory = true
        }
        let length = max(count, 0)
        // Anonymous mapping: zeroed, and lazily backed however large the guest claimed.
        let mapping = mmap(nil, max(length, 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapping, mapping != MAP_FAILED else {
            fatalError("kiln: cannot map \(length) scratch bytes for an out-of-bounds WASI access")
        }
        defer { munmap(mapping, max(length, 1)) }
        return try body(UnsafeMutableRawBufferPointer(start: mapping, count: length))
    }

    private func contains(offset: UInt64, count: UInt64) -> Bool {
        guard let memory else { return true }  // reported by checkFaults
        let size = memory.pointee.pages &* UInt64(Memory.pageSize)
        return offset <= size && count <= size - offset
    }

    /// Whether an iovec array (pairs of u32 pointer and length) and every buffer it names lie
    /// inside the memory.
    fileprivate func contains(iovecs: Value, count: Value) -> Bool {
        guard let memory, case .i32(let base) = iovecs, case .i32(let count) = count else { return true }
        guard contains(offset: UInt64(base), count: UInt64(count) * 8) else { return false }
        let entries = UnsafeRawPointer(memory.pointee.base + Int(base))
        for index in 0..<Int(count) {
            let pointer = UInt32(littleEndian: entries.loadUnaligned(fromByteOffset: index * 8, as: UInt32.self))
            let length = UInt32(littleEndian: entries.loadUnaligned(fromByteOffset: index * 8 + 4, as: UInt32.self))
            guard contains(offset: UInt64(pointer), count: UInt64(length)) else { return false }
        }
        return true
    }

    fileprivate func checkFaults(function: String) throws {
        if faults.noMemory {
            throw KilnError.unlinkable(reason: "WASI \(function) needs the calling instance's exported \"memory\"")
        }
        if faults.outOfBounds {
            throw Trap(reason: .memoryOutOfBounds, backtrace: [], underlying: nil)
        }
    }
}

// MARK: - Values

extension Value {
    fileprivate var wasmTypesValue: WasmTypes.Value {
        switch self {
        case .i32(let v): return .i32(v)
        case .i64(let v): return .i64(v)
        case .f32(let v): return .f32(v)
        case .f64(let v): return .f64(v)
        case .v128, .funcRef, .externRef, .exnRef, .anyRef:
            preconditionFailure("WASI preview 1 passes only numbers")  // the host function's type guarantees it
        }
    }

    fileprivate init(_ value: WasmTypes.Value) {
        switch value {
        case .i32(let v): self = .i32(v)
        case .i64(let v): self = .i64(v)
        case .f32(let v): self = .f32(v)
        case .f64(let v): self = .f64(v)
        case .v128, .ref:
            preconditionFailure("WASI preview 1 returns only numbers")
        }
    }
}
