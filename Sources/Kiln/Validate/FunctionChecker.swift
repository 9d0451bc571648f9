import WasmParser
import WasmTypes

extension Validator {
    /// Checks function bodies with the spec appendix's algorithm: a flat operand stack whose
    /// entries may be Unknown in unreachable code, and a stack of control frames with their
    /// start and end types, the operand stack height at entry, and an `unreachable` flag.
    /// The stacks are reused across functions; checking a body allocates nothing per instruction.
    struct FunctionChecker: ~Copyable {
        /// `legacyTry` is a legacy `try` body, `legacyCatch` a `catch`/`catch_all` body (what
        /// `rethrow` may name); `legacyCatchAll` admits no further `catch`.
        enum FrameKind: UInt8 { case block, loop, `if`, `else`, function, legacyTry, legacyCatch, legacyCatchAll }

        struct Frame {
            var kind: FrameKind
            var type: Signature
            var height: Int
            var unreachable: Bool
            /// Length of `initializedLocals` when the frame was entered.
            var initHeight: Int
        }

        /// Grows past the module's sequences with the one-type sequences of block types that are
        /// not at its start (`singletons`).
        var pool: [VType]
        var singletons: [VType: Int32] = [:]
        let types: TypeSpace
        let signatures: [Signature]
        let functionTypes: [UInt32]
        let tables: [VType]
        /// Address type of every table and memory: .i64 for table64 and memory64, else .i32.
        let tableAddressTypes: [VType]
        let memoryAddressTypes: [VType]
        var memoryCount: Int { memoryAddressTypes.count }
        let tagTypes: [UInt32]
        let globalTypes: [VType]
        let globalMutable: [Bool]
        let elementTypes: [VType]
        let dataSegmentCount: Int
        let hasDataCountSection: Bool
        let declaredFunctions: [Bool]

        /// The operand stack: a manually managed buffer, so that pushes cost no uniqueness check.
        var stack: UnsafeMutablePointer<VType>
        var stackCount = 0
        var stackCapacity: Int
        var frames: [Frame] = []
        var locals: [VType] = []
        /// Local initialization, tracked only when a local is not defaultable (`tracksInit`):
        /// whether each local holds a value, and the locals set since each frame was entered.
        var tracksInit = false
        var localInitialized: [Bool] = []
        var initializedLocals: [Int] = []
        var results = Signature()
        /// Cached `frames.last.height` and `frames.last.unreachable`.
        var height = 0
        var unreachable = false

        // For error locations.
        var functionIndex = 0
        var offsets: [Int] = []
        /// The byte offset of the instruction being checked when checking while decoding
        /// (`checkDecoding`), which keeps no `offsets`.
        var decodingOffset: Int?

        /// Where the current instruction is in the module, for error messages.
        var currentOffset: Int? { decodingOffset ?? (pc < offsets.count ? offsets[pc] : nil) }
        var pc = 0
        /// Index of the body's last instruction: the only place the function's frame may end.
        var lastIndex = 0

        init(context: Context) {
            pool = context.pool
            types = context.types
            signatures = context.signatures
            functionTypes = context.functionTypes
            tables = context.tables
            tableAddressTypes = context.tableAddressTypes
            memoryAddressTypes = context.memoryAddressTypes
            tagTypes = context.tagTypes
            globalTypes = context.globalTypes
            globalMutable = context.globalMutable
            elementTypes = context.elementTypes
            dataSegmentCount = context.dataSegmentCount
            hasDataCountSection = context.hasDataCountSection
            declaredFunctions = context.declaredFunctions
            stackCapacity = 1024
            stack = UnsafeMutablePointer<VType>.allocate(capacity: stackCapacity)
            frames.reserveCapacity(64)
        }

        deinit {
            stack.deallocate()
        }

        // MARK: Errors

        @inline(never)
        func fail(_ reason: String) -> KilnError {
            let offset = currentOffset
            return KilnError.invalid(reason: reason, function: functionIndex, offset: offset)
        }

        @inline(never)
        func mismatch() -> KilnError { fail("type mismatch") }

        @inline(never)
        func malformed(_ reason: String) -> KilnError {
            let offset = currentOffset
            return KilnError.malformed(reason: reason, offset: offset)
        }

        // MARK: Operand stack

        @inline(__always)
        mutating func push(_ type: VType) {
            if stackCount == stackCapacity { grow() }
            stack[stackCount] = type
            stackCount &+= 1
        }

        @inline(never)
        mutating func grow() {
            let newCapacity = stackCapacity &* 2
            let newStack = UnsafeMutablePointer<VType>.allocate(capacity: newCapacity)
            newStack.update(from: stack, count: stackCount)
            stack.deallocate()
            stack = newStack
            stackCapacity = newCapacity
        }

        @inline(__always)
        mutating func pop() throws(KilnError) -> VType {
            if stackCount == height {
                if unreachable { return .unknown }
                throw mismatch()
            }
            stackCount &-= 1
            return stack[stackCount]
        }

        @inline(__always)
        mutating func pop(_ expected: VType) throws(KilnError) {
            if stackCount == height {
                if unreachable { return }
                throw mismatch()
            }
            stackCount &-= 1
            let actual = stack[stackCount]
            if actual != expected && actual != .unknown && !types.referenceMatches(actual, expected) { throw mismatch() }
        }

        /// Pops the operand of `ref.test`/`ref.cast`: any reference in the hierarchy of `top`.
        mutating func popCastOperand(top: UInt32) throws(KilnError) {
            let type = try popReference()
            guard types.matches(type, VType.reference(heap: top, nullable: true)) else { throw mismatch() }
        }

