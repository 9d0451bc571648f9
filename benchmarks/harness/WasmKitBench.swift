// WasmKit's side of kiln-bench (the interpreter Kiln is compared with). Only this file imports
// WasmKit.
import Foundation
import WasmKit

enum WasmKitBench {
    /// Eager compilation: instantiation validates and translates every function to WasmKit's
    /// internal code, so `run_ns` is execution only (the default, lazy mode would translate on
    /// first call and charge it to the run).
    static func makeEngine() -> Engine {
        var configuration = EngineConfiguration(compilationMode: .eager)
        configuration.features.insert(.simd)
        return Engine(configuration: configuration)
    }

    static func parse(_ bytes: [UInt8], engine: Engine) throws -> Module {
        try parseWasm(bytes: bytes, features: engine.configuration.features)
    }

    /// parse (decode), instantiate (validate + translate, eager), run() -> i64.
    static func run(path: String) throws -> Record {
        let bytes = readBytes(path)
        let engine = makeEngine()
        let c0 = threadCPUNs()
        let t0 = nowNs()
        let module = try parse(bytes, engine: engine)
        let t1 = nowNs()
        let store = Store(engine: engine)
        let instance = try module.instantiate(store: store)
        let t2 = nowNs()
        let c2 = threadCPUNs()
        guard let run = instance.exports[function: "run"] else { throw StubCalled(name: "no export run") }
        let c3 = threadCPUNs()
        let t3 = nowNs()
        let results = try run.invoke([])
        let t4 = nowNs()
        let c4 = threadCPUNs()
        guard results.count == 1, case .i64(let bits) = results[0] else { throw StubCalled(name: "run() did not return one i64") }
        return [
            ("program", programName(path)), ("wasm_bytes", bytes.count),
            ("parse_ns", Int(t1 - t0)), ("instantiate_ns", Int(t2 - t1)),
            ("module_total_ns", Int(t2 - t0)), ("module_cpu_ns", Int(c2 - c0)), ("compilation_mode", "eager"),
            ("run_ns", Int(t4 - t3)), ("run_cpu_ns", Int(c4 - c3)), ("checksum", Int64(bitPattern: bits)),
        ]
    }

    /// Parse time, then eager instantiation (validation + translation of every function) against
    /// trapping stubs for the function imports.
    static func compile(path: String, functionImports: [FunctionImport]) throws -> Record {
        let bytes = readBytes(path)
        let engine = makeEngine()
        let c0 = threadCPUNs()
        let t0 = nowNs()
        let module = try parse(bytes, engine: engine)
        let t1 = nowNs()
        var record: Record = [("program", programName(path)), ("wasm_bytes", bytes.count), ("parse_ns", Int(t1 - t0))]
        let store = Store(engine: engine)
        var imports = Imports()
        for entry in functionImports {
            let name = "\(entry.module).\(entry.name)"
            imports.define(module: entry.module, name: entry.name, Function(store: store, type: entry.type) { _, _ in throw StubCalled(name: name) })
        }
        let nonFunction = module.imports.count - functionImports.count
        if nonFunction > 0 {
            record += [("instantiate_ns", nil), ("instantiate_note", "\(nonFunction) non-function imports")]
        } else {
            let t2 = nowNs()
            _ = try module.instantiate(store: store, imports: imports)
            let t3 = nowNs()
            // (module_cpu_ns includes creating the import stubs, which is negligible)
            record += [("instantiate_ns", Int(t3 - t2)), ("module_total_ns", Int(t3 - t0) - Int(t2 - t1)),
                       ("module_cpu_ns", Int(threadCPUNs() - c0)), ("compilation_mode", "eager")]
        }
        return record
    }

