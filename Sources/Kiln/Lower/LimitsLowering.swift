import WasmParser

/// What of the engine's configuration changes the generated code.
struct LoweringOptions: Sendable, Equatable {
    var consumeFuel = false
    var epochInterruption = false
}

/// Fuel metering and epoch checks of one function (the `FunctionLowering` extension below).
///
/// Fuel is charged per straight-line region, before the region runs: a region starts at the
/// function's entry, at every label (loop headers, block ends that are branched to, `else`, catch
/// landings) and after every instruction that may branch away (`if`, `br_if`, `br_on_null`,
/// `br_on_non_null`); it ends at the next such point, or at an unconditional transfer (`br`,
/// `br_table`, `return`, `unreachable`, `throw`, `return_call*`), after which code runs only from a
/// label. The end label of a block or `if` is paid on the way in: a region that falls or jumps
/// (`br`, the jump at `else`) into it pays for the label's region too, and a conditional edge into
/// it (`br_if`, `br_table`, `br_on_*`, a catch clause) charges it on the edge; so a path executes
/// no more charges than with a charge at the label, and a path that falls or jumps in saves one.
/// So the charge equals the instructions that run, except when a region is left by a trap or an
/// exception: the whole region, with the block ends it reaches unconditionally, has then been
/// charged. Costs (wasmtime's): `nop`, `drop`,
/// `block`, `loop`, `try_table`, `try`, `catch`, `end`, `else`, `unreachable` and `return` cost 0,
/// every other instruction 1. Bulk operations also pay for their size, before they run:
/// `memory.fill`, `memory.copy` and `memory.init` one unit per 64 bytes (rounded down),
/// `table.fill`, `table.copy` and `table.init` one unit per element. Everything is decided at
/// compile time from the instructions, so a call's consumption depends only on the path it takes.
struct Metering {
    var options = LoweringOptions()
    /// The cost of each region so far; regions are numbered as they start.
    var costs: [Int] = []
    /// The region instructions are charged to; nil where no code runs until the next label.
    var current: Int?
    /// Labels paid on the way in (block and `if` ends, whose every arrival the lowering sees):
    /// their region's cost goes to the regions that fall or jump into them unconditionally, and
    /// to a charge on each conditional edge (`br_if`, `br_table`, `br_on_*`), instead of a charge
    /// at the label. A charge is never executed more often than a charge at the label would be,
    /// and a path that falls or jumps into the label saves one.
    var paidOnEntry: [Int: Int] = [:]  // label -> its region
    /// Labels each region reaches unconditionally (fall-through, `br`, the jump at `else`).
    var entries: [Int: [Int]] = [:]
    /// The function has a loop: its charges go through a pointer to the fuel counter that the
    /// entry computes once (FUEL_P, two instructions fewer per charge in TCC's code), which pays
    /// off when charges repeat; a function without loops charges through `ctx` (FUEL). Its loop
    /// headers' epoch checks likewise test the stop flag through a pointer (EPOCH_CHECK_P).
    var hasLoop = false

    init() {}
    init(options: LoweringOptions) { self.options = options }

    var enabled: Bool { options.consumeFuel || options.epochInterruption }

    /// What a placeholder for region `index` looks like in the C text: control characters that
    /// nothing else generated contains.
    static func placeholder(_ index: Int) -> String { "\u{1}\(index)\u{2}" }
    /// The charge of a conditional edge into `label`.
    static func edgePlaceholder(_ label: Int) -> String { "\u{3}\(label)\u{2}" }

    /// A region's charge: its instructions and those of the labels paid on entry it reaches
    /// unconditionally (forward labels only, so the recursion ends).
    func charge(_ region: Int, _ memo: inout [Int: Int]) -> Int {
        if let known = memo[region] { return known }
        var total = costs[region]
        for label in entries[region] ?? [] {
            if let target = paidOnEntry[label] { total += charge(target, &memo) }
        }
        memo[region] = total
        return total
    }

    /// Cost of one instruction, as documented above.
    static func cost(_ instruction: BodyInstruction) -> Int {
        switch instruction {
        case .standard(let instruction):
            switch instruction {
            case .nop, .drop, .block, .loop, .tryTable, .end, .else, .unreachable, .return: return 0
            default: return 1
            }
        case .legacyTry, .legacyCatch, .legacyCatchAll, .legacyDelegate: return 0
        case .legacyRethrow: return 1
        }
    }

    enum Flow { case straight, conditional, unconditional }

    static func flow(_ instruction: BodyInstruction) -> Flow {
        switch instruction {
        case .standard(let instruction):
            switch instruction {
            case .if, .brIf, .brOnNull, .brOnNonNull, .brOnCast, .brOnCastFail: return .conditional
            case .br, .brTable, .return, .unreachable, .throw, .throwRef, .returnCall,
                .returnCallIndirect, .returnCallRef:
                return .unconditional
            default: return .straight
            }
        case .legacyCatch, .legacyCatchAll: return .conditional
        case .legacyRethrow: return .unconditional
        case .legacyTry, .legacyDelegate: return .straight
        }
    }

