import WasmParser
import WasmTypes

/// Atomic memory instructions (the threads proposal) on unshared memories, as toolchains emit
/// them for single-threaded builds (nextpnr's C++ runtime does). Kiln has no shared memories, so
/// only one thread ever touches a memory: an atomic access is a plain access after the
/// alignment check the spec requires, `wait` traps ("expected shared memory") and `notify` wakes
/// no one.
enum AtomicAccess {
    enum Operation { case add, sub, and, or, xor, exchange, compareExchange }

    /// What a read-modify-write instruction does: its operation, the value type and the C type
    /// of the accessed cell.
    static func readModifyWrite(_ instruction: Instruction) -> (Operation, ValueType, cType: String, MemArg)? {
        switch instruction {
        case .i32AtomicRmwAdd(let m): return (.add, .i32, "u32", m)
        case .i64AtomicRmwAdd(let m): return (.add, .i64, "u64", m)
        case .i32AtomicRmw8AddU(let m): return (.add, .i32, "u8", m)
        case .i32AtomicRmw16AddU(let m): return (.add, .i32, "u16", m)
        case .i64AtomicRmw8AddU(let m): return (.add, .i64, "u8", m)
        case .i64AtomicRmw16AddU(let m): return (.add, .i64, "u16", m)
        case .i64AtomicRmw32AddU(let m): return (.add, .i64, "u32", m)
        case .i32AtomicRmwSub(let m): return (.sub, .i32, "u32", m)
        case .i64AtomicRmwSub(let m): return (.sub, .i64, "u64", m)
        case .i32AtomicRmw8SubU(let m): return (.sub, .i32, "u8", m)
        case .i32AtomicRmw16SubU(let m): return (.sub, .i32, "u16", m)
        case .i64AtomicRmw8SubU(let m): return (.sub, .i64, "u8", m)
        case .i64AtomicRmw16SubU(let m): return (.sub, .i64, "u16", m)
        case .i64AtomicRmw32SubU(let m): return (.sub, .i64, "u32", m)
        case .i32AtomicRmwAnd(let m): return (.and, .i32, "u32", m)
        case .i64AtomicRmwAnd(let m): return (.and, .i64, "u64", m)
        case .i32AtomicRmw8AndU(let m): return (.and, .i32, "u8", m)
        case .i32AtomicRmw16AndU(let m): return (.and, .i32, "u16", m)
        case .i64AtomicRmw8AndU(let m): return (.and, .i64, "u8", m)
        case .i64AtomicRmw16AndU(let m): return (.and, .i64, "u16", m)
        case .i64AtomicRmw32AndU(let m): return (.and, .i64, "u32", m)
        case .i32AtomicRmwOr(let m): return (.or, .i32, "u32", m)
        case .i64AtomicRmwOr(let m): return (.or, .i64, "u64", m)
        case .i32AtomicRmw8OrU(let m): return (.or, .i32, "u8", m)
        case .i32AtomicRmw16OrU(let m): return (.or, .i32, "u16", m)
        case .i64AtomicRmw8OrU(let m): return (.or, .i64, "u8", m)
        case .i64AtomicRmw16OrU(let m): return (.or, .i64, "u16", m)
        case .i64AtomicRmw32OrU(let m): return (.or, .i64, "u32", m)
        case .i32AtomicRmwXor(let m): return (.xor, .i32, "u32", m)
        case .i64AtomicRmwXor(let m): return (.xor, .i64, "u64", m)
        case .i32AtomicRmw8XorU(let m): return (.xor, .i32, "u8", m)
        case .i32AtomicRmw16XorU(let m): return (.xor, .i32, "u16", m)
        case .i64AtomicRmw8XorU(let m): return (.xor, .i64, "u8", m)
        case .i64AtomicRmw16XorU(let m): return (.xor, .i64, "u16", m)
        case .i64AtomicRmw32XorU(let m): return (.xor, .i64, "u32", m)
        case .i32AtomicRmwXchg(let m): return (.exchange, .i32, "u32", m)
        case .i64AtomicRmwXchg(let m): return (.exchange, .i64, "u64", m)
        case .i32AtomicRmw8XchgU(let m): return (.exchange, .i32, "u8", m)
        case .i32AtomicRmw16XchgU(let m): return (.exchange, .i32, "u16", m)
        case .i64AtomicRmw8XchgU(let m): return (.exchange, .i64, "u8", m)
        case .i64AtomicRmw16XchgU(let m): return (.exchange, .i64, "u16", m)
        case .i64AtomicRmw32XchgU(let m): return (.exchange, .i64, "u32", m)
        case .i32AtomicRmwCmpxchg(let m): return (.compareExchange, .i32, "u32", m)
        case .i64AtomicRmwCmpxchg(let m): return (.compareExchange, .i64, "u64", m)
        case .i32AtomicRmw8CmpxchgU(let m): return (.compareExchange, .i32, "u8", m)
        case .i32AtomicRmw16CmpxchgU(let m): return (.compareExchange, .i32, "u16", m)
        case .i64AtomicRmw8CmpxchgU(let m): return (.compareExchange, .i64, "u8", m)
        case .i64AtomicRmw16CmpxchgU(let m): return (.compareExchange, .i64, "u16", m)
        case .i64AtomicRmw32CmpxchgU(let m): return (.compareExchange, .i64, "u32", m)
        default: return nil
        }
    }

    /// log2 of a C cell type's size: the natural alignment of an access to it.
    static func naturalAlignment(_ cType: String) -> Int {
        switch cType {
        case "u8": return 0
        case "u16": return 1
        case "u32": return 2
        default: return 3
        }
    }

