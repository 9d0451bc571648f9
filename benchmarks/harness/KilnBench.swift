// Kiln's side of kiln-bench. Only this file imports Kiln.
import Foundation
import Kiln

/// A function import of a module, for stubbing it out (WasmKit's compile mode uses Kiln's view).
struct FunctionImport {
    var module: String
    var name: String
    var type: FunctionType
}

struct StubCalled: Error, CustomStringConvertible {
    var name: String
    var description: String { "stub import \(name) was called" }
}

enum KilnBench {
    static func ns(_ seconds: Double) -> Int { Int((seconds * 1e9).rounded()) }

    static func assemble(_ wat: String) throws -> [UInt8] { try wasmBytes(fromText: wat) }

    static func functionImports(path: String) throws -> [FunctionImport] {
        let module = try Module(engine: Engine(), bytes: readBytes(path))
        return module.imports.compactMap { entry in
            if case .function(let type) = entry.type { FunctionImport(module: entry.module, name: entry.name, type: type) } else { nil }
        }
    }

    static func timingFields(_ module: Module, wallNs: UInt64) -> Record {
        let t = module.timings
        return [
            ("decode_ns", ns(t.decode)), ("validate_ns", ns(t.validate)),
            ("lower_ns", ns(t.lower)), ("compile_ns", ns(t.compile)),
            ("module_total_ns", Int(wallNs)),
        ]
    }

    /// Reads and compiles a module, with Kiln's per-stage timings, wall and CPU time.
    static func compileTimed(_ path: String, configuration: EngineConfiguration = EngineConfiguration()) throws -> (bytes: [UInt8], engine: Engine, module: Module, fields: Record) {
        let bytes = readBytes(path)
        let engine = Engine(configuration: configuration)
        let c0 = threadCPUNs()
        let t0 = nowNs()
        let module = try Module(engine: engine, bytes: bytes)
        let t1 = nowNs()
        let c1 = threadCPUNs()
        return (bytes, engine, module, timingFields(module, wallNs: t1 - t0) + [("module_cpu_ns", Int(c1 - c0))])
    }

    /// Lowering alone, `reps` times on one thread: the best time and the code section's bytes per
    /// second (MB/s with MB = 10^6 bytes).
    static func lower(path: String, reps: Int) throws -> Record {
        let bytes = readBytes(path)
        let engine = Engine()
        var best = Double.infinity
        var bestCPU = Double.infinity
        var codeBytes = 0, cBytes = 0
        for _ in 0..<reps {
            let cpu0 = processCPUSeconds()
            let measured = try Module.measureLowering(engine: engine, bytes: bytes)
            // The CPU time of every thread (lowering runs on all cores) includes decoding and
            // validation: subtract them as measured by a validation-only pass.
            let cpu1 = processCPUSeconds()
            try Module.validate(engine: engine, bytes: bytes)
            let front = processCPUSeconds() - cpu1
            best = min(best, measured.seconds)
            bestCPU = min(bestCPU, cpu1 - cpu0 - front)
            (codeBytes, cBytes) = (measured.codeBytes, measured.cBytes)
        }
        // Wall time depends on how many cores are free (the machine is shared); CPU time does not.
        return [("program", programName(path)), ("code_bytes", codeBytes), ("c_source_bytes", cBytes),
                ("lower_ns", ns(best)), ("lower_mb_per_s", Double(codeBytes) / best / 1e6),
                ("lower_cpu_ns", ns(bestCPU)), ("lower_mb_per_cpu_s", Double(codeBytes) / bestCPU / 1e6)]
    }

