import WasmParser
import WasmTypes

/// Memory accesses of every memory (multi-memory) and address type (memory64).
///
/// Each memory a function uses has its base cached in a C local (`M0`, `M1`, ...) read once at
/// entry: a base never moves, because the whole range is reserved up front. A 32-bit memory's
/// access is a plain dereference (`LOAD`, `STORE`, `ADDR`) whose bounds the guard pages check.
/// A 64-bit memory's (`LOAD64`, ...) adds one test of the address's high half, which sends any
/// address of 4 GiB or more to an inaccessible place in the reservation (memories hold at most
/// 4 GiB, see the prelude), so that the same guard pages check it.
extension FunctionLowering {
    /// The C pieces of one access.
    struct MemoryAccess {
        /// The macro suffix: "" for 32-bit addresses, "64" for 64-bit ones.
        var width: String
        var base: String
        var address: String
        var offset: UInt64

        func load(_ cType: String) -> String { "LOAD\(width)(\(base), \(address), \(offset), \(cType))" }
        func store(_ cType: String, _ value: String) -> String { "STORE\(width)(\(base), \(address), \(offset), \(cType), \(value))" }
        /// The accessed address as a `u8 *`, for helpers that do the access.
        var pointer: String { "ADDR\(width)(\(base), \(address), \(offset))" }
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
            return (MemoryAccess(width: "", base: base, address: address.expression, offset: memarg.offset), address)
        }
        if memarg.offset > UInt64(UInt32.max) {
            // Out of bounds whatever the address (memories hold at most 4 GiB): an access at
            // 4 GiB faults into the trap. The address is not evaluated: it cannot trap otherwise
            // (a load in it would trap the same way), and it has no other effect.
            let address = pop()
            return (MemoryAccess(width: "", base: base, address: "0u", offset: 1 << 32), address)
        }
        // The macro reads the address twice: a local, slot or constant.
        let address = popSimple()
        return (MemoryAccess(width: "64", base: base, address: address.expression, offset: memarg.offset), address)
    }
}
