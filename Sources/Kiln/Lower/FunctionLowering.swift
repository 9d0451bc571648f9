import WasmParser
import WasmTypes

/// Lowers one validated Wasm function to one C function.
///
/// TCC never inlines and keeps every variable in memory, so the shape of the C decides the speed:
/// the operand stack is folded into C expressions wherever the order of effects allows, Wasm
/// locals are C locals, and stack slots that must hold a value are C locals named by height and
/// type (`s3i`), reused across the function. Control flow is `goto` between labels; a block's
/// results live in the slots at the block's height, so branches only copy values into place.
struct FunctionLowering {
    let module: ModuleInfo
    let functionIndex: Int
    let signatureIDs: [UInt64]
    let body: FunctionBody
    let type: FunctionType

    /// A value on the operand stack: an expression tree not yet evaluated, or a slot. Its effects
    /// are merged from its operands' when it is built (`combine`).
    struct Operand {
        var type: ValueType
        var expr: Expr
        /// The expression reads memory, a global or a table: effects must not overtake it.
        var readsState = false
        /// Locals the expression reads: bit `i` for local `i` below 63; bit 63 for any other, which
        /// `mayRead` then looks up in the tree. A write to one of them must evaluate it first.
        var localMask: UInt64 = 0
        var isSlot = false
        /// The expression reads a slot (it folded an operand that lived in one): a statement
        /// that writes a slot must evaluate it first.
        var readsSlot = false
        /// Nodes in the tree: what the spill rule measures.
        var size: Int32 = 1

        /// What an expression built from this operand depends on.
        var readsAnySlot: Bool { isSlot || readsSlot }

        static func mask(of local: UInt32) -> UInt64 { 1 << UInt64(min(local, 63)) }
    }

    /// `tryTable` and `legacyTry` install an exception handler for their body; `legacyCatch` is
    /// a legacy `catch`/`catch_all` body (its handler already removed).
    enum FrameKind { case function, block, loop, `if`, tryTable, legacyTry, legacyCatch }

    struct Frame {
        var kind: FrameKind
        var label: Int
        var height: Int
        var parameters: [ValueType]
        var results: [ValueType]
        var branchedTo = false
        var sawElse = false
        /// Where an `if`'s false path starts; where a legacy try's handler dispatches; where a
        /// legacy catch clause's tag test goes when it does not match.
        var elseLabel = 0
        /// The C expression of the exception handler active in the frame's body (`HE`, the one
        /// at function entry, or `&H3`): a branch out restores its target's.
        var insideHandler = "HE"
        /// The `kiln_handler` variable of a try frame.
        var handler: String?
        /// The variable holding a legacy catch's exception, for `rethrow`.
        var caught: String?
        var sawCatchAll = false
        /// Branch values go to the loop's parameters, otherwise to the results.
        var branchTypes: [ValueType] { kind == .loop ? parameters : results }
    }

    /// The function's body as C, written byte by byte (Swift string concatenation is slow).
    var out: [UInt8] = []
    /// The nodes of the function's expression trees.
    var arena = ExpressionArena()
    /// Fuel and epoch checks (LimitsLowering.swift); disabled unless the engine enables them.
    var metering = Metering()
    var stack: [Operand] = []
    var frames: [Frame] = []
    /// Exception handlers and caught-exception variables the function declares.
    var handlerCount = 0
    var usesEntryHandler = false
    private var localTypes: [ValueType] = []
    /// Per stack height, a bit per slot kind (`CSyntax.kind`) already declared.
    var slotKinds: [UInt8] = []
    /// The v128 constants the function declares (`v128Constant`).
    var v128ConstantsUsed: Set<String> = []
    var slotDeclarations: [String] = []
    private var nextLabel = 0
    /// Memories whose base the function reads (`memoryBase`).
    var memoriesUsed: Set<UInt32> = []
    /// Locals (C names) used as 64-bit memory addresses whose high half is checked to be zero in
    /// the straight-line code since the last label (MemoryLowering).
    var checkedAddressLocals: Set<String> = []
    /// The last address check emitted: where its line starts and ends in `out`, what it tests.
    private var lastAddressCheck: (start: Int, addresses: String, end: Int)?
    /// C declarations of the runtime helpers the function calls that TCC does not see in the
    /// prelude (SIMD): ModuleLowering emits them once per module.
    var helperDeclarations: Set<String> = []
    /// Type indices whose function pointer type (`kiln_ftN`) the function's calls use.
    var calledTypes: Set<Int> = []
    private var makesCalls = false
    /// The function makes tail calls: it is emitted as a body, a wrapper that runs the pending
    /// tail calls (the function's address) and a tail entry (how other tail calls run it).
    var makesTailCalls = false
    var usesSelfTailCall = false
    /// Nesting depth of blocks opened inside unreachable code, which emit nothing.
    var deadDepth = 0
    var dead = false

    init(module validated: ValidatedModule, functionIndex: Int, signatureIDs: [UInt64]) throws(KilnError) {
        let module = validated.info
        self.module = module
        self.functionIndex = functionIndex
        self.signatureIDs = signatureIDs
        self.body = try module.code.body(functionIndex - module.importedFunctionCount)
        self.type = module.functionType(of: UInt32(functionIndex))
    }