    /// decode+validate, lower, libtcc compile+relocate, instantiate, run() -> i64.
    /// `variant`: "kiln" plain, "kiln-fuel" with fuel metering (and all the fuel there is),
    /// "kiln-epoch" with epoch checks (and a deadline never reached), "kiln-opt" the optimized
    /// tier (its compile time is then the cache's load time once the cache is warm).
    static func run(path: String, variant: String = "kiln") throws -> Record {
        var configuration = EngineConfiguration()
        if variant == "kiln-opt" { configuration.tier = .optimized }
        configuration.consumeFuel = variant == "kiln-fuel"
        configuration.epochInterruption = variant == "kiln-epoch"
        let (bytes, engine, module, compiled) = try compileTimed(path, configuration: configuration)
        let t1 = nowNs()
        let store = Store(engine: engine)
        if configuration.consumeFuel { store.fuel = UInt64(Int64.max) }
        if configuration.epochInterruption { store.setEpochDeadline(1 << 40) }
        let instance = try Instance(store: store, module: module)
        let t2 = nowNs()
        let run = try instance.typedFunction("run", Void.self, Int64.self)
        let c3 = threadCPUNs()
        let t3 = nowNs()
        let checksum = try run()
        let t4 = nowNs()
        let c4 = threadCPUNs()
        return [("program", programName(path)), ("wasm_bytes", bytes.count)]
            + compiled
            + [("tier", module.tier.rawValue), ("instantiate_ns", Int(t2 - t1)),
               ("run_ns", Int(t4 - t3)), ("run_cpu_ns", Int(c4 - c3)), ("checksum", checksum)]
            + gcFields(store)
    }

    /// The GC heap's figures, when the program allocated GC objects.
    static func gcFields(_ store: Store) -> Record {
        let gc = store.gcStatistics
        guard gc.allocatedObjects > 0 else { return [] }
        return [("gc_collections", gc.collections), ("gc_total_pause_ns", ns(gc.totalPause)), ("gc_max_pause_ns", ns(gc.maxPause)),
                ("gc_allocated_bytes", gc.allocatedBytes), ("gc_allocated_objects", gc.allocatedObjects)]
    }

    /// Compile latency of a large module; then instantiation against trapping stub imports
    /// (reported as null with the reason if the module imports something other than functions).
    static func compile(path: String) throws -> Record {
        let (bytes, engine, module, compiled) = try compileTimed(path)
        var record: Record = [("program", programName(path)), ("wasm_bytes", bytes.count)] + compiled
        let rssAfterCompile = peakRSSKiB()
        let store = Store(engine: engine)
        var imports: [Extern] = []
        var unsupported: String?
        for entry in module.imports {
            guard case .function(let type) = entry.type else {
                unsupported = "imports \(entry.module).\(entry.name), not a function"
                break
            }
            let name = "\(entry.module).\(entry.name)"
            imports.append(.function(try Function(store: store, type: type) { _, _ in throw StubCalled(name: name) }))
        }
        if let unsupported {
            record += [("instantiate_ns", nil), ("instantiate_note", unsupported)]
        } else {
            let t2 = nowNs()
            _ = try Instance(store: store, module: module, imports: imports)
            record.append(("instantiate_ns", Int(nowNs() - t2)))
        }
        record += [("function_imports", imports.count), ("exports", module.exports.count), ("peak_rss_after_compile_kib", rssAfterCompile)]
        // Size of the generated C (a second decode/validate/lower pass, outside the timings).
        record.append(("c_source_bytes", try Module.generateC(engine: engine, bytes: bytes).utf8.count))
        return record
    }