    /// The plain access an atomic load or store is on an unshared memory.
    static func plain(_ load: Instruction.Load) -> Instruction.Load {
        switch load {
        case .i32AtomicLoad: return .i32Load
        case .i64AtomicLoad: return .i64Load
        case .i32AtomicLoad8U: return .i32Load8U
        case .i32AtomicLoad16U: return .i32Load16U
        case .i64AtomicLoad8U: return .i64Load8U
        case .i64AtomicLoad16U: return .i64Load16U
        case .i64AtomicLoad32U: return .i64Load32U
        default: return load
        }
    }

    static func plain(_ store: Instruction.Store) -> Instruction.Store {
        switch store {
        case .i32AtomicStore: return .i32Store
        case .i64AtomicStore: return .i64Store
        case .i32AtomicStore8: return .i32Store8
        case .i32AtomicStore16: return .i32Store16
        case .i64AtomicStore8: return .i64Store8
        case .i64AtomicStore16: return .i64Store16
        case .i64AtomicStore32: return .i64Store32
        default: return store
        }
    }

    static func isAtomic(_ load: Instruction.Load) -> Bool {
        switch load {
        case .i32AtomicLoad, .i64AtomicLoad, .i32AtomicLoad8U, .i32AtomicLoad16U, .i64AtomicLoad8U,
            .i64AtomicLoad16U, .i64AtomicLoad32U: return true
        default: return false
        }
    }

    static func isAtomic(_ store: Instruction.Store) -> Bool {
        switch store {
        case .i32AtomicStore, .i64AtomicStore, .i32AtomicStore8, .i32AtomicStore16, .i64AtomicStore8,
            .i64AtomicStore16, .i64AtomicStore32: return true
        default: return false
        }
    }
}

extension FunctionLowering {
    /// The alignment check of an atomic access to `address + offset` of `1 << alignment` bytes.
    private mutating func checkAtomicAlignment(_ address: String, _ memarg: MemArg, alignment: Int) {
        guard alignment > 0 else { return }
        emit("if ((((u64)(\(address)) + \(memarg.offset)ull) & \((1 << alignment) - 1)u) != 0) TRAP(UNALIGNED_ATOMIC);")
    }

    /// The alignment check of the access whose address lies below the top `operandsAbove`
    /// operands; the stack is left as it was, the address in a simple form (the check and the
    /// access both read it) and pending loads evaluated first, in Wasm's order.
    private mutating func checkAtomicAlignment(below operandsAbove: Int, _ memarg: MemArg, alignment: Int) {
        let above = stack.suffix(operandsAbove)
        stack.removeLast(operandsAbove)
        let address = popSimple()
        stack.append(address)
        stack.append(contentsOf: above)
        flushState()
        checkAtomicAlignment(expression(address), memarg, alignment: alignment)
    }

    /// Atomic loads and stores: the alignment check, then the plain access.
    mutating func lowerAtomicLoad(_ load: Instruction.Load, _ memarg: MemArg) throws(Unsupported) {
        checkAtomicAlignment(below: 0, memarg, alignment: load.naturalAlignment)
        try lowerLoad(AtomicAccess.plain(load), memarg)
    }

    mutating func lowerAtomicStore(_ store: Instruction.Store, _ memarg: MemArg) throws(Unsupported) {
        checkAtomicAlignment(below: 1, memarg, alignment: store.naturalAlignment)
        try lowerStore(AtomicAccess.plain(store), memarg)
    }

    /// Read-modify-write and compare-exchange: the old value is the result.
    mutating func lowerAtomicReadModifyWrite(_ operation: AtomicAccess.Operation, _ type: ValueType, cType: String, _ memarg: MemArg) {
        checkAtomicAlignment(below: operation == .compareExchange ? 2 : 1, memarg, alignment: AtomicAccess.naturalAlignment(cType))
        let replacement = operation == .compareExchange ? pop() : nil
        let operand = pop()
        let (access, _) = popAccess(memarg)
        let result = resultSlot(type)
        let valueType = CSyntax.type(type)
        emit("{ \(cType) *cell = (\(cType) *)\(pointer(access)); \(cType) old = *cell;")
        switch operation {
        case .add: emit("*cell = (\(cType))(old + (\(cType))\(expression(operand)));")
        case .sub: emit("*cell = (\(cType))(old - (\(cType))\(expression(operand)));")
        case .and: emit("*cell = (\(cType))(old & (\(cType))\(expression(operand)));")
        case .or: emit("*cell = (\(cType))(old | (\(cType))\(expression(operand)));")
        case .xor: emit("*cell = (\(cType))(old ^ (\(cType))\(expression(operand)));")
        case .exchange: emit("*cell = (\(cType))\(expression(operand));")
        case .compareExchange:
            emit("if (old == (\(cType))\(expression(operand))) *cell = (\(cType))\(expression(replacement!));")
        }
        emit("\(expression(result)) = (\(valueType))old; }")
        pushSlot(type)
    }

    /// `memory.atomic.notify`: checks the address like a 4-byte access; nobody waits on an
    /// unshared memory, so it wakes 0 threads.
    mutating func lowerAtomicNotify(_ memarg: MemArg) {
        checkAtomicAlignment(below: 1, memarg, alignment: 2)
        _ = pop()  // the count: a load in it was evaluated by the check
        let (access, _) = popAccess(memarg)
        emit("{ u32 probe = \(loadText(access, "u32")); (void)probe; }")
        push(operand(.i32, .i32(0)))
    }

    /// `memory.atomic.wait32/64` on an unshared memory traps.
    mutating func lowerAtomicWait(_ memarg: MemArg, alignment: Int) {
        // The operands' loads are evaluated (by the check) before the trap.
        checkAtomicAlignment(below: 2, memarg, alignment: alignment)
        stack.removeLast(3)
        emit("TRAP(EXPECTED_SHARED_MEMORY);")
        push(operand(.i32, .i32(0)))
    }
}
