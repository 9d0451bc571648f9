import KilnRuntimeC
import WasmParser
import WasmTypes

/// A module that passed `Validator.validate` (without `typesOnly`), with nothing Kiln cannot
/// generate code for. Lowering accepts only this type, and only the validator can make one.
///
/// Validation and lowering each keep their own operand and control stacks: the validator runs
/// over the whole module when a `Module` is created (so errors surface before anything runs, in
/// parallel chunks, each body's instructions dropped once checked), while lowering runs later and
/// per batch (lazily, on a first call). One fused pass would have to lower everything up front or
/// validate again later; handing this proof forward costs nothing and keeps each pass simple.
struct ValidatedModule: Sendable {
    let info: ModuleInfo
    fileprivate init(info: ModuleInfo) { self.info = info }
}

/// WebAssembly 2.0 validation (MVP, multi-value, reference types, bulk memory, sign extension,
/// saturating truncation, SIMD) and the Wasm 3.0 features Kiln runs (typed function references,
/// multi-memory, memory64 and table64 (operands typed by each memory's and table's address type),
/// relaxed SIMD, extended constant expressions), with the spec interpreter's error wording.
///
/// Module-level checks live here; function bodies are checked by `Validator.FunctionChecker`
/// (FunctionChecker.swift), which follows the spec appendix's validation algorithm.
enum Validator {
    /// Validates a module for code generation: the only way to get the `ValidatedModule` that
    /// lowering takes.
    static func validated(_ module: ModuleInfo) throws(KilnError) -> ValidatedModule {
        try validate(module)
        return ValidatedModule(info: module)
    }

    /// A module whose validation an optimized-code cache entry certifies: the entry's name
    /// hashes these exact bytes, the features and this build of Kiln, and entries are written
    /// only for modules that validated (`OptimizedCodeCache`). Its code comes whole from the
    /// entry, so nothing is lowered from it unless the entry fails to load, and then the caller
    /// validates after all.
    static func certifiedByCache(_ module: ModuleInfo) -> ValidatedModule {
        ValidatedModule(info: module)
    }

    /// Throws KilnError.invalid(reason:function:offset:) with the spec interpreter's wording.
    /// `typesOnly`: tests of the type system (nothing else is refused).
    static func validate(_ module: ModuleInfo, typesOnly: Bool = false) throws(KilnError) {
        let importedFunctions = module.importedFunctionCount
        guard importedFunctions + module.code.count <= module.functionTypes.count else {
            throw KilnError.malformed(reason: "function and code section have inconsistent lengths", offset: nil)
        }
        // Errors come in the order of the binary format's phases: a malformed body (decoding),
        // then the module's fields, the bodies, the start function and exports, and last what
        // Kiln cannot generate code for.
        var context: Context
        do throws(KilnError) {
            context = try Context(module)
            try context.checkModuleFields(module)
        } catch {
            try decodeBodies(module)
            throw error
        }
        let failures = try checkBodies(module, context: context, lowerable: !typesOnly)
        if let malformed = failures.malformed { throw malformed }
        if let refused = failures.refused { throw refused }
        if let invalid = failures.invalid { throw invalid }
        try context.checkStartAndExports(module)
        if !typesOnly {
            if let unsupported = failures.unsupported { throw unsupported }
        }
    }

    /// The first failure of each kind among the bodies, each the lowest-numbered function's.
    struct BodyFailures {
        var malformed: KilnError?
        /// Decoding met an instruction of a proposal the engine does not allow.
        var refused: KilnError?
        var invalid: KilnError?
        var unsupported: KilnError?
    }

