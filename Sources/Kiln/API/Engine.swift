import Foundation
import KilnRuntimeC

/// Compilation settings shared by every module an Engine compiles.
public struct EngineConfiguration: Sendable {
    /// Bytes of stack for Wasm code on each thread that calls into Wasm (the Kiln-owned stack
    /// that calls switch to). Deeper recursion traps with ``TrapReason/callStackExhausted``.
    public var stackSize: Int = 16 << 20
    /// The WebAssembly proposals modules may use (beyond Wasm 2.0, always on). Default: every
    /// proposal Kiln implements. A module using one outside the set fails to compile (and to
    /// validate) with ``KilnError/unsupported(feature:)``.
    public var features: WasmFeatures = .default
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
    private var signatures: [FunctionType: UInt64] = [:]
    private var hostStubs: [UInt64: (code: NativeCode, entry: UnsafeMutableRawPointer)] = [:]

    /// Creates an engine. The stack size applies to every thread that enters Wasm from now on.
    public init(configuration: EngineConfiguration = EngineConfiguration()) {
        self.configuration = configuration
        kiln_set_stack_size(UInt64(configuration.stackSize))
    }

    /// The engine-wide id of a function type; 0 is reserved for empty table slots.
    func signatureID(_ type: FunctionType) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        if let id = signatures[type] { return id }
        let id = UInt64(signatures.count + 1)
        signatures[type] = id
        return id
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