    static func hostCall(wasm: [UInt8], count: Int, reps: Int) throws -> Record {
        let engine = Engine()
        let module = try Module(engine: engine, bytes: wasm)
        let store = Store(engine: engine)
        final class Counter { var value = 0 }
        let counter = Counter()
        // The typed-closure form: the fastest host-function path the API offers.
        let noop = try Function(store: store) { () throws -> Void in counter.value &+= 1 }
        let instance = try Instance(store: store, module: module, imports: [.function(noop)])
        let loop = try instance.typedFunction("loop", Int32.self, Void.self)
        let empty = try instance.typedFunction("empty", Int32.self, Void.self)
        let n = Int32(count)
        let callNs = try fastest(reps: reps) { try loop(n) }
        let emptyNs = try fastest(reps: reps) { try empty(n) }
        guard counter.value == count * (reps + 1) else { throw StubCalled(name: "noop count mismatch") }
        // A host function defined over [Value] (the dynamic form), for comparison.
        let store2 = Store(engine: engine)
        let dynamicNoop = try Function(store: store2, type: FunctionType(parameters: [], results: [])) { _, _ in [] }
        let instance2 = try Instance(store: store2, module: module, imports: [.function(dynamicNoop)])
        let loop2 = try instance2.typedFunction("loop", Int32.self, Void.self)
        let dynamicNs = try fastest(reps: reps) { try loop2(n) }
        return hostCallRecord(count: count, reps: reps, callNs: callNs, emptyNs: emptyNs, dynamicNs: dynamicNs)
    }

    static func typedCall(wasm: [UInt8], count: Int, reps: Int) throws -> Record {
        let engine = Engine()
        let module = try Module(engine: engine, bytes: wasm)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: module)
        let inc = try instance.typedFunction("inc", Int32.self, Int32.self)
        let nop = try instance.typedFunction("nop", Void.self, Void.self)
        let dynamicInc = instance.function("inc")!
        var x: Int32 = 0
        let typedNs = try fastest(reps: reps) {
            for _ in 0..<count { x = try inc(x) }
        }
        let nopNs = try fastest(reps: reps) {
            for _ in 0..<count { try nop() }
        }
        // The dynamic path allocates arrays per call: a tenth of the calls is plenty.
        let dynamicCount = max(1, count / 10)
        var y: Int32 = 0
        let dynamicNs = try fastest(reps: reps) {
            for _ in 0..<dynamicCount { y = try dynamicInc.call([Value(y)])[0].i32! }
        }
        return [
            ("count", count), ("reps", reps), ("api", "Instance.typedFunction"),
            ("ns_per_call", perCall(typedNs, count)),
            ("nop_ns_per_call", perCall(nopNs, count)),
            ("dynamic_ns_per_call", perCall(dynamicNs, dynamicCount)),
            ("result", Int(x) + Int(y)),
        ]
    }

    static func indirectCall(wasm: [UInt8], count: Int, reps: Int) throws -> Record {
        let engine = Engine()
        let module = try Module(engine: engine, bytes: wasm)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: module)
        let indirect = try instance.typedFunction("indirect", Int32.self, Int32.self)
        let direct = try instance.typedFunction("direct", Int32.self, Int32.self)
        let empty = try instance.typedFunction("empty", Int32.self, Int32.self)
        let n = Int32(count)
        var sink: Int32 = 0
        let indirectNs = try fastest(reps: reps) { sink &+= try indirect(n) }
        let directNs = try fastest(reps: reps) { sink &+= try direct(n) }
        let emptyNs = try fastest(reps: reps) { sink &+= try empty(n) }
        return indirectRecord(count: count, reps: reps, indirectNs: indirectNs, directNs: directNs, emptyNs: emptyNs, sink: Int(sink))
    }
}

func indirectRecord(count: Int, reps: Int, indirectNs: UInt64, directNs: UInt64, emptyNs: UInt64, sink: Int) -> Record {
    [
        ("count", count), ("reps", reps),
        ("ns_per_call", perCall(indirectNs, count) - perCall(emptyNs, count)),
        ("direct_ns_per_call", perCall(directNs, count) - perCall(emptyNs, count)),
        ("indirect_extra_ns", perCall(indirectNs, count) - perCall(directNs, count)),
        ("raw_indirect_ns_per_iteration", perCall(indirectNs, count)),
        ("empty_loop_ns_per_iteration", perCall(emptyNs, count)),
        ("sink", sink),
    ]
}

func programName(_ path: String) -> String {
    let base = (path as NSString).lastPathComponent
    return base.hasSuffix(".wasm") ? String(base.dropLast(5)) : base
}