    /// Decodes and checks every body, in chunks on every core; each body's instruction list is
    /// dropped once checked.
    private static func checkBodies(_ module: ModuleInfo, context: Context, lowerable: Bool) throws(KilnError) -> BodyFailures {
        let importedFunctions = module.importedFunctionCount
        let chunks = try inParallelChunks(count: module.code.count) { (range) throws(KilnError) -> [BodyFailures] in
            var checker = FunctionChecker(context: context)
            var failures = BodyFailures()
            // After a failure the chunk's later bodies are only decoded (for decoding errors,
            // which come first): one body's storage serves them all.
            var body = FunctionBody(locals: [], instructions: [], offsets: [])
            for index in range {
                guard failures.malformed == nil, failures.refused == nil, failures.invalid == nil else {
                    do throws(KilnError) {
                        try module.code.decodeBody(index, into: &body)
                    } catch {
                        if case .malformed = error { failures.malformed = failures.malformed ?? error } else { failures.refused = failures.refused ?? error }
                    }
                    continue
                }
                let functionIndex = importedFunctions + index
                let type = context.functionTypes[functionIndex]
                do throws(FunctionChecker.BodyError) {
                    try checker.checkDecoding(module.code, index, functionIndex: functionIndex, type: context.signatures[Int(type)])
                } catch {
                    switch error {
                    case .decoding(let error):
                        if case .malformed = error { failures.malformed = error } else { failures.refused = error }
                    case .checking(let error):
                        failures.invalid = error
                    }
                }
            }
            return [failures]
        }
        var first = BodyFailures()
        for chunk in chunks {
            first.malformed = first.malformed ?? chunk.malformed
            first.refused = first.refused ?? chunk.refused
            first.invalid = first.invalid ?? chunk.invalid
            first.unsupported = first.unsupported ?? chunk.unsupported
        }
        return first
    }

    /// Decodes every body (for its decoding errors, which come first) when the module's fields
    /// are invalid.
    private static func decodeBodies(_ module: ModuleInfo) throws(KilnError) {
        _ = try inParallelChunks(count: module.code.count) { (range) throws(KilnError) -> [Void] in
            for index in range { _ = try module.code.body(index) }
            return []
        }
    }

    @inline(never)
    static func invalid(_ reason: String) -> KilnError {
        KilnError.invalid(reason: reason, function: nil, offset: nil)
    }
}

// MARK: - Types

extension Validator {
    /// A function or block type: parameter and result sequences as ranges of the type pool.
    struct Signature {
        var paramStart: Int32 = 0
        var paramCount: Int32 = 0
        var resultStart: Int32 = 0
        var resultCount: Int32 = 0
    }
}

// MARK: - Module context

extension Validator {
    /// What function bodies and constant expressions are checked against: the module's index
    /// spaces, in the validator's flat representation.
    struct Context {
        /// Type sequences. Starts with the seven one-type sequences `[t]` (see `VType.prefixPoolIndex`).
        var pool: [VType] = [.i32, .i64, .f32, .f64, .v128, .funcref, .externref]
        /// Canonical type indices, for concrete reference types.
        var types = TypeSpace()
        /// One per type index.
        var signatures: [Signature] = []
        /// Type index of every function (imports first), already checked to be in range.
        var functionTypes: [UInt32] = []
        /// Element type of every table.
        var tables: [VType] = []
        /// Address type of every table and memory: .i64 for table64 and memory64, else .i32.
        var tableAddressTypes: [VType] = []
        var memoryAddressTypes: [VType] = []
        var memoryCount: Int { memoryAddressTypes.count }
        /// Type index of every tag, imports first.
        var tagTypes: [UInt32] = []
        var globalTypes: [VType] = []
        var globalMutable: [Bool] = []
        var elementTypes: [VType] = []
        var dataSegmentCount = 0
        var hasDataCountSection = false
        /// C.refs: the functions that may be named by `ref.func` in function bodies.
        var declaredFunctions: [Bool] = []

