import WasmParser
import WasmTypes

/// Memory accesses of every memory (multi-memory) and address type (memory64).
///
/// Each memory a function uses has its base cached in a C local (`M0`, `M1`, ...) read once at
/// entry: a base never moves, because the whole range is reserved up front. An access is a plain
/// dereference (`LOAD`, `STORE`, `ADDR`) of base + 32-bit address + offset whose bounds the guard
/// pages check.
///
/// A 64-bit memory (memory64) holds at most 4 GiB as well, so its accesses are the same once the
/// address's high half is known to be zero: a statement `CHECK_ADDR64(address);` (one shift, test
/// and branch) traps otherwise. It is emitted where the access is lowered; the access itself may
/// be evaluated later (folded into an expression), but nothing with an effect comes between
/// (effects evaluate pending loads first), and any load the check overtakes could only trap the
/// same way. A local once checked is not checked again until it is written or a label is
/// reached (`checkedAddressLocals`): straight-line code after the check is dominated by it.
/// An offset of 4 GiB or more is out of bounds whatever the address: the access is made at
/// 4 GiB, inside the reservation and never accessible, and faults into the same trap.
extension FunctionLowering {
    /// The C pieces of one access.
    struct MemoryAccess {
        var base: String
        var address: String
        var offset: UInt64

        func load(_ cType: String) -> String { "LOAD(\(base), \(address), \(offset), \(cType))" }
        func store(_ cType: String, _ value: String) -> String { "STORE(\(base), \(address), \(offset), \(cType), \(value))" }
        /// The accessed address as a `u8 *`, for helpers that do the access.
        var pointer: String { "ADDR(\(base), \(address), \(offset))" }
    }

    func isMemory64(_ memory: UInt32) -> Bool { module.memories[Int(memory)].isMemory64 }
    func isTable64(_ table: UInt32) -> Bool { module.tables[Int(table)].limits.isMemory64 }

    /// The C local holding the base of `memory`, declared at the function's entry.
    mutating func memoryBase(_ memory: UInt32) -> String {
        memoriesUsed.insert(memory)
        return CSyntax.memoryBase(memory)
    }

    /// The declarations of the bases the function uses.
    func memoryBaseDeclarations() -> String {
        var text = ""
        for memory in memoriesUsed.sorted() {
            // Memory 0's base is cached in the instance itself: one load fewer.
            let source = memory == 0 ? "ctx->mem0" : "ctx->memories[\(memory)]->base"
            text += "    u8 *\(CSyntax.memoryBase(memory)) = \(source);\n"
        }
        return text
    }

    /// Pops the address operand of an access through `memarg`. The operand is returned for its
    /// dependencies (locals and slots it reads).
    mutating func popAccess(_ memarg: MemArg) -> (access: MemoryAccess, address: Operand) {
        let base = memoryBase(memarg.memory)
        guard isMemory64(memarg.memory) else {
            let address = pop()
            return (MemoryAccess(base: base, address: address.expression, offset: memarg.offset), address)
        }
        if memarg.offset > UInt64(UInt32.max) {
            // Out of bounds whatever the address (memories hold at most 4 GiB): an access at
            // 4 GiB faults into the trap. The address is not evaluated: it cannot trap otherwise
            // (a load in it would trap the same way), and it has no other effect.
            let address = pop()
            return (MemoryAccess(base: base, address: "0u", offset: 1 << 32), address)
        }
        // The address is read by the check and by the access: a local, slot or constant.
        let address = popSimple()
        let expression = address.expression
        if let constant = Self.integerLiteral(expression) {
            if constant > UInt64(UInt32.max) { return (MemoryAccess(base: base, address: "0u", offset: 1 << 32), address) }
        } else if !checkedAddressLocals.contains(expression) {
            emitAddressCheck(expression)
            // Slots are written in too many places to track; locals only by local.set/tee.
            if !address.isSlot { checkedAddressLocals.insert(expression) }
        }
        return (MemoryAccess(base: base, address: expression, offset: memarg.offset), address)
    }

    /// The value of an integer literal as CSyntax writes it (`12u`, `12ull`); nil for anything else.
    static func integerLiteral(_ expression: String) -> UInt64? {
        let digits = expression.prefix { $0.isNumber }
        guard !digits.isEmpty, expression.dropFirst(digits.count).allSatisfy({ $0 == "u" || $0 == "l" }) else { return nil }
        return UInt64(digits)
    }
}