    /// The declarations the function's entry needs.
    var entryDeclarations: String {
        guard hasLoop else { return "" }
        var text = ""
        if options.consumeFuel { text += "    " + CSyntax.fuelPointerDeclaration + "\n" }
        if options.epochInterruption { text += "    " + CSyntax.stopPointerDeclaration + "\n" }
        return text
    }

    /// Replaces every placeholder by its region's charge (or nothing for a free region).
    func finish(_ text: [UInt8]) -> [UInt8] {
        guard options.consumeFuel else { return text }
        var result: [UInt8] = []
        result.reserveCapacity(text.count + costs.count * 8)
        let paidRegions = Set(paidOnEntry.values)
        var memo: [Int: Int] = [:]
        var iterator = text.makeIterator()
        while let byte = iterator.next() {
            guard byte == 1 || byte == 3 else {
                result.append(byte)
                continue
            }
            var index = 0
            while let digit = iterator.next(), digit != 2 { index = index * 10 + Int(digit - 48) }
            let cost: Int
            if byte == 1 {
                cost = paidRegions.contains(index) ? 0 : charge(index, &memo)
            } else {
                cost = paidOnEntry[index].map { charge($0, &memo) } ?? 0
            }
            if cost > 0 { result.append(contentsOf: Array((hasLoop ? "FUEL_P(\(cost));" : "FUEL(\(cost));").utf8)) }
        }
        return result
    }
}

extension FunctionLowering {
    /// At function entry: the entry region. The entry's epoch check is decided at the end
    /// (`lower()`): every execution that runs without bound passes a loop header or a call, so
    /// loop headers check, a function that calls others checks in its stack check
    /// (STACK_CHECK_EPOCH, which a stop fails), one that makes tail calls checks explicitly (a
    /// tail call reuses the frame without a stack check), and one that calls nothing runs a
    /// bounded number of instructions between loop headers and needs no entry check.
    mutating func beginMetering() {
        guard metering.enabled else { return }
        startRegion()
    }

    private mutating func startRegion() {
        guard metering.options.consumeFuel else { return }
        metering.current = metering.costs.count
        metering.costs.append(0)
        emit(Metering.placeholder(metering.costs.count - 1))
    }

    /// A branch to `label` (not a loop header) is about to jump: an unconditional one makes the
    /// current region pay for the label's region; a conditional one gets a charge of its own.
    mutating func meterEdge(to label: Int, unconditional: Bool) {
        guard metering.options.consumeFuel else { return }
        if unconditional, let current = metering.current {
            metering.entries[current, default: []].append(label)
        } else {
            emit(Metering.edgePlaceholder(label))
        }
    }

    /// The end label of a block or `if` is about to be emitted (every arrival was metered with
    /// meterEdge): it is paid on entry; a live region before it falls into it.
    mutating func meterPaidLabel(_ label: Int) {
        guard metering.options.consumeFuel else { return }
        if let current = metering.current { metering.entries[current, default: []].append(label) }
        metering.paidOnEntry[label] = metering.costs.count  // the region meterLabel starts next
    }

    /// A label was just emitted: a region starts; a loop header also checks the epoch.
    mutating func meterLabel(_ label: Int) {
        if let frame = frames.last, frame.kind == .loop, frame.label == label {
            metering.hasLoop = true
            if metering.options.epochInterruption { emit("EPOCH_CHECK_P") }
        }
        startRegion()
    }

    /// Before a live instruction is lowered: its cost goes to the current region, and a bulk
    /// operation's size-dependent charge is emitted.
    mutating func meterInstruction(_ instruction: BodyInstruction) {
        guard metering.options.consumeFuel else { return }
        if let current = metering.current { metering.costs[current] += Metering.cost(instruction) }
        guard case .standard(let standard) = instruction else { return }
        let shift: Int
        switch standard {
        case .memoryFill, .memoryCopy, .memoryInit: shift = 6
        case .tableFill, .tableCopy, .tableInit: shift = 0
        // GC arrays: the element count (allocations and bulk operations), one unit per 8.
        case .arrayFill, .arrayCopy, .arrayInitData, .arrayInitElem, .arrayNew, .arrayNewDefault, .arrayNewData, .arrayNewElem: shift = 3
        default: return
        }
        // The size is the top operand: evaluated once into its slot, after the operands below it
        // that read state (so the order of traps stays the instructions').
        flushState()
        materialize(stack.count - 1)
        let size = expression(stack[stack.count - 1])
        emit("kiln_fuel_charge(ctx, (u64)\(size)" + (shift > 0 ? " >> \(shift));" : ");"))
    }

    /// After a live instruction was lowered: a branch that may fall through starts a region, one
    /// that never does leaves no region until the next label.
    mutating func meterAfter(_ instruction: BodyInstruction) {
        guard metering.options.consumeFuel else { return }
        switch Metering.flow(instruction) {
        case .straight: break
        case .conditional: startRegion()
        case .unconditional: metering.current = nil
        }
    }
}