        init(_ module: ModuleInfo) throws(KilnError) {
            // Types.
            types = try TypeSpace(definitions: module.definitions, groups: module.recursionGroups)
            signatures.reserveCapacity(module.types.count)
            for (index, type) in module.types.enumerated() {
                // Struct and array types have no signature (`requireFunctionType` keeps them out).
                guard types.isFunction(UInt32(index)) else {
                    signatures.append(Signature())
                    continue
                }
                // An implementation limit, as in wasm-tools and wasmtime (and the size of the
                // runtime's tail-call buffer).
                guard type.parameters.count <= Int(KILN_MAX_ARITY), type.results.count <= Int(KILN_MAX_ARITY) else {
                    throw invalid("function type with more than \(KILN_MAX_ARITY) parameters or results")
                }
                var signature = Signature()
                signature.paramStart = Int32(truncatingIfNeeded: pool.count)
                for parameter in type.parameters { pool.append(try types.operandType(parameter)) }
                signature.paramCount = Int32(truncatingIfNeeded: type.parameters.count)
                signature.resultStart = Int32(truncatingIfNeeded: pool.count)
                for result in type.results { pool.append(try types.operandType(result)) }
                signature.resultCount = Int32(truncatingIfNeeded: type.results.count)
                signatures.append(signature)
            }

            // Imports.
            for entry in module.imports {
                switch entry.descriptor {
                case .function(let typeIndex):
                    try requireFunctionType(typeIndex)
                case .table(let type):
                    try checkTableType(type)
                case .memory(let type):
                    try Context.checkMemoryType(type)
                case .global(let type):
                    _ = try types.operandType(type.valueType)
                case .tag:
                    break  // with the module's own tags below
                }
            }

            // Tags: a tag's type is a function type without results.
            tagTypes = module.tags
            for typeIndex in tagTypes {
                try requireFunctionType(typeIndex)
                guard signatures[Int(typeIndex)].resultCount == 0 else { throw invalid("non-empty tag result type") }
            }

            // Function index space.
            functionTypes = module.functionTypes
            for typeIndex in functionTypes { try requireFunctionType(typeIndex) }

            // Tables and memories (their types are checked in `checkModuleFields`, like the
            // reference interpreter, after globals).
            tables.reserveCapacity(module.tables.count)
            for table in module.tables {
                tables.append(try types.operandType(table.elementType))
                tableAddressTypes.append(table.limits.isMemory64 ? .i64 : .i32)
            }
            memoryAddressTypes = module.memories.map { $0.isMemory64 ? .i64 : .i32 }

            // Globals: types now, initializers in `checkModuleFields`.
            globalTypes.reserveCapacity(module.globals.count)
            globalMutable.reserveCapacity(module.globals.count)
            for global in module.globals {
                globalTypes.append(try types.operandType(global.valueType))
                globalMutable.append(global.mutability == .variable)
            }

            elementTypes.reserveCapacity(module.elements.count)
            for segment in module.elements { elementTypes.append(try types.operandType(segment.type)) }
            dataSegmentCount = module.data.count
            hasDataCountSection = module.dataCount != nil

            // C.refs: every function index named anywhere in the module outside function bodies
            // and the start section.
            declaredFunctions = [Bool](repeating: false, count: functionTypes.count)
            for export in module.exports {
                if case .function(let index) = export.descriptor { declare(index) }
            }
            for initializer in module.globalInitializers { declare(in: initializer) }
            for initializer in module.tableInitializers {
                if let initializer { declare(in: initializer) }
            }
            for segment in module.elements {
                for initializer in segment.initializer { declare(in: initializer) }
                if case .active(_, let offset) = segment.mode { declare(in: offset) }
            }
            for segment in module.data {
                if case .active(let active) = segment { declare(in: active.offset) }
            }
        }

        /// Type index `index` exists and is a function type.
        func requireFunctionType(_ index: UInt32) throws(KilnError) {
            guard Int(index) < signatures.count else { throw invalid("unknown type \(index)") }
            guard types.isFunction(index) else { throw invalid("type mismatch: type \(index) is not a function type") }
        }

        private mutating func declare(_ index: UInt32) {
            if Int(index) < declaredFunctions.count { declaredFunctions[Int(index)] = true }
        }

