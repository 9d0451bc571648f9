import KilnRuntimeC
import WasmParser
import WasmTypes

/// A Wasm or host function of a store. Call it with `[Value]`, or get a typed view with
/// `typed(_:_:)`.
public final class Function: @unchecked Sendable {
    public let store: Store
    let record: UnsafeMutablePointer<kiln_funcref>

    init(store: Store, record: UnsafeMutablePointer<kiln_funcref>) {
        self.store = store
        self.record = record
    }

    var entity: FunctionEntity { store.functions[UnsafeMutableRawPointer(record)]! }

    public var type: FunctionType { entity.type }

    /// Defines a host function from a closure over `[Value]`.
    public convenience init(
        store: Store, type: FunctionType, _ body: @escaping (Caller, [Value]) throws -> [Value]
    ) throws(KilnError) {
        let box = HostFunctionBox(type: type, body: body, store: store)
        let stub = try store.engine.hostStub(for: type)
        let context = box.makeContext(caller: nil)
        let entity = FunctionEntity(type: type, thunk: nil, host: box, module: nil)
        let record = store.makeFunctionRecord(
            signature: store.engine.signatureID(type), code: stub, context: UnsafeMutableRawPointer(context), entity: entity)
        box.stub = stub
        store.retain(box)
        self.init(store: store, record: record)
    }

    /// Calls the function. Traps come out as `Trap`; a host function's error as itself.
    @discardableResult
    public func call(_ arguments: [Value]) throws -> [Value] {
        let entity = self.entity
        let type = entity.type
        guard arguments.count == type.parameters.count else {
            throw KilnError.unlinkable(reason: "expected \(type.parameters.count) arguments, got \(arguments.count)")
        }
        for (argument, parameter) in zip(arguments, type.parameters) where !argument.matches(parameter) {
            throw KilnError.unlinkable(reason: "argument type mismatch: expected \(parameter), got \(argument.type)")
        }
        if let host = entity.host {
            return try host.body(Caller(store: store, instanceContext: nil), arguments)
        }
        var values = [kiln_value](repeating: kiln_value(), count: max(1, max(type.parameters.count, type.results.count)))
        for (index, argument) in arguments.enumerated() { values[index] = store.rawValue(argument) }
        try invoke(entity.thunk!, &values)
        return type.results.enumerated().map { store.value(values[$0.offset], type: $0.element) }
    }

    /// Enters Wasm through the entry shim with raw values; throws the trap if there is one.
    func invoke(_ thunk: kiln_thunk, _ values: UnsafeMutablePointer<kiln_value>) throws {
        let code = kiln_enter(store.exec, thunk, record.pointee.code, record.pointee.ctx, values)
        if code != 0 { throw store.trap(code: code) }
    }
}

extension Value {
    func matches(_ type: ValueType) -> Bool {
        switch (self, type) {
        case (.i32, .i32), (.i64, .i64), (.f32, .f32), (.f64, .f64), (.v128, .v128): return true
        case (.funcRef, .ref(let reference)): return reference.heapType != .externRef
        case (.externRef, .ref(let reference)): return reference.heapType == .externRef
        default: return false
        }
    }
}

/// What a host function sees of its caller.
public struct Caller {
    public let store: Store
    let instanceContext: UnsafeMutablePointer<kiln_instance>?

    /// The calling instance, when the host function was called through an import.
    public var instance: Instance? {
        guard let instanceContext, let entity = store.instances.first(where: { $0.context == instanceContext }) else {
            return nil
        }
        return Instance(store: store, entity: entity)
    }

    public var userData: Any? { store.userData }
}

/// The Swift side of a host function: its closure, and the C context its stub receives.
final class HostFunctionBox {
    let type: FunctionType
    let body: (Caller, [Value]) throws -> [Value]
    unowned(unsafe) let store: Store
    var stub: UnsafeMutableRawPointer?
    private var contexts: [UnsafeMutablePointer<kiln_host_context>] = []

    init(type: FunctionType, body: @escaping (Caller, [Value]) throws -> [Value], store: Store) {
        self.type = type
        self.body = body
        self.store = store
    }

    deinit {
        for context in contexts { context.deallocate() }
    }

    /// A C context for the stub; `caller` is the importing instance, if any.
    func makeContext(caller: UnsafeMutablePointer<kiln_instance>?) -> UnsafeMutablePointer<kiln_host_context> {
        let context = UnsafeMutablePointer<kiln_host_context>.allocate(capacity: 1)
        context.initialize(to: kiln_host_context(
            callback: hostTrampoline, swift_context: Unmanaged.passUnretained(self).toOpaque(),
            exec: store.exec, caller: caller.map(UnsafeMutableRawPointer.init)))
        contexts.append(context)
        return context
    }

    /// Runs the closure on raw values; returns non-zero after parking the error in the store.
    func invoke(_ values: UnsafeMutablePointer<kiln_value>, caller: UnsafeMutableRawPointer?) -> UInt32 {
        let arguments = type.parameters.enumerated().map { store.value(values[$0.offset], type: $0.element) }
        do {
            let results = try body(Caller(store: store, instanceContext: caller?.assumingMemoryBound(to: kiln_instance.self)), arguments)
            guard results.count == type.results.count,
                zip(results, type.results).allSatisfy({ $0.matches($1) })
            else {
                throw KilnError.unlinkable(reason: "host function returned \(results.map(\.type)), expected \(type.results)")
            }
            for (index, result) in results.enumerated() { values[index] = store.rawValue(result) }
            return 0
        } catch {
            store.pendingHostError = error
            return 1
        }
    }
}

/// The one C entry point of every host function: a context pointer in, a status out.
private let hostTrampoline: kiln_host_callback = { context, values in
    guard let context, let values else { return 1 }
    let box = Unmanaged<HostFunctionBox>.fromOpaque(context.pointee.swift_context).takeUnretainedValue()
    return box.invoke(values, caller: context.pointee.caller)
}
