import Foundation
import KilnRuntimeC

/// Compilation settings shared by every module an Engine compiles.
public struct EngineConfiguration: Sendable {
    /// Bytes of stack for Wasm code on each thread that calls into Wasm.
    public var stackSize: Int = 16 << 20
    public init() {}
}

/// The compilation context: interns function signatures (so modules compiled by one Engine can
/// share tables) and caches the native stubs behind host functions. Thread-safe.
public final class Engine: @unchecked Sendable {
    public let configuration: EngineConfiguration
    private let lock = NSLock()
    private var signatures: [FunctionType: UInt64] = [:]
    private var hostStubs: [UInt64: (code: NativeCode, entry: UnsafeMutableRawPointer)] = [:]

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