        private mutating func declare(in expression: WasmParser.ConstExpression) {
            for instruction in expression {
                if case .refFunc(let index) = instruction { declare(index) }
            }
        }

        // MARK: Limits

        func checkTableType(_ type: WasmParser.TableType) throws(KilnError) {
            _ = try types.operandType(type.elementType)
            if type.limits.isMemory64 {
                // Any u64 is a valid table64 limit.
                try Context.checkLimits(type.limits, range: UInt64.max, message: "table size must be at most 2^64-1")
            } else {
                try Context.checkLimits(type.limits, range: 0xFFFF_FFFF, message: "table size must be at most 2^32-1")
            }
        }

        static func checkMemoryType(_ type: WasmParser.MemoryType) throws(KilnError) {
            if type.shared { throw KilnError.unsupported(feature: "threads (shared memory)") }
            if type.isMemory64 {
                try checkLimits(type, range: 1 << 48, message: "memory size must be at most 2^48 pages (256TiB)")
            } else {
                try checkLimits(type, range: 0x1_0000, message: "memory size must be at most 65536 pages (4GiB)")
            }
        }

        static func checkLimits(_ limits: WasmParser.Limits, range: UInt64, message: String) throws(KilnError) {
            guard limits.min <= range else { throw invalid(message) }
            if let max = limits.max {
                guard max <= range else { throw invalid(message) }
                guard limits.min <= max else { throw invalid("size minimum must not be greater than maximum") }
            }
        }

        // MARK: Module fields

        /// Globals, tables, memories, element and data segments, in the reference interpreter's order.
        mutating func checkModuleFields(_ module: ModuleInfo) throws(KilnError) {
            let importedGlobals = module.importedGlobalCount
            for (index, initializer) in module.globalInitializers.enumerated() {
                let globalIndex = importedGlobals &+ index
                guard globalIndex < globalTypes.count else { break }
                // A global's initializer may read imported globals and earlier-defined ones.
                try checkConstant(initializer, expected: globalTypes[globalIndex], globalLimit: globalIndex)
            }

            for (index, table) in module.tables.enumerated() where index >= module.importedTableCount {
                try checkTableType(table)
                let definedIndex = index - module.importedTableCount
                if definedIndex < module.tableInitializers.count, let initializer = module.tableInitializers[definedIndex] {
                    // The table section precedes the global section: only imported globals exist yet.
                    try checkConstant(initializer, expected: tables[index], globalLimit: importedGlobals)
                } else if !tables[index].isDefaultable {
                    // Without an initializer the elements would be null.
                    throw invalid("type mismatch")
                }
            }

            for (index, memory) in module.memories.enumerated() where index >= module.importedMemoryCount {
                try Context.checkMemoryType(memory)
            }

            for (index, segment) in module.elements.enumerated() {
                let type = elementTypes[index]
                for initializer in segment.initializer {
                    try checkConstant(initializer, expected: type, globalLimit: globalTypes.count)
                }
                if case .active(let table, let offset) = segment.mode {
                    guard Int(table) < tables.count else { throw invalid("unknown table \(table)") }
                    guard types.matches(type, tables[Int(table)]) else { throw invalid("type mismatch") }
                    try checkConstant(offset, expected: tableAddressTypes[Int(table)], globalLimit: globalTypes.count)
                }
            }

            for segment in module.data {
                if case .active(let active) = segment {
                    guard Int(active.index) < memoryCount else { throw invalid("unknown memory \(active.index)") }
                    try checkConstant(active.offset, expected: memoryAddressTypes[Int(active.index)], globalLimit: globalTypes.count)
                }
            }
        }