        /// Pops a reference operand; Unknown becomes `(ref bot)`.
        mutating func popReference() throws(KilnError) -> VType {
            let type = try pop()
            if type == .unknown { return VType.reference(heap: VType.bottomHeap, nullable: false) }
            guard type.isReference else { throw mismatch() }
            return type
        }

        @inline(__always)
        mutating func pop(_ first: VType, _ second: VType) throws(KilnError) {
            try pop(second)
            try pop(first)
        }

        @inline(__always)
        mutating func pop(_ first: VType, _ second: VType, _ third: VType) throws(KilnError) {
            try pop(third)
            try pop(second)
            try pop(first)
        }

        mutating func pop(sequence start: Int32, count: Int32) throws(KilnError) {
            var index = Int(start) + Int(count)
            let first = Int(start)
            while index > first {
                index -= 1
                try pop(pool[index])
            }
        }

        mutating func push(sequence start: Int32, count: Int32) {
            var index = Int(start)
            let end = index + Int(count)
            while index < end {
                push(pool[index])
                index += 1
            }
        }

        /// Checks the top of the stack against a label's types without popping (`br_table`):
        /// the same as popping them and pushing back what was popped.
        func peek(sequence start: Int32, count: Int32) throws(KilnError) {
            let count = Int(count)
            for offset in 0..<count {
                let position = stackCount - 1 - offset
                let expected = pool[Int(start) + count - 1 - offset]
                if position >= height {
                    let actual = stack[position]
                    if !types.matches(actual, expected) { throw mismatch() }
                } else if !unreachable {
                    throw mismatch()
                }
            }
        }

        // MARK: Control stack

        mutating func pushFrame(_ kind: FrameKind, _ type: Signature) {
            frames.append(Frame(kind: kind, type: type, height: stackCount, unreachable: false, initHeight: initializedLocals.count))
            height = stackCount
            unreachable = false
            push(sequence: type.paramStart, count: type.paramCount)
        }

        mutating func popFrame() throws(KilnError) -> Frame {
            guard let frame = frames.last else { throw malformed("unexpected end") }
            try pop(sequence: frame.type.resultStart, count: frame.type.resultCount)
            guard stackCount == frame.height else { throw mismatch() }
            frames.removeLast()
            if tracksInit {
                while initializedLocals.count > frame.initHeight {
                    localInitialized[initializedLocals.removeLast()] = false
                }
            }
            if let outer = frames.last {
                height = outer.height
                unreachable = outer.unreachable
            }
            return frame
        }

        mutating func markUnreachable() {
            stackCount = height
            unreachable = true
            frames[frames.count - 1].unreachable = true
        }

        /// The types a branch to `depth` carries.
        func label(_ depth: UInt32) throws(KilnError) -> (start: Int32, count: Int32) {
            guard Int(depth) < frames.count else { throw fail("unknown label \(depth)") }
            let frame = frames[frames.count - 1 - Int(depth)]
            if frame.kind == .loop { return (frame.type.paramStart, frame.type.paramCount) }
            return (frame.type.resultStart, frame.type.resultCount)
        }

        mutating func blockType(_ type: WasmParser.BlockType) throws(KilnError) -> Signature {
            switch type {
            case .empty:
                return Signature()
            case .type(let valueType):
                let operand = try types.operandType(valueType)
                return Signature(paramStart: 0, paramCount: 0, resultStart: singleton(operand), resultCount: 1)
            case .funcType(let index):
                try requireFunctionType(index)
                return signatures[Int(index)]
            }
        }

        /// Start of the one-type sequence `[type]` in the pool.
        mutating func singleton(_ type: VType) -> Int32 {
            if let index = type.prefixPoolIndex { return index }
            if let index = singletons[type] { return index }
            let index = Int32(truncatingIfNeeded: pool.count)
            pool.append(type)
            singletons[type] = index
            return index
        }

        /// Whether sequence `a` matches sequence `b` (an `if` without `else` passes its
        /// parameters on as its results).
        func matchingSequence(_ a: Int32, _ aCount: Int32, _ b: Int32, _ bCount: Int32) -> Bool {
            guard aCount == bCount else { return false }
            for i in 0..<Int(aCount) where !types.matches(pool[Int(a) + i], pool[Int(b) + i]) { return false }
            return true
        }

        mutating func initialize(_ local: Int) {
            if !localInitialized[local] {
                localInitialized[local] = true
                initializedLocals.append(local)
            }
        }

        // MARK: Index spaces

        /// Type index `index` exists and is a function type.
        func requireFunctionType(_ index: UInt32) throws(KilnError) {
            guard Int(index) < signatures.count else { throw fail("unknown type \(index)") }
            guard types.isFunction(index) else { throw fail("type mismatch: type \(index) is not a function type") }
        }

        /// Rethrows a type-space error (no location) at the current instruction.
        func located<T>(_ body: () throws(KilnError) -> T) throws(KilnError) -> T {
            do {
                return try body()
            } catch .invalid(let reason, nil, nil) {
                throw fail(reason)
            }
        }

        func structFields(_ index: UInt32) throws(KilnError) -> [FieldVType] {
            try located { () throws(KilnError) -> [FieldVType] in
                var fields: [FieldVType] = []
                for field in try types.structFields(index) { fields.append(try types.field(field)) }
                return fields
            }
        }

        func structField(_ index: UInt32, _ field: UInt32) throws(KilnError) -> FieldVType {
            let fields = try structFields(index)
            guard Int(field) < fields.count else { throw fail("unknown field \(field)") }
            return fields[Int(field)]
        }

