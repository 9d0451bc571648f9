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
    /// The pieces of one access.
    struct MemoryAccess {
        var memory: UInt32
        var address: Expr
        var offset: UInt64
    }

    /// The access as a load expression of C type `cType`, converted to its value by `convert`.
    func loadNode(_ access: MemoryAccess, _ cType: StaticString, convert: StaticString = "") -> ExprNode {
        .load(convert: convert, cType: cType, memory: access.memory, address: access.address, offset: access.offset)
    }

    func loadText(_ access: MemoryAccess, _ cType: String) -> String {
        "LOAD(\(CSyntax.memoryBase(access.memory)), \(arena.text(access.address)), \(access.offset), \(cType))"
    }

    func storeText(_ access: MemoryAccess, _ cType: String, _ value: String) -> String {
        "STORE(\(CSyntax.memoryBase(access.memory)), \(arena.text(access.address)), \(access.offset), \(cType), \(value))"
    }

    /// `STORE(base, address, offset, cType, (cType)(value));` written straight into the output.
    mutating func emitStore(_ access: MemoryAccess, _ cType: StaticString, _ value: Expr) {
        out.append("    STORE(")
        CSyntax.writeMemoryBase(access.memory, to: &out)
        out.append(", ")
        arena.write(access.address, to: &out)
        out.append(", ")
        out.appendDecimal(access.offset)
        out.append(", ")
        out.append(cType)
        out.append(", (")
        out.append(cType)
        out.append(")(")
        arena.write(value, to: &out)
        out.append("));\n")
    }

    /// The accessed address as a `u8 *`, for helpers that do the access.
    func pointer(_ access: MemoryAccess) -> String {
        "ADDR(\(CSyntax.memoryBase(access.memory)), \(arena.text(access.address)), \(access.offset))"
    }

    func isMemory64(_ memory: UInt32) -> Bool { module.memories[Int(memory)].isMemory64 }
    func isTable64(_ table: UInt32) -> Bool { module.tables[Int(table)].limits.isMemory64 }

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
        let memory = memarg.memory
        memoriesUsed.insert(memory)
        guard isMemory64(memory) else {
            let address = pop()
            return (MemoryAccess(memory: memory, address: address.expr, offset: memarg.offset), address)
        }
        let beyond = MemoryAccess(memory: memory, address: arena.add(.i32(0)), offset: 1 << 32)
        if memarg.offset > UInt64(UInt32.max) {
            // Out of bounds whatever the address (memories hold at most 4 GiB): an access at
            // 4 GiB faults into the trap. The address is not evaluated: it cannot trap otherwise
            // (a load in it would trap the same way), and it has no other effect.
            return (beyond, pop())
        }
        // The address is read by the check and by the access: a local, slot or constant.
        let address = popSimple()
        if let constant = arena.integerConstant(address.expr) {
            if constant > UInt64(UInt32.max) { return (beyond, address) }
        } else {
            let expression = arena.text(address.expr)
            if !checkedAddressLocals.contains(expression) {
                emitAddressCheck(expression)
                // Slots are written in too many places to track; locals only by local.set/tee.
                if !address.isSlot { checkedAddressLocals.insert(expression) }
            }
        }
        return (MemoryAccess(memory: memory, address: address.expr, offset: memarg.offset), address)
    }
}