        mutating func checkStartAndExports(_ module: ModuleInfo) throws(KilnError) {
            if let start = module.start {
                guard Int(start) < functionTypes.count else { throw invalid("unknown function \(start)") }
                let signature = signatures[Int(functionTypes[Int(start)])]
                guard signature.paramCount == 0, signature.resultCount == 0 else {
                    throw invalid("start function must not have parameters or results")
                }
            }

            var names = Set<[UInt8]>()
            names.reserveCapacity(module.exports.count)
            for export in module.exports {
                switch export.descriptor {
                case .function(let index):
                    guard Int(index) < functionTypes.count else { throw invalid("unknown function \(index)") }
                case .table(let index):
                    guard Int(index) < tables.count else { throw invalid("unknown table \(index)") }
                case .memory(let index):
                    guard Int(index) < memoryCount else { throw invalid("unknown memory \(index)") }
                case .global(let index):
                    guard Int(index) < globalTypes.count else { throw invalid("unknown global \(index)") }
                case .tag(let index):
                    guard Int(index) < tagTypes.count else { throw invalid("unknown tag \(index)") }
                }
                // Names are compared as byte strings: `String ==` uses canonical equivalence.
                guard names.insert(Array(export.name.utf8)).inserted else { throw invalid("duplicate export name") }
            }
        }

        // MARK: Constant expressions

        /// Checks that `expression` is constant and has type `[expected]`. `global.get` may name
        /// globals below `globalLimit` that are immutable.
        mutating func checkConstant(_ expression: WasmParser.ConstExpression, expected: VType, globalLimit: Int) throws(KilnError) {
            // Fast path for the overwhelmingly common single-instruction form.
            if expression.count == 1 || (expression.count == 2 && expression[1] == .end) {
                if let type = try constantType(expression[0], globalLimit: globalLimit) {
                    guard types.matches(type, expected) else { throw invalid("type mismatch") }
                    return
                }
            }

            // The general form (extended constants, GC allocations): every instruction must be
            // constant, then the sequence is typed like a function body of type [] -> [expected].
            var instructions: [BodyInstruction] = []
            instructions.reserveCapacity(expression.count + 1)
            for instruction in expression {
                switch instruction {
                case .end:
                    break
                case .binary(let op):
                    switch op {
                    case .i32Add, .i32Sub, .i32Mul, .i64Add, .i64Sub, .i64Mul: break
                    default: throw invalid("constant expression required")
                    }
                case .refI31, .structNew, .structNewDefault, .arrayNew, .arrayNewDefault, .arrayNewFixed,
                    .anyConvertExtern, .externConvertAny:
                    break
                default:
                    guard try constantType(instruction, globalLimit: globalLimit) != nil else {
                        throw invalid("constant expression required")
                    }
                }
                instructions.append(.standard(instruction))
                if case .end = instruction { break }
            }
            if instructions.last.map({ if case .standard(.end) = $0 { return false } else { return true } }) ?? true {
                instructions.append(.standard(.end))
            }
            var checker = FunctionChecker(context: self)
            let result = checker.singleton(expected)
            let body = FunctionBody(locals: [], instructions: instructions, offsets: [])
            do {
                try checker.check(body, functionIndex: 0, type: Signature(paramStart: 0, paramCount: 0, resultStart: result, resultCount: 1))
            } catch .invalid(let reason, _, _) {
                throw invalid(reason)
            }
        }

        /// The type a constant, nullary instruction pushes; nil if it is not one.
        private func constantType(_ instruction: WasmParser.Instruction, globalLimit: Int) throws(KilnError) -> VType? {
            switch instruction {
            case .i32Const: return .i32
            case .i64Const: return .i64
            case .f32Const: return .f32
            case .f64Const: return .f64
            case .v128Const: return .v128
            case .refNull(let heap): return VType.reference(heap: try types.heap(heap), nullable: true)
            case .refFunc(let index):
                guard Int(index) < functionTypes.count else { throw invalid("unknown function \(index)") }
                return types.functionReference(functionTypes[Int(index)], nullable: false)
            case .globalGet(let index):
                guard Int(index) < globalLimit, Int(index) < globalTypes.count else { throw invalid("unknown global \(index)") }
                guard !globalMutable[Int(index)] else { throw invalid("constant expression required") }
                return globalTypes[Int(index)]
            default:
                return nil
            }
        }
    }
}