        func arrayElement(_ index: UInt32) throws(KilnError) -> FieldVType {
            try located { () throws(KilnError) -> FieldVType in try types.field(try types.arrayElement(index)) }
        }

        func heapType(_ heap: WasmTypes.HeapType) throws(KilnError) -> UInt32 {
            try located { () throws(KilnError) -> UInt32 in try types.heap(heap) }
        }

        func referenceType(_ reference: WasmTypes.ReferenceType) throws(KilnError) -> VType {
            try located { () throws(KilnError) -> VType in try types.operandType(reference) }
        }

        /// `(ref null $t)` of type index `index` (in range).
        func concreteReference(_ index: UInt32, nullable: Bool = true) -> VType {
            types.functionReference(index, nullable: nullable)
        }

        /// The element segment's type.
        func elementSegment(_ index: UInt32) throws(KilnError) -> VType {
            guard Int(index) < elementTypes.count else { throw fail("unknown elem segment \(index)") }
            return elementTypes[Int(index)]
        }

        /// The data segment exists (array.new_data and array.init_data need the data count section too).
        func checkArrayData(_ index: UInt32, element: FieldVType) throws(KilnError) {
            try checkData(index)
            if let value = element.value, value.isReference { throw fail("array type is not numeric or vector") }
        }

        /// The memory's address type.
        func checkMemory(_ index: UInt32) throws(KilnError) -> VType {
            guard Int(index) < memoryCount else { throw fail("unknown memory \(index)") }
            return memoryAddressTypes[Int(index)]
        }

        /// The table's address type.
        func tableAddress(_ index: UInt32) -> VType { tableAddressTypes[Int(index)] }

        /// The narrower of two address types (the length operand of a copy between them).
        static func narrower(_ a: VType, _ b: VType) -> VType { a == .i64 && b == .i64 ? .i64 : .i32 }

        func table(_ index: UInt32) throws(KilnError) -> VType {
            guard Int(index) < tables.count else { throw fail("unknown table \(index)") }
            return tables[Int(index)]
        }

        func checkData(_ index: UInt32) throws(KilnError) {
            guard Int(index) < dataSegmentCount else { throw fail("unknown data segment \(index)") }
            guard hasDataCountSection else { throw malformed("data count section required") }
        }

        /// Atomic accesses must be exactly naturally aligned.
        func checkAtomicMemArg(_ memarg: WasmParser.MemArg, natural: Int) throws(KilnError) -> VType {
            let address = try checkMemArg(memarg, natural: natural)
            guard memarg.align == UInt32(natural) else { throw fail("alignment must be equal to natural alignment") }
            return address
        }

        /// Checks a memory immediate; returns the memory's address type.
        func checkMemArg(_ memarg: WasmParser.MemArg, natural: Int) throws(KilnError) -> VType {
            let address = try checkMemory(memarg.memory)
            // Flag bits above the alignment and the memory-index bit make the encoding malformed.
            guard memarg.align < 64 else { throw malformed("malformed memop flags") }
            guard memarg.align <= UInt32(natural) else { throw fail("alignment must not be larger than natural") }
            // 32-bit memories take 32-bit offsets.
            guard address == .i64 || memarg.offset <= UInt64(UInt32.max) else { throw fail("offset out of range") }
            return address
        }

        // MARK: Function bodies

        mutating func check(_ body: FunctionBody, functionIndex: Int, type: Signature) throws(KilnError) {
            offsets = body.offsets
            decodingOffset = nil
            // A caller may reuse the body's storage for the next one: keep no reference to it.
            defer { offsets = [] }
            try begin(functionIndex: functionIndex, locals: body.locals, type: type)
            let instructions = body.instructions
            let count = instructions.count
            var index = 0
            lastIndex = count &- 1
            while index < count {
                pc = index
                switch instructions[index] {
                case .standard(let instruction): try step(instruction)
                default: try stepLegacy(instructions[index])
                }
                index &+= 1
            }
            try finish(at: count)
        }

        /// What went wrong with a body checked while decoding: decoding errors come first, as if
        /// the whole body had been decoded before checking.
        enum BodyError: Error {
            case decoding(KilnError)
            case checking(KilnError)
        }

        /// Decodes and checks defined function `index` in one pass, with no instruction array
        /// (validation's path: the array, its copies and their destruction cost a fifth of it).
        mutating func checkDecoding(_ code: FunctionCode, _ index: Int, functionIndex: Int, type: Signature) throws(BodyError) {
            let entry = code.entries[index]
            do throws(KilnError) {
                for local in entry.locals { try code.gate.require(local) }
            } catch { throw .decoding(error) }
            offsets = []
            defer { decodingOffset = nil }
            do throws(KilnError) {
                try begin(functionIndex: functionIndex, locals: entry.locals, type: type)
            } catch { throw .checking(error) }
            try code.bytes.withUnsafeBufferPointer { (buffer) throws(BodyError) in
                var decoder = InstructionDecoder(
                    reader: ByteReader(bytes: buffer, position: entry.start, end: entry.end), gate: code.gate, memoryCount: code.memoryCount)
                var position = 0
                while !decoder.reader.isAtEnd {
                    let offset = decoder.reader.position
                    let instruction: BodyInstruction
                    do throws(KilnError) { instruction = try decoder.next() } catch { throw .decoding(error) }
                    pc = position
                    decodingOffset = offset
                    // Only the body's last instruction may end the function's frame.
                    lastIndex = decoder.reader.isAtEnd ? position : -1
                    do throws(KilnError) {
                        switch instruction {
                        case .standard(let instruction): try step(instruction)
                        default: try stepLegacy(instruction)
                        }
                    } catch {
                        do throws(KilnError) {
                            while !decoder.reader.isAtEnd { _ = try decoder.next() }
                        } catch let decodingError { throw .decoding(decodingError) }
                        throw .checking(error)
                    }
                    position &+= 1
                }
                decodingOffset = nil
                do throws(KilnError) { try finish(at: position) } catch { throw .checking(error) }
            }
        }

