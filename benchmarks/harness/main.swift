// kiln-bench: one benchmark measurement per process, printed as one JSON line on stdout.
//
//   kiln-bench run      --engine kiln|wasmkit FILE.wasm   decode/validate/lower/compile, instantiate,
//                                                          run() -> i64, checksum, peak RSS
//   kiln-bench compile  --engine kiln|wasmkit FILE.wasm   compile latency of a (large) module, no run
//   kiln-bench decode   FILE.wasm                         Kiln's decoder vs WasmParser's, CPU ms
//   kiln-bench lower    FILE.wasm [--reps R]              lowering throughput: code-section bytes per
//                                                          second of lowering to C (best of R)
//   kiln-bench host-call     --engine E N   Wasm -> host no-op function, ns per call
//   kiln-bench typed-call    --engine E N   Swift -> Wasm call, ns per call (fastest path + dynamic)
//   kiln-bench indirect-call --engine E N   call_indirect vs direct call inside Wasm, ns per call
//
// The dashed spellings `--compile FILE`, `--host-call N`, `--typed-call N`, `--indirect-call N`
// work too. `--reps R` (default 5) repeats the timed loop of a call mode; the fastest repetition
// is reported. benchmarks/run.py drives this; the engine code lives in KilnBench.swift and
// WasmKitBench.swift (one engine per file, since both modules name their types Engine, Module...).
import Foundation

struct Options {
    var mode = ""
    var engine = "kiln"
    var file: String?
    var count = 10_000_000
    var reps = 5
}

func usage(_ message: String) -> Never {
    FileHandle.standardError.write(Data("kiln-bench: \(message)\n".utf8))
    FileHandle.standardError.write(Data("""
        usage: kiln-bench run|compile|decode --engine kiln|wasmkit FILE.wasm
               kiln-bench host-call|typed-call|indirect-call --engine kiln|wasmkit [N] [--reps R]

        """.utf8))
    exit(64)
}

func parseOptions(_ arguments: [String]) -> Options {
    var options = Options()
    var positional: [String] = []
    var index = 0
    func value(_ flag: String) -> String {
        index += 1
        guard index < arguments.count else { usage("\(flag) needs a value") }
        return arguments[index]
    }
    while index < arguments.count {
        let argument = arguments[index]
        switch argument {
        case "--engine": options.engine = value(argument)
        case "--reps": options.reps = Int(value(argument)) ?? { usage("bad --reps") }()
        case "--compile", "--run", "--decode": options.mode = String(argument.dropFirst(2)); options.file = value(argument)
        case "--host-call", "--typed-call", "--indirect-call":
            options.mode = String(argument.dropFirst(2))
            options.count = Int(value(argument)) ?? { usage("bad count for \(argument)") }()
        case "-h", "--help": usage("help")
        default:
            if argument.hasPrefix("-") { usage("unknown option \(argument)") }
            positional.append(argument)
        }
        index += 1
    }
    if options.mode.isEmpty {
        guard !positional.isEmpty else { usage("no mode") }
        options.mode = positional.removeFirst()
    }
    switch options.mode {
    case "run", "compile", "decode", "lower":
        if options.file == nil {
            guard positional.count == 1 else { usage("\(options.mode) takes one FILE") }
            options.file = positional[0]
        }
    case "host-call", "typed-call", "indirect-call":
        if let first = positional.first { options.count = Int(first) ?? { usage("bad count \(first)") }() }
    default: usage("unknown mode \(options.mode)")
    }
    guard ["kiln", "wasmkit"].contains(options.engine) || (options.mode == "run" && ["kiln-opt", "kiln-fuel", "kiln-epoch"].contains(options.engine)) else { usage("unknown engine \(options.engine)") }
    guard options.count > 0, options.count <= Int(Int32.max), options.reps > 0 else { usage("bad count or reps") }
    return options
}

// MARK: - Shared helpers

/// Monotonic clock in nanoseconds (the same clock as native_main.c).
func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU time of the calling thread in nanoseconds: unlike wall time, not inflated while other
/// processes hold the CPU (the benchmark machine is shared).
func threadCPUNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU time of the whole process (every thread, user and system) in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}

/// Peak resident set size of this process in KiB (Linux reports ru_maxrss in KiB).
func peakRSSKiB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss)
}

func readBytes(_ path: String) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { usage("cannot read \(path)") }
    return [UInt8](data)
}

/// A measurement: field name -> number, string, bool or nil. Printed as one JSON object.
typealias Record = [(String, Any?)]

func emit(_ record: Record) {
    var parts: [String] = []
    for (key, value) in record {
        parts.append("\(jsonString(key)):\(jsonValue(value))")
    }
    print("{" + parts.joined(separator: ",") + "}")
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}

func jsonValue(_ value: Any?) -> String {
    switch value {
    case nil: return "null"
    case let v as String: return jsonString(v)
    case let v as Bool: return v ? "true" : "false"
    case let v as Int: return String(v)
    case let v as Int64: return String(v)
    case let v as UInt64: return String(v)
    case let v as Double: return v.isFinite ? String(format: "%.3f", v) : "null"
    case let v as [String: Any?]:
        return "{" + v.keys.sorted().map { "\(jsonString($0)):\(jsonValue(v[$0]!))" }.joined(separator: ",") + "}"
    default: return jsonString("\(value!)")
    }
}