    /// The C definition of the function.
    mutating func lower() throws(KilnError) -> String {
        var text: [UInt8] = []
        try lower(into: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends the C definition of the function to `text`.
    mutating func lower(into text: inout [UInt8]) throws(KilnError) {
        localTypes = type.parameters + body.locals
        frames = [Frame(kind: .function, label: newLabel(), height: 0, parameters: [], results: type.results)]
        beginMetering()
        for (index, instruction) in body.instructions.enumerated() {
            do {
                let live = !dead
                if live && metering.enabled { meterInstruction(instruction) }
                switch instruction {
                case .standard(let instruction): try lower(instruction)
                default: try lowerLegacy(instruction)
                }
                if live && metering.enabled { meterAfter(instruction) }
            } catch {
                throw KilnError.unsupported(feature: "\(error.reason) (function \(functionIndex), byte offset \(body.offsets[index]))")
            }
        }
        if metering.enabled { out = metering.finish(out) }
        var prologue = ""
        if usesSelfTailCall { prologue += "\(CSyntax.selfTailLabel):;\n" }
        if metering.options.epochInterruption && makesTailCalls { prologue += "    EPOCH_CHECK\n" }
        let name = makesTailCalls ? CSyntax.tailBody(functionIndex) : CSyntax.function(functionIndex)
        var header = "static \(CSyntax.returnType(type)) \(name)("
        // Values a try block may change before a throw jumps back to its kiln_setjmp: volatile
        // for an optimizing compiler (TRY_VOLATILE is empty for TCC).
        let qualifier = handlerCount > 0 ? "TRY_VOLATILE " : ""
        header += CSyntax.parameterList(type, context: "kiln_instance *ctx", named: true, qualifier: qualifier) + ") {\n"
        if makesTailCalls { text.append(contentsOf: TailCalls.wrapper(functionIndex, type).utf8) }
        text.append(contentsOf: header.utf8)
        header = ""
        for (index, local) in body.locals.enumerated() {
            text.append("    ")
            text.append(contentsOf: (local == .v128 ? "kiln_value" : CSyntax.type(local)).utf8)
            text.append(UInt8(ascii: " "))
            text.append(contentsOf: qualifier.utf8)
            text.append(UInt8(ascii: "l"))
            text.appendDecimal(UInt64(type.parameters.count + index))
            text.append(local == .v128 ? " = {0};\n" : " = 0;\n")
        }
        if !slotDeclarations.isEmpty {
            // "TYPE NAME;": the qualifier goes before the name (constants are static, unqualified).
            let declarations = slotDeclarations.map { declaration in
                guard !qualifier.isEmpty, !declaration.hasPrefix("static "),
                    let space = declaration.lastIndex(of: " ") else { return declaration }
                return declaration[...space] + qualifier + declaration[declaration.index(after: space)...]
            }
            header += "    " + declarations.joined(separator: "\n    ") + "\n"
        }
        header += memoryBaseDeclarations()
        header += metering.entryDeclarations
        if usesEntryHandler { header += "    kiln_handler *HE = ctx->exec->handler;\n" }
        for index in 0..<handlerCount {
            header += "    kiln_handler \(CSyntax.handler(index)); kiln_exception *\(CSyntax.caught(index));\n"
        }
        // A leaf function cannot recurse: its frame fits in the margin below the limit.
        let frameEstimate = 16 * (localTypes.count + slotDeclarations.count) + 400 * handlerCount + 128
        if makesCalls || frameEstimate > 64 * 1024 { header += "    \(metering.options.epochInterruption ? "STACK_CHECK_EPOCH" : "STACK_CHECK")(\(frameEstimate));\n" }
        text.append(contentsOf: header.utf8)
        text.append(contentsOf: prologue.utf8)
        text.append(contentsOf: out)
        text.append("}\n")
        if makesTailCalls { text.append(contentsOf: TailCalls.entry(functionIndex, type).utf8) }
    }

    struct Unsupported: Error { var reason: String }

    // MARK: - Emission helpers

    mutating func newLabel() -> Int {
        defer { nextLabel += 1 }
        return nextLabel
    }

    /// Control flow is flat (labels and gotos, no nested braces), so hostile nesting depth costs
    /// neither indentation nor recursion in TCC's parser.
    mutating func emit(_ line: String) {
        out.append("    ")
        out.append(contentsOf: line.utf8)
        out.append(10)
    }

    /// `goto L<label>;` (CSyntax.label).
    mutating func emitGoto(_ label: Int) {
        out.append("    goto L")
        out.appendDecimal(UInt64(label))
        out.append(";\n")
    }

    /// Text that goes into the output as it is (labels, metering placeholders).
    mutating func emitRaw(_ text: String) {
        out.append(contentsOf: text.utf8)
    }

    /// `    prefix expr suffix\n`, the expression printed straight into the output.
    mutating func emit(_ prefix: StaticString, _ expr: Expr, _ suffix: StaticString) {
        out.append("    ")
        out.append(prefix)
        arena.write(expr, to: &out)
        out.append(suffix)
        out.append(10)
    }

    /// `    target = expr;\n`.
    mutating func emitAssignment(_ target: Expr, _ value: Expr) {
        out.append("    ")
        arena.write(target, to: &out)
        out.append(" = ")
        arena.write(value, to: &out)
        out.append(";\n")
    }

    /// The C of an operand's expression, for statements built as strings.
    func expression(_ operand: Operand) -> String { arena.text(operand.expr) }
    func expression(_ expr: Expr) -> String { arena.text(expr) }

    /// `CHECK_ADDR64(address);`, merged with a check just before it into one test of both
    /// addresses' high halves: `CHECK_ADDR64(a | b);`.
    mutating func emitAddressCheck(_ address: String) {
        if let last = lastAddressCheck, last.end == out.count {
            out.removeLast(out.count - last.start)
            let merged = last.addresses + " | " + address
            lastAddressCheck = (out.count, merged, 0)
            emit("CHECK_ADDR64(\(merged));")
        } else {
            lastAddressCheck = (out.count, address, 0)
            emit("CHECK_ADDR64(\(address));")
        }
        lastAddressCheck!.end = out.count
    }

    /// The slot at `height` of `type`, declared on first use.
    mutating func slot(_ height: Int, _ type: ValueType) -> Expr {
        if height >= slotKinds.count { slotKinds.append(contentsOf: repeatElement(0, count: height + 8 - slotKinds.count)) }
        let bit = UInt8(1) << CSyntax.kind(type)
        if slotKinds[height] & bit == 0 {
            slotKinds[height] |= bit
            slotDeclarations.append(type == .v128 ? "kiln_value \(CSyntax.slot(height, type));" : "\(CSyntax.type(type)) \(CSyntax.slot(height, type));")
        }
        return arena.add(.slot(height: Int32(height), type))
    }

    mutating func slotName(_ height: Int, _ type: ValueType) -> String {
        _ = slot(height, type)
        return CSyntax.slot(height, type)
    }

    /// An operand of a new leaf node.
    mutating func operand(_ type: ValueType, _ node: ExprNode, readsState: Bool = false) -> Operand {
        Operand(type: type, expr: arena.add(node), readsState: readsState)
    }

    /// `operand` with the effects of `part`, one of the operands it was built from.
    static func adding(_ part: Operand, to operand: Operand) -> Operand {
        var operand = operand
        operand.readsState = operand.readsState || part.readsState
        operand.readsSlot = operand.readsSlot || part.readsAnySlot
        operand.localMask |= part.localMask
        operand.size += part.size
        return operand
    }

    /// Pushes a node built from operands already popped, with their effects. (Fixed arities:
    /// a variadic parameter would allocate an array per operation.)
    mutating func push(_ type: ValueType, _ node: ExprNode, readsState: Bool = false, _ a: Operand) {
        push(Self.adding(a, to: operand(type, node, readsState: readsState)))
    }

    mutating func push(_ type: ValueType, _ node: ExprNode, readsState: Bool = false, _ a: Operand, _ b: Operand) {
        push(Self.adding(b, to: Self.adding(a, to: operand(type, node, readsState: readsState))))
    }

    mutating func push(_ type: ValueType, _ node: ExprNode, readsState: Bool = false, _ a: Operand, _ b: Operand, _ c: Operand) {
        push(Self.adding(c, to: Self.adding(b, to: Self.adding(a, to: operand(type, node, readsState: readsState)))))
    }

    private mutating func unary(_ result: ValueType, _ make: (Expr) -> ExprNode) {
        let a = pop()
        push(result, make(a.expr), a)
    }

    private mutating func binary(_ result: ValueType, _ make: (Expr, Expr) -> ExprNode) {
        let b = pop()
        let a = pop()
        push(result, make(a.expr, b.expr), a, b)
    }

    /// A C expression built as text (operations without a node of their own), with the effects
    /// its caller knows.
    mutating func push(_ type: ValueType, _ expression: String, readsState: Bool = false, locals: [UInt32] = [], readsSlot: Bool = false) {
        var operand = Operand(type: type, expr: arena.add(.text(expression)), readsState: readsState, readsSlot: readsSlot)
        for local in locals { operand.localMask |= Operand.mask(of: local) }
        push(operand)
    }

    /// Trees above this many nodes are evaluated into their slot: TCC evaluates them no slower
    /// now, and deep trees would cost TCC's recursive parser (about 160 characters of C).
    static let spillSize: Int32 = 24

    mutating func push(_ operand: Operand) {
        stack.append(operand)
        if operand.size > Self.spillSize { materialize(stack.count - 1) }
    }

    mutating func pop() -> Operand { stack.removeLast() }

    /// Evaluates the operand at `index` into its slot.
    mutating func materialize(_ index: Int) {
        if stack[index].isSlot { return }
        protectSlots(below: index)
        let operand = stack[index]
        let target = slot(index, operand.type)
        if !isSlot(operand.expr, height: index, operand.type) { emitAssignment(target, operand.expr) }
        stack[index] = Operand(type: operand.type, expr: target, isSlot: true)
    }

    /// Whether the tree is just the slot at `height` of `type`.
    func isSlot(_ expr: Expr, height: Int, _ type: ValueType) -> Bool {
        if case .slot(let h, let t) = arena[expr] { return Int(h) == height && t == type }
        return false
    }

    /// Every pending expression evaluated, in stack order: before control flow.
    mutating func flushAll() {
        for index in stack.indices { materialize(index) }
    }

    /// Expressions that read state evaluated before an effect (store, call, global.set, trap check).
    mutating func flushState() {
        for index in stack.indices where stack[index].readsState { materialize(index) }
    }

    private mutating func flushReaders(ofLocal local: UInt32) {
        let bit = Operand.mask(of: local)
        for index in stack.indices where stack[index].localMask & bit != 0 {
            if local >= 63 && !arena.reads(stack[index].expr, local: local) { continue }
            materialize(index)
        }
    }

    /// An operand simple enough to evaluate twice: an integer or v128 constant, a local or a slot.
    func isSimple(_ operand: Operand) -> Bool {
        if operand.isSlot { return true }
        switch arena[operand.expr] {
        case .i32, .i64, .v128, .local, .slot: return true
        default: return false
        }
    }

    /// Pops the top operand into a simple form (its slot if it is a compound expression).
    mutating func popSimple() -> Operand {
        if !isSimple(stack[stack.count - 1]) { materialize(stack.count - 1) }
        return pop()
    }

    /// A result produced by a statement (a call, a check that may trap): its slot at the top.
    mutating func resultSlot(_ type: ValueType) -> Expr {
        protectSlots(below: stack.count)
        return slot(stack.count, type)
    }

    /// Before a statement writes a slot at `height`: a pending expression below it may read that
    /// slot (`binary` folds a slot above it into its expression), so every pending expression
    /// below that reads a slot is evaluated first, in stack order.
    mutating func protectSlots(below height: Int) {
        for index in 0..<min(height, stack.count) where !stack[index].isSlot && stack[index].readsSlot {
            materialize(index)
        }
    }

    mutating func pushSlot(_ type: ValueType) {
        stack.append(Operand(type: type, expr: slot(stack.count, type), isSlot: true))
    }

    // MARK: - Control flow

    /// Copies the top `types.count` operands into the slots at `height` (a branch target's).
    private mutating func moveTop(_ types: [ValueType], to height: Int) {
        let base = stack.count - types.count
        for (offset, type) in types.enumerated() {
            let source = stack[base + offset]
            if !isSlot(source.expr, height: height + offset, type) { emitAssignment(slot(height + offset, type), source.expr) }
        }
    }

    /// Branches to the label at `depth`, with its values on top of the stack; `beforeJump` runs
    /// after the values are in place (it may no longer be needed by them).
    /// `unconditional`: the jump ends the region (`br`), for fuel metering.
    mutating func branch(to depth: UInt32, beforeJump: String? = nil, unconditional: Bool = false) {
        let frameIndex = frames.count - 1 - Int(depth)
        frames[frameIndex].branchedTo = true
        let frame = frames[frameIndex]
        if frame.kind == .function {
            if let beforeJump { flushAll(); emit(beforeJump) }
            emitReturn()
            return
        }
        moveTop(frame.branchTypes, to: frame.height)
        if let beforeJump { emit(beforeJump) }
        restoreHandler(to: frames[frameIndex - 1].insideHandler)
        if metering.enabled && Self.paysOnEntry(frame.kind) { meterEdge(to: frame.label, unconditional: unconditional) }
        emitGoto(frame.label)
    }

    /// Labels whose every arrival goes through `branch(to:)`, the jump at `else` or falls
    /// through: fuel for their region is paid on the way in (LimitsLowering).
    static func paysOnEntry(_ kind: FrameKind) -> Bool { kind == .block || kind == .if }

    /// Leaving try frames: the handler active where control goes becomes the innermost again.
    mutating func restoreHandler(to target: String) {
        guard target != frames[frames.count - 1].insideHandler else { return }
        if target == "HE" { usesEntryHandler = true }
        emit("ctx->exec->handler = \(target);")
    }

    mutating func emitReturn() {
        restoreHandler(to: frames[0].insideHandler)
        let results = type.results
        let base = stack.count - results.count
        for (index, _) in results.enumerated().dropFirst() {
            emit("*\(CSyntax.resultPointer(index)) = \(expression(stack[base + index]));")
        }
        if results.isEmpty { emit("return;") } else { emit("return ", stack[base].expr, ";") }
    }

    mutating func becomeDead() {
        dead = true
        deadDepth = 0
    }

    /// Leaves the stack of the innermost frame as its results, in their slots.
    mutating func resetStack(to frame: Frame, types: [ValueType]) {
        stack.removeLast(stack.count - frame.height)
        for type in types { pushSlot(type) }
    }

    mutating func enterBlock(_ kind: FrameKind, _ blockType: BlockType) {
        let signature = module.blockSignature(blockType)
        flushAll()
        let height = stack.count - signature.parameters.count
        var frame = Frame(kind: kind, label: newLabel(), height: height, parameters: signature.parameters, results: signature.results)
        frame.insideHandler = frames[frames.count - 1].insideHandler
        frames.append(frame)
        if kind == .loop { emitLabel(frame.label) }
    }

    mutating func emitLabel(_ label: Int) {
        // Other paths join here: what was checked on one of them is not known on the others.
        checkedAddressLocals.removeAll()
        out.append(UInt8(ascii: "L"))
        out.appendDecimal(UInt64(label))
        out.append(":;\n")
        if metering.enabled { meterLabel(label) }
    }

    mutating func endBlock() {
        if frames[frames.count - 1].kind == .function {
            if !dead {
                // A single result can be returned as an expression; several are evaluated in order.
                if type.results.count > 1 { flushAll() }
                emitReturn()
            }
            frames.removeLast()
            return
        }
        if !dead {
            flushAll()
            // The fallthrough results are already in their slots: heights match by construction.
            if let handler = frames[frames.count - 1].handler { emit("ctx->exec->handler = \(handler).prev;") }
        }
        if frames[frames.count - 1].kind == .legacyTry || frames[frames.count - 1].kind == .legacyCatch {
            endLegacyTry()
        }
        var frame = frames.removeLast()
        if frame.kind == .if && !frame.sawElse {
            // The false path of an if without else: its parameters are its results.
            emitLabel(frame.elseLabel)
        }
        dead = false
        if frame.kind != .loop && frame.branchedTo {
            if metering.enabled && Self.paysOnEntry(frame.kind) { meterPaidLabel(frame.label) }
            emitLabel(frame.label)
        }
        resetStack(to: frame, types: frame.results)
        frame.branchedTo = false
    }

    // MARK: - Instructions

    private mutating func lower(_ instruction: Instruction) throws(Unsupported) {
        if dead {
            switch instruction {
            case .block, .loop, .if, .tryTable:
                deadDepth += 1
                return
            case .end:
                if deadDepth > 0 {
                    deadDepth -= 1
                    return
                }
            case .else:
                if deadDepth > 0 { return }
            default:
                return
            }
        }
        switch instruction {
        case .unreachable:
            flushState()
            emit("TRAP(UNREACHABLE);")
            becomeDead()
        case .nop:
            break
        case .block(let blockType):
            enterBlock(.block, blockType)
        case .loop(let blockType):
            enterBlock(.loop, blockType)
        case .if(let blockType):
            let condition = pop()
            let signature = module.blockSignature(blockType)
            flushAll()
            let height = stack.count - signature.parameters.count
            var frame = Frame(kind: .if, label: newLabel(), height: height, parameters: signature.parameters, results: signature.results)
            frame.elseLabel = newLabel()
            frame.insideHandler = frames[frames.count - 1].insideHandler
            frames.append(frame)
            out.append("    if (!")
            arena.writeTruth(condition.expr, to: &out)
            out.append(") goto L")
            out.appendDecimal(UInt64(frame.elseLabel))
            out.append(";\n")
        case .else:
            var frame = frames[frames.count - 1]
            if !dead {
                flushAll()
                if metering.enabled { meterEdge(to: frame.label, unconditional: true) }
                emitGoto(frame.label)
                frame.branchedTo = true
            }
            dead = false
            frame.sawElse = true
            frames[frames.count - 1] = frame
            emitLabel(frame.elseLabel)
            resetStack(to: frame, types: frame.parameters)
        case .end:
            endBlock()
        case .br(let depth):
            flushAll()
            branch(to: depth, unconditional: true)
            becomeDead()
        case .brIf(let depth):
            let condition = pop()
            flushAll()
            out.append("    if ")
            arena.writeTruth(condition.expr, to: &out)
            out.append(" {\n")
            branch(to: depth)
            emit("}")
        case .brTable(let table):
            let index = pop()
            flushAll()
            emit("switch (", index.expr, ") {")
            for (value, depth) in table.labelIndices.enumerated() {
                emit("case \(value)u:")
                branch(to: depth)
            }
            emit("default:")
            branch(to: table.defaultIndex)
            emit("}")
            becomeDead()
        case .return:
            flushAll()
            emitReturn()
            becomeDead()
        case .call(let function):
            lowerCall(function: Int(function))
        case .callIndirect(let typeIndex, let tableIndex):
            lowerCallIndirect(typeIndex: Int(typeIndex), table: Int(tableIndex))
        case .returnCall(let function):
            lowerReturnCall(function: Int(function))
            becomeDead()
        case .returnCallIndirect(let typeIndex, let tableIndex):
            lowerCallIndirect(typeIndex: Int(typeIndex), table: Int(tableIndex), tail: true)
            becomeDead()
        case .returnCallRef(let typeIndex):
            lowerCallRef(typeIndex: Int(typeIndex), tail: true)
            becomeDead()
        case .drop:
            let operand = pop()
            // A dropped load may still trap: evaluate it into its slot (TCC discards a `(void)` load).
            if operand.readsState && !operand.isSlot {
                stack.append(operand)
                materialize(stack.count - 1)
                // An optimizer would delete the dead store and the load with it: KEEP uses it.
                emit("KEEP(", stack.removeLast().expr, ");")
            }
        case .select, .typedSelect:
            let condition = pop()
            let b = popSimpleIfTrapping()
            let a = popSimpleIfTrapping()
            push(a.type, .select(condition.expr, a.expr, b.expr), a, b, condition)
        case .localGet(let index):
            var local = operand(localTypes[Int(index)], .local(index))
            local.localMask = Operand.mask(of: index)
            push(local)
        case .localSet(let index):
            setLocal(index, pop())
        case .localTee(let index):
            let value = pop()
            setLocal(index, value)
            var local = operand(value.type, .local(index))
            local.localMask = Operand.mask(of: index)
            push(local)
        case .globalGet(let index):
            let type = module.globals[Int(index)].valueType
            push(operand(type, .global(index, type), readsState: true))
        case .globalSet(let index):
            let value = pop()
            flushState()
            let type = module.globals[Int(index)].valueType
            emitAssignment(arena.add(.global(index, type)), value.expr)
        case .load(let load, let memarg) where Self.isV128(load):
            lowerV128Load(load, memarg)
        case .store(.v128Store, let memarg):
            lowerV128Store(memarg)
        case .load(let load, let memarg) where AtomicAccess.isAtomic(load):
            try lowerAtomicLoad(load, memarg)
        case .store(let store, let memarg) where AtomicAccess.isAtomic(store):
            try lowerAtomicStore(store, memarg)
        case .load(let load, let memarg):
            try lowerLoad(load, memarg)
        case .store(let store, let memarg):
            try lowerStore(store, memarg)
        case .atomicFence:
            break  // one thread per memory: nothing to order
        case .memoryAtomicNotify(let memarg):
            lowerAtomicNotify(memarg)
        case .memoryAtomicWait32(let memarg):
            lowerAtomicWait(memarg, alignment: 2)
        case .memoryAtomicWait64(let memarg):
            lowerAtomicWait(memarg, alignment: 3)
        case .v128Const, .i8x16Shuffle, .simd, .simdLane, .simdMemLane:
            try lowerSIMD(instruction)
        case .memorySize(let memory):
            if isMemory64(memory) {
                push(.i64, "ctx->memories[\(memory)]->pages", readsState: true)
            } else {
                push(.i32, "(u32)ctx->memories[\(memory)]->pages", readsState: true)
            }
        case .memoryGrow(let memory):
            // The helper returns a u64 (-1 on failure): a 32-bit memory takes its low half.
            let delta = pop()
            flushState()
            let type: ValueType = isMemory64(memory) ? .i64 : .i32
            let result = resultSlot(type)
            emit("\(expression(result)) = \(type == .i32 ? "(u32)" : "")kiln_memory_grow(ctx, \(memory)u, \(expression(delta)));")
            pushSlot(type)
        case .i32Const(let value):
            push(operand(.i32, .i32(UInt32(bitPattern: value))))
        case .i64Const(let value):
            push(operand(.i64, .i64(UInt64(bitPattern: value))))
        case .f32Const(let value):
            push(operand(.f32, .f32(bits: value.bitPattern)))
        case .f64Const(let value):
            push(operand(.f64, .f64(bits: value.bitPattern)))
        case .refNull(let heapType):
            push(.ref(ReferenceType(isNullable: true, heapType: heapType)), "(void *)0")
        case .refIsNull:
            unary(.i32) { .isZero($0) }
        case .refFunc(let function):
            push(.ref(.funcRef), "ctx->funcs[\(function)]->ref")
        case .refAsNonNull:
            let reference = popSimple()
            flushState()
            emit("if (!", reference.expr, ") TRAP(NULL_REFERENCE);")
            stack.append(reference)
        case .brOnNull(let depth):
            let reference = popSimple()
            flushAll()
            emit("if (!", reference.expr, ") {")
            branch(to: depth)
            emit("}")
            stack.append(reference)
        case .brOnNonNull(let depth):
            // The reference goes to the label with the operands below it; on null it is dropped.
            let reference = popSimple()
            flushAll()
            emit("if (", reference.expr, ") {")
            stack.append(reference)
            branch(to: depth)
            stack.removeLast()
            emit("}")
        case .callRef(let typeIndex):
            lowerCallRef(typeIndex: Int(typeIndex))
        case .tryTable(let blockType, let clauses):
            lowerTryTable(blockType, clauses.catches)
        case .throw(let tag):
            lowerThrow(tag: Int(tag))
        case .throwRef:
            lowerThrowRef()
        case .i32Eqz, .i64Eqz:
            unary(.i32) { .isZero($0) }
        case .cmp(let cmp):
            lowerCompare(cmp)
        case .unary(let op):
            lowerUnary(op)
        case .binary(let op):
            lowerBinary(op)
        case .conversion(let op):
            lowerConversion(op)
        case .memoryInit(let data, let memory):
            runtimeCall("kiln_memory_init(ctx, \(memory)u, \(data)u", operands: 3)
        case .dataDrop(let data):
            emit("ctx->data[\(data)].length = 0;")
        case .memoryCopy(let destination, let source):
            runtimeCall("kiln_memory_copy(ctx, \(destination)u, \(source)u", operands: 3)
        case .memoryFill(let memory):
            runtimeCall("kiln_memory_fill(ctx, \(memory)u", operands: 3)
        case .tableInit(let element, let table):
            runtimeCall("kiln_table_init(ctx, \(table)u, \(element)u", operands: 3)
        case .elemDrop(let element):
            emit("ctx->elems[\(element)].length = 0;")
        case .tableCopy(let destination, let source):
            runtimeCall("kiln_table_copy(ctx, \(destination)u, \(source)u", operands: 3)
        case .tableFill(let table):
            runtimeCall("kiln_table_fill(ctx, \(table)u", operands: 3)
        case .tableGet(let table):
            let index = pop()
            flushState()
            let type = ValueType.ref(module.tables[Int(table)].elementType)
            let result = resultSlot(type)
            emit("\(expression(result)) = kiln_table_get(ctx, \(table)u, \(expression(index)));")
            pushSlot(type)
        case .tableSet(let table):
            runtimeCall("kiln_table_set(ctx, \(table)u", operands: 2)
        case .tableGrow(let table):
            let delta = pop()
            let initial = pop()
            flushState()
            let type: ValueType = isTable64(table) ? .i64 : .i32
            let result = resultSlot(type)
            emit("\(expression(result)) = \(type == .i32 ? "(u32)" : "")kiln_table_grow(ctx, \(table)u, \(expression(initial)), \(expression(delta)));")
            pushSlot(type)
        case .tableSize(let table):
            if isTable64(table) {
                push(.i64, "(u64)ctx->tables[\(table)]->size", readsState: true)
            } else {
                push(.i32, "ctx->tables[\(table)]->size", readsState: true)
            }
        case _ where Self.isGC(instruction):
            try lowerGC(instruction)
        default:
            guard let (operation, type, cType, memarg) = AtomicAccess.readModifyWrite(instruction) else {
                throw Unsupported(reason: "instruction \(instruction)")
            }
            lowerAtomicReadModifyWrite(operation, type, cType: cType, memarg)
        }
    }

    /// `local.set`: readers of the local's old value evaluated first, then the assignment.
    private mutating func setLocal(_ index: UInt32, _ value: Operand) {
        flushReaders(ofLocal: index)
        if !checkedAddressLocals.isEmpty { checkedAddressLocals.remove(CSyntax.local(Int(index))) }
        if case .local(index) = arena[value.expr] { return }
        out.append("    l")
        out.appendDecimal(UInt64(index))
        out.append(" = ")
        arena.write(value.expr, to: &out)
        out.append(";\n")
    }

    /// Pops an operand, evaluating it first if it may trap: `select` evaluates both arms in Wasm,
    /// but C's `?:` evaluates only one.
    private mutating func popSimpleIfTrapping() -> Operand {
        if stack[stack.count - 1].readsState { return popSimple() }
        return pop()
    }

    /// A runtime call with no result whose last `operands` arguments come from the stack.
    private mutating func runtimeCall(_ prefix: String, operands: Int) {
        let arguments = stack.suffix(operands).map(expression)
        stack.removeLast(operands)
        flushState()
        emit(prefix + ", " + arguments.joined(separator: ", ") + ");")
    }

    private mutating func lowerCall(function: Int) {
        let calleeType = module.functionType(of: UInt32(function))
        makesCalls = true
        let arguments = stack.suffix(calleeType.parameters.count).map(\.expr)
        stack.removeLast(calleeType.parameters.count)
        flushAll()
        let pointerType = functionPointerType(Int(module.functionTypes[function]))
        if function < module.importedFunctionCount {
            emit("{ kiln_funcref *callee = ctx->funcs[\(function)];")
            emitCall(calleeType, callee: "((\(pointerType))callee->code)", context: "callee->ctx", arguments: arguments)
            emit("}")
        } else {
            // Through the module's code table: whatever code the slot holds now.
            let slot = "CODE_SLOT(\(function - module.importedFunctionCount))"
            emitCall(calleeType, callee: "((\(pointerType))\(slot))", context: "ctx", arguments: arguments)
        }
    }

    /// The C function pointer type of a call to a function of this type (declared by the batch).
    private mutating func functionPointerType(_ typeIndex: Int) -> String {
        calledTypes.insert(typeIndex)
        return CSyntax.functionPointerType(typeIndex)
    }

    /// `r0 = callee(context, args..., &r1, ...)` with the results landing in the slots above the
    /// current stack.
    private mutating func emitCall(_ calleeType: FunctionType, callee: String, context: String, arguments: [Expr]) {
        let base = stack.count
        out.append("    ")
        if let first = calleeType.results.first {
            let target = slot(base, first)  // before the arena is read: it may grow the arena
            arena.write(target, to: &out)
            out.append(" = ")
        }
        out.append(contentsOf: callee.utf8)
        out.append(UInt8(ascii: "("))
        out.append(contentsOf: context.utf8)
        for argument in arguments {
            out.append(", ")
            arena.write(argument, to: &out)
        }
        for (index, result) in calleeType.results.enumerated().dropFirst() {
            out.append(", &")
            let target = slot(base + index, result)
            arena.write(target, to: &out)
        }
        out.append(");\n")
        for result in calleeType.results { pushSlot(result) }
    }

    private mutating func lowerCallIndirect(typeIndex: Int, table: Int, tail: Bool = false) {
        let calleeType = module.types[typeIndex]
        makesCalls = true
        let index = pop()
        flushAll()
        let arguments = stack.suffix(calleeType.parameters.count).map(\.expr)
        stack.removeLast(calleeType.parameters.count)
        let elementType = isTable64(UInt32(table)) ? "u64" : "u32"
        emit("{ \(elementType) element = \(expression(index)); kiln_table *table = ctx->tables[\(table)]; kiln_funcref *entry;")
        emit("if (element >= table->size) TRAP(UNDEFINED_ELEMENT);")
        emit("entry = &table->elems[element];")
        emit("if \(signatureMismatch(typeIndex: typeIndex, sig: "entry->sig", record: "entry->ref")) { if (!entry->ref) TRAP(UNINITIALIZED_ELEMENT); TRAP(INDIRECT_MISMATCH); }")
        if tail {
            emitTailCall(calleeType, function: "((kiln_function *)entry->ref)", context: "entry->ctx", arguments: arguments)
        } else {
            emitCall(calleeType, callee: "((\(functionPointerType(typeIndex)))entry->code)", context: "entry->ctx", arguments: arguments)
        }
        emit("}")
    }

    /// `call_ref`: the operand is a function's canonical record. Validation guarantees its type;
    /// the signature is checked anyway (one compare), so that a reference of another type that
    /// came in through the embedding API traps instead of being called with the wrong arguments.
    private mutating func lowerCallRef(typeIndex: Int, tail: Bool = false) {
        let calleeType = module.types[typeIndex]
        makesCalls = true
        let reference = pop()
        flushAll()
        let arguments = stack.suffix(calleeType.parameters.count).map(\.expr)
        stack.removeLast(calleeType.parameters.count)
        emit("{ kiln_funcref *callee = (kiln_funcref *)(", reference.expr, ");")
        emit("if (!callee) TRAP(NULL_FUNCTION_REFERENCE);")
        emit("if \(signatureMismatch(typeIndex: typeIndex, sig: "callee->sig", record: "callee->ref")) TRAP(INDIRECT_MISMATCH);")
        if tail {
            emitTailCall(calleeType, function: "((kiln_function *)callee)", context: "callee->ctx", arguments: arguments)
        } else {
            emitCall(calleeType, callee: "((\(functionPointerType(typeIndex)))callee->code)", context: "callee->ctx", arguments: arguments)
        }
        emit("}")
    }

    // MARK: - Memory

    mutating func lowerLoad(_ load: Instruction.Load, _ memarg: MemArg) throws(Unsupported) {
        let (result, cType, convert): (ValueType, StaticString, StaticString) =
            switch load {
            case .i32Load: (.i32, "u32", "")
            case .i64Load: (.i64, "u64", "")
            case .f32Load: (.f32, "f32", "")
            case .f64Load: (.f64, "f64", "")
            case .i32Load8S: (.i32, "s8", "(u32)(s32)")
            case .i32Load8U: (.i32, "u8", "(u32)")
            case .i32Load16S: (.i32, "s16", "(u32)(s32)")
            case .i32Load16U: (.i32, "u16", "(u32)")
            case .i64Load8S: (.i64, "s8", "(u64)(s64)")
            case .i64Load8U: (.i64, "u8", "(u64)")
            case .i64Load16S: (.i64, "s16", "(u64)(s64)")
            case .i64Load16U: (.i64, "u16", "(u64)")
            case .i64Load32S: (.i64, "s32", "(u64)(s64)")
            case .i64Load32U: (.i64, "u32", "(u64)")
            default: throw Unsupported(reason: "load \(load)")
            }
        let (access, address) = popAccess(memarg)
        push(result, loadNode(access, cType, convert: convert), readsState: true, address)
    }

    mutating func lowerStore(_ store: Instruction.Store, _ memarg: MemArg) throws(Unsupported) {
        let cType: StaticString =
            switch store {
            case .i32Store: "u32"
            case .i64Store: "u64"
            case .f32Store: "f32"
            case .f64Store: "f64"
            case .i32Store8, .i64Store8: "u8"
            case .i32Store16, .i64Store16: "u16"
            case .i64Store32: "u32"
            default: throw Unsupported(reason: "store \(store)")
            }
        let value = pop()
        let (access, _) = popAccess(memarg)
        flushState()
        emitStore(access, cType, value.expr)
    }

    // MARK: - Numbers

    private mutating func lowerCompare(_ cmp: Instruction.Cmp) {
        let (op, cast): (StaticString, StaticString) =
            switch cmp {
            case .i32Eq, .i64Eq, .f32Eq, .f64Eq: (" == ", "")
            case .i32Ne, .i64Ne, .f32Ne, .f64Ne: (" != ", "")
            case .i32LtS: (" < ", "(s32)")
            case .i32LtU, .i64LtU, .f32Lt, .f64Lt: (" < ", "")
            case .i32GtS: (" > ", "(s32)")
            case .i32GtU, .i64GtU, .f32Gt, .f64Gt: (" > ", "")
            case .i32LeS: (" <= ", "(s32)")
            case .i32LeU, .i64LeU, .f32Le, .f64Le: (" <= ", "")
            case .i32GeS: (" >= ", "(s32)")
            case .i32GeU, .i64GeU, .f32Ge, .f64Ge: (" >= ", "")
            case .i64LtS: (" < ", "(s64)")
            case .i64GtS: (" > ", "(s64)")
            case .i64LeS: (" <= ", "(s64)")
            case .i64GeS: (" >= ", "(s64)")
            }
        binary(.i32) { .compare(op: op, cast: cast, $0, $1) }
    }

    private mutating func lowerUnary(_ op: Instruction.Unary) {
        switch op {
        case .i32Clz: unary(.i32) { .call(.numeric(.kiln_i32_clz), $0) }
        case .i32Ctz: unary(.i32) { .call(.numeric(.kiln_i32_ctz), $0) }
        case .i32Popcnt: unary(.i32) { .call(.numeric(.kiln_i32_popcnt), $0) }
        case .i64Clz: unary(.i64) { .call(.numeric(.kiln_i64_clz), $0) }
        case .i64Ctz: unary(.i64) { .call(.numeric(.kiln_i64_ctz), $0) }
        case .i64Popcnt: unary(.i64) { .call(.numeric(.kiln_i64_popcnt), $0) }
        case .f32Abs: unary(.f32) { .wrap("F32_ABS(", $0) }
        case .f32Neg: unary(.f32) { .wrap("F32_NEG(", $0) }
        case .f32Ceil: unary(.f32) { .call(.numeric(.kiln_f32_ceil), $0) }
        case .f32Floor: unary(.f32) { .call(.numeric(.kiln_f32_floor), $0) }
        case .f32Trunc: unary(.f32) { .call(.numeric(.kiln_f32_trunc), $0) }
        case .f32Nearest: unary(.f32) { .call(.numeric(.kiln_f32_nearest), $0) }
        case .f32Sqrt: unary(.f32) { .call(.numeric(.kiln_f32_sqrt), $0) }
        case .f64Abs: unary(.f64) { .wrap("F64_ABS(", $0) }
        case .f64Neg: unary(.f64) { .wrap("F64_NEG(", $0) }
        case .f64Ceil: unary(.f64) { .call(.numeric(.kiln_f64_ceil), $0) }
        case .f64Floor: unary(.f64) { .call(.numeric(.kiln_f64_floor), $0) }
        case .f64Trunc: unary(.f64) { .call(.numeric(.kiln_f64_trunc), $0) }
        case .f64Nearest: unary(.f64) { .call(.numeric(.kiln_f64_nearest), $0) }
        case .f64Sqrt: unary(.f64) { .call(.numeric(.kiln_f64_sqrt), $0) }
        case .i32Extend8S: unary(.i32) { .wrap("(u32)(s32)(s8)(", $0) }
        case .i32Extend16S: unary(.i32) { .wrap("(u32)(s32)(s16)(", $0) }
        case .i64Extend8S: unary(.i64) { .wrap("(u64)(s64)(s8)(", $0) }
        case .i64Extend16S: unary(.i64) { .wrap("(u64)(s64)(s16)(", $0) }
        case .i64Extend32S: unary(.i64) { .wrap("(u64)(s64)(s32)(", $0) }
        }
    }

    private mutating func lowerBinary(_ op: Instruction.Binary) {
        switch op {
        case .i32Add: binary(.i32) { .binary(" + ", $0, $1) }
        case .i32Sub: binary(.i32) { .binary(" - ", $0, $1) }
        case .i32Mul: binary(.i32) { .binary(" * ", $0, $1) }
        case .i32And: binary(.i32) { .binary(" & ", $0, $1) }
        case .i32Or: binary(.i32) { .binary(" | ", $0, $1) }
        case .i32Xor: binary(.i32) { .binary(" ^ ", $0, $1) }
        case .i32Shl: binary(.i32) { .shift(.shl32, $0, $1) }
        case .i32ShrS: binary(.i32) { .shift(.shrS32, $0, $1) }
        case .i32ShrU: binary(.i32) { .shift(.shrU32, $0, $1) }
        case .i32Rotl: binaryTwice(.i32) { .macro2("I32_ROTL", $0, $1) }
        case .i32Rotr: binaryTwice(.i32) { .macro2("I32_ROTR", $0, $1) }
        case .i64Add: binary(.i64) { .binary(" + ", $0, $1) }
        case .i64Sub: binary(.i64) { .binary(" - ", $0, $1) }
        case .i64Mul: binary(.i64) { .binary(" * ", $0, $1) }
        case .i64And: binary(.i64) { .binary(" & ", $0, $1) }
        case .i64Or: binary(.i64) { .binary(" | ", $0, $1) }
        case .i64Xor: binary(.i64) { .binary(" ^ ", $0, $1) }
        case .i64Shl: binary(.i64) { .shift(.shl64, $0, $1) }
        case .i64ShrS: binary(.i64) { .shift(.shrS64, $0, $1) }
        case .i64ShrU: binary(.i64) { .shift(.shrU64, $0, $1) }
        case .i64Rotl: binaryTwice(.i64) { .macro2("I64_ROTL", $0, $1) }
        case .i64Rotr: binaryTwice(.i64) { .macro2("I64_ROTR", $0, $1) }
        case .i32DivS: division(.i32, signed: true, remainder: false)
        case .i32DivU: division(.i32, signed: false, remainder: false)
        case .i32RemS: division(.i32, signed: true, remainder: true)
        case .i32RemU: division(.i32, signed: false, remainder: true)
        case .i64DivS: division(.i64, signed: true, remainder: false)
        case .i64DivU: division(.i64, signed: false, remainder: false)
        case .i64RemS: division(.i64, signed: true, remainder: true)
        case .i64RemU: division(.i64, signed: false, remainder: true)
        case .f32Add: binary(.f32) { .binary(" + ", $0, $1) }
        case .f32Sub: binary(.f32) { .binary(" - ", $0, $1) }
        case .f32Mul: binary(.f32) { .binary(" * ", $0, $1) }
        case .f32Div: binary(.f32) { .binary(" / ", $0, $1) }
        case .f32Min: binary(.f32) { .call2(.numeric(.kiln_f32_min), $0, $1) }
        case .f32Max: binary(.f32) { .call2(.numeric(.kiln_f32_max), $0, $1) }
        case .f32Copysign: binary(.f32) { .macro2("F32_COPYSIGN", $0, $1) }
        case .f64Add: binary(.f64) { .binary(" + ", $0, $1) }
        case .f64Sub: binary(.f64) { .binary(" - ", $0, $1) }
        case .f64Mul: binary(.f64) { .binary(" * ", $0, $1) }
        case .f64Div: binary(.f64) { .binary(" / ", $0, $1) }
        case .f64Min: binary(.f64) { .call2(.numeric(.kiln_f64_min), $0, $1) }
        case .f64Max: binary(.f64) { .call2(.numeric(.kiln_f64_max), $0, $1) }
        case .f64Copysign: binary(.f64) { .macro2("F64_COPYSIGN", $0, $1) }
        }
    }

    /// A binary operation whose macro uses its operands more than once.
    private mutating func binaryTwice(_ result: ValueType, _ make: (Expr, Expr) -> ExprNode) {
        let b = popSimple()
        let a = popSimple()
        push(result, make(a.expr, b.expr), a, b)
    }

    /// Integer division and remainder with their traps, as statements.
    private mutating func division(_ type: ValueType, signed: Bool, remainder: Bool) {
        let divisor = popSimple()
        let dividend = popSimple()
        flushState()
        let wide = type == .i64
        let s = wide ? "s64" : "s32"
        let u = wide ? "u64" : "u32"
        let allOnes = wide ? "0xffffffffffffffffull" : "0xffffffffu"
        let minimum = wide ? "0x8000000000000000ull" : "0x80000000u"
        let constantDivisor = arena.integerConstant(divisor.expr)
        let (a, b) = (expression(dividend), expression(divisor))
        if constantDivisor == nil || constantDivisor == 0 {
            emit("if (\(b) == 0) TRAP(DIV_ZERO);")
        }
        let resultExpr = resultSlot(type)
        let result = expression(resultExpr)
        let mayBeMinusOne = constantDivisor == nil || constantDivisor == (wide ? UInt64.max : UInt64(UInt32.max))
        if signed && !remainder && mayBeMinusOne {
            emit("if (\(b) == \(allOnes) && \(a) == \(minimum)) TRAP(INT_OVERFLOW);")
        }
        let op = remainder ? "%" : "/"
        if signed && remainder && mayBeMinusOne {
            emit("\(result) = \(b) == \(allOnes) ? 0 : (\(u))((\(s))\(a) % (\(s))\(b));")
        } else if signed {
            emit("\(result) = (\(u))((\(s))\(a) \(op) (\(s))\(b));")
        } else {
            emit("\(result) = \(a) \(op) \(b);")
        }
        pushSlot(type)
    }

    private mutating func lowerConversion(_ op: Instruction.Conversion) {
        switch op {
        case .i32WrapI64: unary(.i32) { .wrap("(u32)(", $0) }
        case .i64ExtendI32S: unary(.i64) { .wrap("(u64)(s64)(s32)(", $0) }
        case .i64ExtendI32U: unary(.i64) { .wrap("(u64)(", $0) }
        case .i32TruncF32S: trappingConversion(.i32, .kiln_i32_trunc_f32_s)
        case .i32TruncF32U: trappingConversion(.i32, .kiln_i32_trunc_f32_u)
        case .i32TruncF64S: trappingConversion(.i32, .kiln_i32_trunc_f64_s)
        case .i32TruncF64U: trappingConversion(.i32, .kiln_i32_trunc_f64_u)
        case .i64TruncF32S: trappingConversion(.i64, .kiln_i64_trunc_f32_s)
        case .i64TruncF32U: trappingConversion(.i64, .kiln_i64_trunc_f32_u)
        case .i64TruncF64S: trappingConversion(.i64, .kiln_i64_trunc_f64_s)
        case .i64TruncF64U: trappingConversion(.i64, .kiln_i64_trunc_f64_u)
        case .i32TruncSatF32S: unary(.i32) { .call(.numeric(.kiln_i32_trunc_sat_f32_s), $0) }
        case .i32TruncSatF32U: unary(.i32) { .call(.numeric(.kiln_i32_trunc_sat_f32_u), $0) }
        case .i32TruncSatF64S: unary(.i32) { .call(.numeric(.kiln_i32_trunc_sat_f64_s), $0) }
        case .i32TruncSatF64U: unary(.i32) { .call(.numeric(.kiln_i32_trunc_sat_f64_u), $0) }
        case .i64TruncSatF32S: unary(.i64) { .call(.numeric(.kiln_i64_trunc_sat_f32_s), $0) }
        case .i64TruncSatF32U: unary(.i64) { .call(.numeric(.kiln_i64_trunc_sat_f32_u), $0) }
        case .i64TruncSatF64S: unary(.i64) { .call(.numeric(.kiln_i64_trunc_sat_f64_s), $0) }
        case .i64TruncSatF64U: unary(.i64) { .call(.numeric(.kiln_i64_trunc_sat_f64_u), $0) }
        case .f32ConvertI32S: unary(.f32) { .wrap("(f32)(s32)(", $0) }
        case .f32ConvertI32U: unary(.f32) { .wrap("(f32)(s64)(u64)(", $0) }
        case .f32ConvertI64S: unary(.f32) { .wrap("(f32)(s64)(", $0) }
        case .f32ConvertI64U: unary(.f32) { .call(.numeric(.kiln_f32_convert_u64), $0) }
        case .f32DemoteF64: unary(.f32) { .wrap("(f32)(", $0) }
        case .f64ConvertI32S: unary(.f64) { .wrap("(f64)(s32)(", $0) }
        case .f64ConvertI32U: unary(.f64) { .wrap("(f64)(s64)(u64)(", $0) }
        case .f64ConvertI64S: unary(.f64) { .wrap("(f64)(s64)(", $0) }
        case .f64ConvertI64U: unary(.f64) { .call(.numeric(.kiln_f64_convert_u64), $0) }
        case .f64PromoteF32: unary(.f64) { .wrap("F64_PROMOTE(", $0) }
        case .i32ReinterpretF32: unary(.i32) { .wrap("F32_BITS(", $0) }
        case .i64ReinterpretF64: unary(.i64) { .wrap("F64_BITS(", $0) }
        case .f32ReinterpretI32: unary(.f32) { .wrap("BITS_F32(", $0) }
        case .f64ReinterpretI64: unary(.f64) { .wrap("BITS_F64(", $0) }
        }
    }

    private mutating func trappingConversion(_ result: ValueType, _ helper: RuntimeHelper.Trapping) {
        let value = pop()
        flushState()
        let target = resultSlot(result)
        emit("\(expression(target)) = \(helper.rawValue)(ctx, \(expression(value)));")
        pushSlot(result)
    }
}