        /// The state at a body's start: its locals, an empty stack, the function's frame.
        private mutating func begin(functionIndex: Int, locals declared: [ValueType], type: Signature) throws(KilnError) {
            self.functionIndex = functionIndex
            pc = 0
            stackCount = 0
            frames.removeAll(keepingCapacity: true)
            locals.removeAll(keepingCapacity: true)
            let paramStart = Int(type.paramStart)
            locals.append(contentsOf: pool[paramStart..<(paramStart + Int(type.paramCount))])
            tracksInit = false
            for local in declared {
                let type = try types.operandType(local)
                locals.append(type)
                if !type.isDefaultable { tracksInit = true }
            }
            initializedLocals.removeAll(keepingCapacity: true)
            if tracksInit {
                localInitialized = locals.indices.map { $0 < Int(type.paramCount) || locals[$0].isDefaultable }
            }
            results = type
            pushFrame(.function, Signature(paramStart: 0, paramCount: 0, resultStart: type.resultStart, resultCount: type.resultCount))
        }

        /// After the body's `count` instructions: the function's frame must have ended.
        private mutating func finish(at count: Int) throws(KilnError) {
            if !frames.isEmpty {
                pc = count
                throw malformed("END opcode expected")
            }
        }

        /// A tail call returns the callee's results as the caller's: they must match.
        func checkTailResults(_ callee: Signature) throws(KilnError) {
            guard callee.resultCount == results.resultCount else { throw mismatch() }
            for offset in 0..<Int(callee.resultCount) {
                guard types.matches(pool[Int(callee.resultStart) + offset], pool[Int(results.resultStart) + offset]) else {
                    throw mismatch()
                }
            }
        }

        /// The payload types of tag `index`.
        func tag(_ index: UInt32) throws(KilnError) -> Signature {
            guard Int(index) < tagTypes.count else { throw fail("unknown tag \(index)") }
            return signatures[Int(tagTypes[Int(index)])]
        }

        /// Checks that a catch clause's values (`payload`, then an exnref if `withReference`)
        /// match the label's types.
        func checkCatchLabel(_ depth: UInt32, payload: Signature?, withReference: Bool) throws(KilnError) {
            let label = try self.label(depth)
            let payloadCount = Int(payload?.paramCount ?? 0)
            guard Int(label.count) == payloadCount + (withReference ? 1 : 0) else { throw mismatch() }
            for offset in 0..<payloadCount {
                let actual = pool[Int(payload!.paramStart) + offset]
                guard types.matches(actual, pool[Int(label.start) + offset]) else { throw mismatch() }
            }
            if withReference {
                let expected = pool[Int(label.start) + payloadCount]
                guard types.matches(VType.exnref.nonNullable, expected) else { throw mismatch() }
            }
        }

        mutating func stepLegacy(_ instruction: BodyInstruction) throws(KilnError) {
            switch instruction {
            case .standard(let instruction):
                try step(instruction)
            case .legacyTry(let blockType):
                let type = try self.blockType(blockType)
                try pop(sequence: type.paramStart, count: type.paramCount)
                pushFrame(.legacyTry, type)
            case .legacyCatch(let tagIndex):
                guard let last = frames.last, last.kind == .legacyTry || last.kind == .legacyCatch else {
                    throw malformed("catch without matching try")
                }
                let payload = try tag(tagIndex)
                let frame = try popFrame()
                pushFrame(.legacyCatch, Signature(paramStart: 0, paramCount: 0, resultStart: frame.type.resultStart, resultCount: frame.type.resultCount))
                push(sequence: payload.paramStart, count: payload.paramCount)
            case .legacyCatchAll:
                guard let last = frames.last, last.kind == .legacyTry || last.kind == .legacyCatch else {
                    throw malformed("catch_all without matching try")
                }
                let frame = try popFrame()
                pushFrame(.legacyCatchAll, Signature(paramStart: 0, paramCount: 0, resultStart: frame.type.resultStart, resultCount: frame.type.resultCount))
            case .legacyDelegate(let depth):
                guard let last = frames.last, last.kind == .legacyTry else { throw malformed("delegate without matching try") }
                let frame = try popFrame()
                // The label is counted from outside the try.
                guard Int(depth) < frames.count else { throw fail("unknown label \(depth)") }
                push(sequence: frame.type.resultStart, count: frame.type.resultCount)
            case .legacyRethrow(let depth):
                guard Int(depth) < frames.count else { throw fail("invalid rethrow label") }
                let kind = frames[frames.count - 1 - Int(depth)].kind
                guard kind == .legacyCatch || kind == .legacyCatchAll else { throw fail("invalid rethrow label") }
                markUnreachable()
            }
        }