/// Times `body` `reps` times (after one untimed warm-up) and returns the fastest run in ns.
func fastest(reps: Int, warmUp: Bool = true, _ body: () throws -> Void) rethrows -> UInt64 {
    if warmUp { try body() }
    var best = UInt64.max
    for _ in 0..<reps {
        let t0 = nowNs()
        try body()
        best = min(best, nowNs() - t0)
    }
    return best
}

func perCall(_ ns: UInt64, _ count: Int) -> Double { Double(ns) / Double(count) }

/// The host-call figures, the same for every engine: the loop's cost less an empty loop's.
func hostCallRecord(count: Int, reps: Int, callNs: UInt64, emptyNs: UInt64, dynamicNs: UInt64) -> Record {
    [
        ("count", count), ("reps", reps),
        ("ns_per_call", perCall(callNs, count) - perCall(emptyNs, count)),
        ("raw_ns_per_iteration", perCall(callNs, count)),
        ("empty_loop_ns_per_iteration", perCall(emptyNs, count)),
        ("dynamic_host_ns_per_call", perCall(dynamicNs, count) - perCall(emptyNs, count)),
    ]
}

// MARK: - Micro-benchmark modules (text format, converted with Kiln's WAT front end)

/// Wasm -> host: `loop(n)` calls the imported no-op `env.noop` n times; `empty(n)` is the same
/// loop without the call (subtracted to get the per-call overhead).
let hostCallWat = """
    (module
      (import "env" "noop" (func $noop))
      (func (export "loop") (param $n i32)
        (local $i i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (call $noop)
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l))))
      (func (export "empty") (param $n i32)
        (local $i i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))))
    """

/// Swift -> Wasm: `inc(i32) -> i32` and `nop()`.
let typedCallWat = """
    (module
      (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "nop")))
    """

/// call_indirect through a 4-entry table (the index varies every call) vs a direct call to the
/// same kind of function vs the bare loop.
let indirectCallWat = """
    (module
      (type $t (func (param i32) (result i32)))
      (table 4 funcref)
      (elem (i32.const 0) $f0 $f1 $f2 $f3)
      (func $f0 (type $t) (i32.add (local.get 0) (i32.const 1)))
      (func $f1 (type $t) (i32.add (local.get 0) (i32.const 3)))
      (func $f2 (type $t) (i32.xor (local.get 0) (i32.const 5)))
      (func $f3 (type $t) (i32.sub (local.get 0) (i32.const 7)))
      (func (export "indirect") (param $n i32) (result i32)
        (local $i i32) (local $acc i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $acc (call_indirect (type $t) (local.get $acc) (i32.and (local.get $i) (i32.const 3))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))
        (local.get $acc))
      (func (export "direct") (param $n i32) (result i32)
        (local $i i32) (local $acc i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $acc (call $f1 (local.get $acc)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))
        (local.get $acc))
      (func (export "empty") (param $n i32) (result i32)
        (local $i i32) (local $acc i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $acc (i32.add (local.get $acc) (i32.const 3)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))
        (local.get $acc)))
    """

// MARK: - Main

let options = parseOptions(Array(CommandLine.arguments.dropFirst()))
if options.mode == "decode" {
    runDecode(file: options.file!, reps: options.reps)
    exit(0)
}
do {
    var record: Record = [("mode", options.mode), ("engine", options.engine)]
    switch (options.mode, options.engine) {
    case ("run", "kiln"): record += try KilnBench.run(path: options.file!)
    case ("run", "kiln-opt"), ("run", "kiln-fuel"), ("run", "kiln-epoch"): record += try KilnBench.run(path: options.file!, variant: options.engine)
    case ("run", "wasmkit"): record += try WasmKitBench.run(path: options.file!)
    case ("compile", "kiln"): record += try KilnBench.compile(path: options.file!)
    case ("lower", "kiln"): record += try KilnBench.lower(path: options.file!, reps: options.reps)
    case ("compile", "wasmkit"):
        // WasmKit needs a stub for every import to instantiate; Kiln reads the import types.
        let path = options.file!
        record += try WasmKitBench.compile(path: path, functionImports: try KilnBench.functionImports(path: path))
    case ("host-call", "kiln"):
        record += try KilnBench.hostCall(wasm: KilnBench.assemble(hostCallWat), count: options.count, reps: options.reps)
    case ("host-call", "wasmkit"):
        record += try WasmKitBench.hostCall(wasm: KilnBench.assemble(hostCallWat), count: options.count, reps: options.reps)
    case ("typed-call", "kiln"):
        record += try KilnBench.typedCall(wasm: KilnBench.assemble(typedCallWat), count: options.count, reps: options.reps)
    case ("typed-call", "wasmkit"):
        record += try WasmKitBench.typedCall(wasm: KilnBench.assemble(typedCallWat), count: options.count, reps: options.reps)
    case ("indirect-call", "kiln"):
        record += try KilnBench.indirectCall(wasm: KilnBench.assemble(indirectCallWat), count: options.count, reps: options.reps)
    case ("indirect-call", "wasmkit"):
        record += try WasmKitBench.indirectCall(wasm: KilnBench.assemble(indirectCallWat), count: options.count, reps: options.reps)
    default: usage("unsupported mode/engine")
    }
    record.append(("peak_rss_kib", peakRSSKiB()))
    emit(record)
} catch {
    emit([("mode", options.mode), ("engine", options.engine), ("error", "\(error)")])
    exit(1)
}