    static func hostCall(wasm: [UInt8], count: Int, reps: Int) throws -> Record {
        let engine = makeEngine()
        let module = try parse(wasm, engine: engine)
        let store = Store(engine: engine)
        final class Counter { var value = 0 }
        let counter = Counter()
        // The buffer-based ("raw") host function: WasmKit's path that does not allocate per call.
        let noop = Function(store: store, parameters: [], results: [], raw: { _, _, _ in counter.value &+= 1 })
        var imports = Imports()
        imports.define(module: "env", name: "noop", noop)
        let instance = try module.instantiate(store: store, imports: imports)
        let loop = instance.exports[function: "loop"]!
        let empty = instance.exports[function: "empty"]!
        let n = Value.i32(UInt32(count))
        var stack = ExecutionStack(engine: engine)
        let callNs = try fastest(reps: reps) { try loop.invoke([n], on: &stack) }
        let emptyNs = try fastest(reps: reps) { try empty.invoke([n], on: &stack) }
        guard counter.value == count * (reps + 1) else { throw StubCalled(name: "noop count mismatch") }
        // The array-based host function, for comparison.
        let store2 = Store(engine: engine)
        var imports2 = Imports()
        imports2.define(module: "env", name: "noop", Function(store: store2, parameters: []) { _, _ in [] })
        let loop2 = try module.instantiate(store: store2, imports: imports2).exports[function: "loop"]!
        let dynamicNs = try fastest(reps: reps) { try loop2.invoke([n]) }
        return hostCallRecord(count: count, reps: reps, callNs: callNs, emptyNs: emptyNs, dynamicNs: dynamicNs)
    }

    static func typedCall(wasm: [UInt8], count: Int, reps: Int) throws -> Record {
        let engine = makeEngine()
        let module = try parse(wasm, engine: engine)
        let store = Store(engine: engine)
        let instance = try module.instantiate(store: store)
        let inc = instance.exports[function: "inc"]!
        let nop = instance.exports[function: "nop"]!
        // WasmKit has no typed call API; its fastest path reuses one execution stack.
        var stack = ExecutionStack(engine: engine)
        var x: UInt32 = 0
        let fastNs = try fastest(reps: reps) {
            for _ in 0..<count {
                guard case .i32(let v) = try inc.invoke([.i32(x)], on: &stack)[0] else { return }
                x = v
            }
        }
        let nopNs = try fastest(reps: reps) {
            for _ in 0..<count { try nop.invoke([], on: &stack) }
        }
        let dynamicCount = max(1, count / 10)
        var y: UInt32 = 0
        let dynamicNs = try fastest(reps: reps) {
            for _ in 0..<dynamicCount {
                guard case .i32(let v) = try inc.invoke([.i32(y)])[0] else { return }
                y = v
            }
        }
        return [
            ("count", count), ("reps", reps), ("api", "Function.invoke(_:on:) with a reused ExecutionStack"),
            ("ns_per_call", perCall(fastNs, count)),
            ("nop_ns_per_call", perCall(nopNs, count)),
            ("dynamic_ns_per_call", perCall(dynamicNs, dynamicCount)),
            ("result", Int(x) + Int(y)),
        ]
    }

    static func indirectCall(wasm: [UInt8], count: Int, reps: Int) throws -> Record {
        let engine = makeEngine()
        let module = try parse(wasm, engine: engine)
        let store = Store(engine: engine)
        let instance = try module.instantiate(store: store)
        let indirect = instance.exports[function: "indirect"]!
        let direct = instance.exports[function: "direct"]!
        let empty = instance.exports[function: "empty"]!
        let n = Value.i32(UInt32(count))
        var stack = ExecutionStack(engine: engine)
        var sink = 0
        func call(_ f: Function) throws {
            if case .i32(let v) = try f.invoke([n], on: &stack)[0] { sink &+= Int(v) }
        }
        let indirectNs = try fastest(reps: reps) { try call(indirect) }
        let directNs = try fastest(reps: reps) { try call(direct) }
        let emptyNs = try fastest(reps: reps) { try call(empty) }
        return indirectRecord(count: count, reps: reps, indirectNs: indirectNs, directNs: directNs, emptyNs: emptyNs, sink: sink)
    }
}