        mutating func step(_ instruction: WasmParser.Instruction) throws(KilnError) {
            switch instruction {
            // Control.
            case .unreachable:
                markUnreachable()
            case .nop:
                break
            case .block(let blockType):
                let type = try self.blockType(blockType)
                try pop(sequence: type.paramStart, count: type.paramCount)
                pushFrame(.block, type)
            case .loop(let blockType):
                let type = try self.blockType(blockType)
                try pop(sequence: type.paramStart, count: type.paramCount)
                pushFrame(.loop, type)
            case .if(let blockType):
                let type = try self.blockType(blockType)
                try pop(.i32)
                try pop(sequence: type.paramStart, count: type.paramCount)
                pushFrame(.if, type)
            case .else:
                guard let last = frames.last, last.kind == .if else { throw malformed("else without matching if") }
                let frame = try popFrame()
                pushFrame(.else, frame.type)
            case .end:
                guard !frames.isEmpty else { throw malformed("unexpected end") }
                let frame = try popFrame()
                if frames.isEmpty, pc != lastIndex {
                    throw malformed("operators remaining after end of function")
                }
                if frame.kind == .if,
                    !matchingSequence(frame.type.paramStart, frame.type.paramCount, frame.type.resultStart, frame.type.resultCount)
                {
                    throw mismatch()
                }
                if !frames.isEmpty {
                    push(sequence: frame.type.resultStart, count: frame.type.resultCount)
                }
            case .br(let depth):
                let label = try self.label(depth)
                try pop(sequence: label.start, count: label.count)
                markUnreachable()
            case .brIf(let depth):
                let label = try self.label(depth)
                try pop(.i32)
                try pop(sequence: label.start, count: label.count)
                push(sequence: label.start, count: label.count)
            case .brTable(let targets):
                let defaultLabel = try label(targets.defaultIndex)
                try pop(.i32)
                for depth in targets.labelIndices {
                    let label = try self.label(depth)
                    guard label.count == defaultLabel.count else { throw mismatch() }
                    try peek(sequence: label.start, count: label.count)
                }
                try pop(sequence: defaultLabel.start, count: defaultLabel.count)
                markUnreachable()
            case .return:
                try pop(sequence: results.resultStart, count: results.resultCount)
                markUnreachable()
            case .call(let function):
                guard Int(function) < functionTypes.count else { throw fail("unknown function \(function)") }
                let type = signatures[Int(functionTypes[Int(function)])]
                try pop(sequence: type.paramStart, count: type.paramCount)
                push(sequence: type.resultStart, count: type.resultCount)
            case .callIndirect(let typeIndex, let tableIndex):
                let elementType = try table(tableIndex)
                try requireFunctionType(typeIndex)
                guard types.matches(elementType, .funcref) else { throw mismatch() }
                let type = signatures[Int(typeIndex)]
                try pop(tableAddress(tableIndex))
                try pop(sequence: type.paramStart, count: type.paramCount)
                push(sequence: type.resultStart, count: type.resultCount)

            // Parametric.
            case .drop:
                _ = try pop()
            case .select:
                try pop(.i32)
                let first = try pop()
                let second = try pop()
                let firstOK = first == .unknown || first.isNumeric || first == .v128
                let secondOK = second == .unknown || second.isNumeric || second == .v128
                guard firstOK, secondOK else { throw mismatch() }
                guard first == second || first == .unknown || second == .unknown else { throw mismatch() }
                push(first == .unknown ? second : first)
            case .typedSelect(let valueType):
                let type = try types.operandType(valueType)
                try pop(type, type, .i32)
                push(type)

            // Variables.
            case .localGet(let index):
                guard Int(index) < locals.count else { throw fail("unknown local \(index)") }
                if tracksInit && !localInitialized[Int(index)] { throw fail("uninitialized local \(index)") }
                push(locals[Int(index)])
            case .localSet(let index):
                guard Int(index) < locals.count else { throw fail("unknown local \(index)") }
                try pop(locals[Int(index)])
                if tracksInit { initialize(Int(index)) }
            case .localTee(let index):
                guard Int(index) < locals.count else { throw fail("unknown local \(index)") }
                let type = locals[Int(index)]
                try pop(type)
                if tracksInit { initialize(Int(index)) }
                push(type)
            case .globalGet(let index):
                guard Int(index) < globalTypes.count else { throw fail("unknown global \(index)") }
                push(globalTypes[Int(index)])
            case .globalSet(let index):
                guard Int(index) < globalTypes.count else { throw fail("unknown global \(index)") }
                guard globalMutable[Int(index)] else { throw fail("immutable global") }
                try pop(globalTypes[Int(index)])

            // Tables.
            case .tableGet(let index):
                let type = try table(index)
                try pop(tableAddress(index))
                push(type)
            case .tableSet(let index):
                let type = try table(index)
                try pop(tableAddress(index), type)
            case .tableSize(let index):
                _ = try table(index)
                push(tableAddress(index))
            case .tableGrow(let index):
                let type = try table(index)
                let address = tableAddress(index)
                try pop(type, address)
                push(address)
            case .tableFill(let index):
                let type = try table(index)
                let address = tableAddress(index)
                try pop(address, type, address)
            case .tableCopy(let destination, let source):
                let destinationType = try table(destination)
                let sourceType = try table(source)
                guard types.matches(sourceType, destinationType) else { throw mismatch() }
                let (d, s) = (tableAddress(destination), tableAddress(source))
                try pop(d, s, Self.narrower(d, s))
            case .tableInit(let elementIndex, let tableIndex):
                let tableType = try table(tableIndex)
                guard Int(elementIndex) < elementTypes.count else { throw fail("unknown elem segment \(elementIndex)") }
                guard types.matches(elementTypes[Int(elementIndex)], tableType) else { throw mismatch() }
                try pop(tableAddress(tableIndex), .i32, .i32)
            case .elemDrop(let elementIndex):
                guard Int(elementIndex) < elementTypes.count else { throw fail("unknown elem segment \(elementIndex)") }

            // Memory.
            case .load(let op, let memarg):
                let address = try checkMemArg(memarg, natural: op.naturalAlignment)
                if AtomicAccess.isAtomic(op) { _ = try checkAtomicMemArg(memarg, natural: op.naturalAlignment) }
                try pop(address)
                push(try types.operandType(op.type))
            case .store(let op, let memarg):
                let address = try checkMemArg(memarg, natural: op.naturalAlignment)
                if AtomicAccess.isAtomic(op) { _ = try checkAtomicMemArg(memarg, natural: op.naturalAlignment) }
                try pop(address, try types.operandType(op.type))
            case .memorySize(let memory):
                push(try checkMemory(memory))
            case .memoryGrow(let memory):
                let address = try checkMemory(memory)
                try pop(address)
                push(address)
            case .memoryFill(let memory):
                let address = try checkMemory(memory)
                try pop(address, .i32, address)
            case .memoryCopy(let destination, let source):
                let d = try checkMemory(destination)
                let s = try checkMemory(source)
                try pop(d, s, Self.narrower(d, s))
            case .memoryInit(let dataIndex, let memory):
                let address = try checkMemory(memory)
                try checkData(dataIndex)
                try pop(address, .i32, .i32)
            case .dataDrop(let dataIndex):
                try checkData(dataIndex)

            // References.
            case .refNull(let heap):
                push(VType.reference(heap: try types.heap(heap), nullable: true))
            case .refIsNull:
                _ = try popReference()
                push(.i32)
            case .refFunc(let function):
                guard Int(function) < functionTypes.count else { throw fail("unknown function \(function)") }
                guard declaredFunctions[Int(function)] else { throw fail("undeclared function reference") }
                push(types.functionReference(functionTypes[Int(function)], nullable: false))
            case .refAsNonNull:
                push(try popReference().nonNullable)
            case .brOnNull(let depth):
                let label = try self.label(depth)
                let type = try popReference()
                try pop(sequence: label.start, count: label.count)
                push(sequence: label.start, count: label.count)
                push(type.nonNullable)
            case .brOnNonNull(let depth):
                let label = try self.label(depth)
                let type = try popReference()
                // The label takes the operands below and the reference, non-null, last.
                guard label.count > 0, types.matches(type.nonNullable, pool[Int(label.start + label.count - 1)]) else {
                    throw mismatch()
                }
                try pop(sequence: label.start, count: label.count - 1)
                push(sequence: label.start, count: label.count - 1)
            case .callRef(let typeIndex):
                try requireFunctionType(typeIndex)
                try pop(types.functionReference(typeIndex, nullable: true))
                let type = signatures[Int(typeIndex)]
                try pop(sequence: type.paramStart, count: type.paramCount)
                push(sequence: type.resultStart, count: type.resultCount)

            // Numeric.
            case .i32Const: push(.i32)
            case .i64Const: push(.i64)
            case .f32Const: push(.f32)
            case .f64Const: push(.f64)
            case .i32Eqz:
                try pop(.i32)
                push(.i32)
            case .i64Eqz:
                try pop(.i64)
                push(.i32)
            case .cmp(let op):
                let type = Validator.operandType(of: op)
                try pop(type, type)
                push(.i32)
            case .unary(let op):
                let type = Validator.operandType(of: op)
                try pop(type)
                push(type)
            case .binary(let op):
                let type = Validator.operandType(of: op)
                try pop(type, type)
                push(type)
            case .conversion(let op):
                let (from, to) = Validator.operandTypes(of: op)
                try pop(from)
                push(to)

            // Vector.
            case .v128Const:
                push(.v128)
            case .i8x16Shuffle(let mask):
                for lane in mask.lanes where lane >= 32 { throw fail("invalid lane index") }
                try pop(.v128, .v128)
                push(.v128)
            case .simd(let op):
                switch Validator.shape(of: op) {
                case .unary:
                    try pop(.v128)
                    push(.v128)
                case .binary:
                    try pop(.v128, .v128)
                    push(.v128)
                case .ternary:
                    try pop(.v128, .v128, .v128)
                    push(.v128)
                case .test:
                    try pop(.v128)
                    push(.i32)
                case .shift:
                    try pop(.v128, .i32)
                    push(.v128)
                case .splat(let scalar):
                    try pop(scalar)
                    push(.v128)
                }
            case .simdLane(let op, let lane):
                let (scalar, lanes, isReplace) = Validator.laneShape(of: op)
                guard Int(lane) < lanes else { throw fail("invalid lane index") }
                if isReplace {
                    try pop(.v128, scalar)
                    push(.v128)
                } else {
                    try pop(.v128)
                    push(scalar)
                }
            case .simdMemLane(let op, let memarg, let lane):
                let (natural, isStore) = Validator.memLaneShape(of: op)
                let address = try checkMemArg(memarg, natural: natural)
                guard Int(lane) < 16 >> natural else { throw fail("invalid lane index") }
                try pop(address, .v128)
                if !isStore { push(.v128) }

            // Exceptions.
            case .throw(let tagIndex):
                let payload = try tag(tagIndex)
                try pop(sequence: payload.paramStart, count: payload.paramCount)
                markUnreachable()
            case .throwRef:
                try pop(.exnref)
                markUnreachable()
            case .tryTable(let blockType, let clauses):
                let type = try self.blockType(blockType)
                // Catch labels are resolved outside the try_table.
                for clause in clauses.catches {
                    switch clause {
                    case .catch(let tagIndex, let depth):
                        try checkCatchLabel(depth, payload: try tag(tagIndex), withReference: false)
                    case .catchRef(let tagIndex, let depth):
                        try checkCatchLabel(depth, payload: try tag(tagIndex), withReference: true)
                    case .catchAll(let depth):
                        try checkCatchLabel(depth, payload: nil, withReference: false)
                    case .catchAllRef(let depth):
                        try checkCatchLabel(depth, payload: nil, withReference: true)
                    }
                }
                try pop(sequence: type.paramStart, count: type.paramCount)
                pushFrame(.block, type)

            // Beyond Wasm 2.0.
            // Tail calls: the callee's results must be the caller's.
            case .returnCall(let function):
                guard Int(function) < functionTypes.count else { throw fail("unknown function \(function)") }
                let type = signatures[Int(functionTypes[Int(function)])]
                try checkTailResults(type)
                try pop(sequence: type.paramStart, count: type.paramCount)
                markUnreachable()
            case .returnCallIndirect(let typeIndex, let tableIndex):
                let elementType = try table(tableIndex)
                try requireFunctionType(typeIndex)
                guard types.matches(elementType, .funcref) else { throw mismatch() }
                let type = signatures[Int(typeIndex)]
                try checkTailResults(type)
                try pop(tableAddress(tableIndex))
                try pop(sequence: type.paramStart, count: type.paramCount)
                markUnreachable()
            case .returnCallRef(let typeIndex):
                try requireFunctionType(typeIndex)
                try pop(types.functionReference(typeIndex, nullable: true))
                let type = signatures[Int(typeIndex)]
                try checkTailResults(type)
                try pop(sequence: type.paramStart, count: type.paramCount)
                markUnreachable()
            // Atomics (threads proposal) on unshared memories: plain accesses, exact alignment.
            case .atomicFence:
                break
            case .memoryAtomicNotify(let memarg):
                let address = try checkAtomicMemArg(memarg, natural: 2)
                try pop(address, .i32)
                push(.i32)
            case .memoryAtomicWait32(let memarg):
                let address = try checkAtomicMemArg(memarg, natural: 2)
                try pop(address, .i32, .i64)
                push(.i32)
            case .memoryAtomicWait64(let memarg):
                let address = try checkAtomicMemArg(memarg, natural: 3)
                try pop(address, .i64, .i64)
                push(.i32)
            case .i32AtomicRmwAdd, .i64AtomicRmwAdd, .i32AtomicRmw8AddU, .i32AtomicRmw16AddU,
                .i64AtomicRmw8AddU, .i64AtomicRmw16AddU, .i64AtomicRmw32AddU,
                .i32AtomicRmwSub, .i64AtomicRmwSub, .i32AtomicRmw8SubU, .i32AtomicRmw16SubU,
                .i64AtomicRmw8SubU, .i64AtomicRmw16SubU, .i64AtomicRmw32SubU,
                .i32AtomicRmwAnd, .i64AtomicRmwAnd, .i32AtomicRmw8AndU, .i32AtomicRmw16AndU,
                .i64AtomicRmw8AndU, .i64AtomicRmw16AndU, .i64AtomicRmw32AndU,
                .i32AtomicRmwOr, .i64AtomicRmwOr, .i32AtomicRmw8OrU, .i32AtomicRmw16OrU,
                .i64AtomicRmw8OrU, .i64AtomicRmw16OrU, .i64AtomicRmw32OrU,
                .i32AtomicRmwXor, .i64AtomicRmwXor, .i32AtomicRmw8XorU, .i32AtomicRmw16XorU,
                .i64AtomicRmw8XorU, .i64AtomicRmw16XorU, .i64AtomicRmw32XorU,
                .i32AtomicRmwXchg, .i64AtomicRmwXchg, .i32AtomicRmw8XchgU, .i32AtomicRmw16XchgU,
                .i64AtomicRmw8XchgU, .i64AtomicRmw16XchgU, .i64AtomicRmw32XchgU,
                .i32AtomicRmwCmpxchg, .i64AtomicRmwCmpxchg, .i32AtomicRmw8CmpxchgU, .i32AtomicRmw16CmpxchgU,
                .i64AtomicRmw8CmpxchgU, .i64AtomicRmw16CmpxchgU, .i64AtomicRmw32CmpxchgU:
                let (operation, valueType, cType, memarg) = AtomicAccess.readModifyWrite(instruction)!
                let address = try checkAtomicMemArg(memarg, natural: AtomicAccess.naturalAlignment(cType))
                let type = try types.operandType(valueType)
                if operation == .compareExchange { try pop(address, type, type) } else { try pop(address, type) }
                push(type)
            // GC.
            case .refI31:
                try pop(.i32)
                push(VType.i31ref.nonNullable)
            case .i31GetS, .i31GetU:
                try pop(.i31ref)
                push(.i32)
            case .refEq:
                try pop(.eqref, .eqref)
                push(.i32)
            case .structNew(let typeIndex):
                let fields = try structFields(typeIndex)
                for field in fields.reversed() { try pop(field.unpacked) }
                push(concreteReference(typeIndex, nullable: false))
            case .structNewDefault(let typeIndex):
                let fields = try structFields(typeIndex)
                guard fields.allSatisfy(\.isDefaultable) else { throw fail("type mismatch: field type is not defaultable") }
                push(concreteReference(typeIndex, nullable: false))
            case .structGet(let typeIndex, let fieldIndex), .structGetS(let typeIndex, let fieldIndex),
                .structGetU(let typeIndex, let fieldIndex):
                let field = try structField(typeIndex, fieldIndex)
                if case .structGet = instruction {
                    guard field.packed == nil else { throw fail("type mismatch: field is packed") }
                } else {
                    guard field.packed != nil else { throw fail("type mismatch: field is not packed") }
                }
                try pop(concreteReference(typeIndex))
                push(field.unpacked)
            case .structSet(let typeIndex, let fieldIndex):
                let field = try structField(typeIndex, fieldIndex)
                guard field.isMutable else { throw fail("immutable field") }
                try pop(concreteReference(typeIndex), field.unpacked)
            case .arrayNew(let typeIndex):
                let element = try arrayElement(typeIndex)
                try pop(element.unpacked, .i32)
                push(concreteReference(typeIndex, nullable: false))
            case .arrayNewDefault(let typeIndex):
                let element = try arrayElement(typeIndex)
                guard element.isDefaultable else { throw fail("type mismatch: array element type is not defaultable") }
                try pop(.i32)
                push(concreteReference(typeIndex, nullable: false))
            case .arrayNewFixed(let typeIndex, let size):
                let element = try arrayElement(typeIndex)
                for _ in 0..<size { try pop(element.unpacked) }
                push(concreteReference(typeIndex, nullable: false))
            case .arrayNewData(let typeIndex, let dataIndex):
                let element = try arrayElement(typeIndex)
                try checkArrayData(dataIndex, element: element)
                try pop(.i32, .i32)
                push(concreteReference(typeIndex, nullable: false))
            case .arrayNewElem(let typeIndex, let elementIndex):
                let element = try arrayElement(typeIndex)
                let segment = try elementSegment(elementIndex)
                guard types.storageMatches(FieldVType(value: segment, packed: nil, isMutable: false), element) else {
                    throw mismatch()
                }
                try pop(.i32, .i32)
                push(concreteReference(typeIndex, nullable: false))
            case .arrayGet(let typeIndex), .arrayGetS(let typeIndex), .arrayGetU(let typeIndex):
                let element = try arrayElement(typeIndex)
                if case .arrayGet = instruction {
                    guard element.packed == nil else { throw fail("type mismatch: array is packed") }
                } else {
                    guard element.packed != nil else { throw fail("type mismatch: array is not packed") }
                }
                try pop(concreteReference(typeIndex), .i32)
                push(element.unpacked)
            case .arraySet(let typeIndex):
                let element = try arrayElement(typeIndex)
                guard element.isMutable else { throw fail("immutable array") }
                try pop(concreteReference(typeIndex), .i32, element.unpacked)
            case .arrayLen:
                try pop(.arrayref)
                push(.i32)
            case .arrayFill(let typeIndex):
                let element = try arrayElement(typeIndex)
                guard element.isMutable else { throw fail("immutable array") }
                try pop(.i32)
                try pop(concreteReference(typeIndex), .i32, element.unpacked)
            case .arrayCopy(let destinationIndex, let sourceIndex):
                let destination = try arrayElement(destinationIndex)
                let source = try arrayElement(sourceIndex)
                guard destination.isMutable else { throw fail("immutable array") }
                guard types.storageMatches(source, destination) else { throw fail("array types do not match") }
                try pop(.i32)
                try pop(.i32, concreteReference(sourceIndex), .i32)
                try pop(concreteReference(destinationIndex))
            case .arrayInitData(let typeIndex, let dataIndex):
                let element = try arrayElement(typeIndex)
                guard element.isMutable else { throw fail("immutable array") }
                try checkArrayData(dataIndex, element: element)
                try pop(.i32)
                try pop(concreteReference(typeIndex), .i32, .i32)
            case .arrayInitElem(let typeIndex, let elementIndex):
                let element = try arrayElement(typeIndex)
                guard element.isMutable else { throw fail("immutable array") }
                let segment = try elementSegment(elementIndex)
                guard types.storageMatches(FieldVType(value: segment, packed: nil, isMutable: false), element) else {
                    throw mismatch()
                }
                try pop(.i32)
                try pop(concreteReference(typeIndex), .i32, .i32)
            case .refTest(let kind, let heap):
                let target = try heapType(heap)
                _ = kind
                try popCastOperand(top: types.top(target))
                push(.i32)
            case .refCast(let kind, let heap):
                let target = try heapType(heap)
                try popCastOperand(top: types.top(target))
                push(VType.reference(heap: target, nullable: kind == .refCastNull))
            case .brOnCast(let depth, let from, let to), .brOnCastFail(let depth, let from, let to):
                let source = try referenceType(from)
                let target = try referenceType(to)
                guard types.matches(target, source) else { throw mismatch() }
                let label = try self.label(depth)
                guard label.count > 0 else { throw mismatch() }
                // What the cast leaves behind: the source minus the target's nullability.
                let difference = target.isNullable ? source.nonNullable : source
                let isFail: Bool
                if case .brOnCastFail = instruction { isFail = true } else { isFail = false }
                // The branch carries the target (br_on_cast) or the difference (br_on_cast_fail).
                guard types.matches(isFail ? difference : target, pool[Int(label.start + label.count - 1)]) else { throw mismatch() }
                try pop(source)
                try pop(sequence: label.start, count: label.count - 1)
                push(sequence: label.start, count: label.count - 1)
                push(isFail ? target : difference)
            case .anyConvertExtern:
                let type = try popReference()
                guard types.matches(type, .externref) else { throw mismatch() }
                push(VType.reference(heap: VType.anyHeap, nullable: type.isNullable))
            case .externConvertAny:
                let type = try popReference()
                guard types.matches(type, .anyref) else { throw mismatch() }
                push(VType.reference(heap: VType.externHeap, nullable: type.isNullable))
            }
        }
    }
}
