import WasmTypes

/// The lowering's typed expression IR: a pending operand is a tree of nodes, not C text.
///
/// Nodes live in one arena per function (`ExpressionArena`), referenced by index: building an
/// operation appends one node and allocates nothing else, and no node is reference-counted. What
/// the lowering decides about an operand (is it a comparison, a constant shift count or divisor,
/// a local or slot that may be evaluated twice) is read from its node; its effects (reads state,
/// which locals, any slot) are merged from its operands' when it is built (`Operand`). Each
/// tree is printed to C once, into the function's byte buffer, when a statement uses it.
struct Expr: Equatable {
    var index: Int32
}

/// The pieces of C a node prints around its operands come from the lowering's own tables
/// (static strings and runtime helper names), never from the module.
enum ExprNode {
    case i32(UInt32)
    case i64(UInt64)
    case f32(bits: UInt32)
    case f64(bits: UInt64)
    /// A `static const kiln_value` of the function holding a v128 constant.
    case v128(low: UInt64, high: UInt64)
    case local(UInt32)
    case slot(height: Int32, ValueType)
    case global(UInt32, ValueType)
    /// A fixed C expression made by the lowering from CSyntax building blocks and numbers (a
    /// table's size, a function reference, a caught exception's payload...): an operation that
    /// has no node of its own. Its effects are those its `Operand` was given.
    case text(String)
    /// `prefix` operand `)`: a cast chain such as `(u32)(s32)(s8)(`, or a one-argument macro.
    case wrap(StaticString, Expr)
    /// A runtime helper applied to one or two operands: `kiln_i32_clz(a)`, `kiln_f32_min(a, b)`.
    case call(RuntimeHelper, Expr)
    case call2(RuntimeHelper, Expr, Expr)
    /// A macro of two operands: `I32_ROTL(a, b)`.
    case macro2(StaticString, Expr, Expr)
    /// `(a op b)`, `op` with its spaces: `" + "`.
    case binary(StaticString, Expr, Expr)
    case shift(ShiftKind, Expr, Expr)
    /// A comparison as a 0/1 value: `CMP(cast a op cast b)`; `truth` drops the CMP.
    case compare(op: StaticString, cast: StaticString, Expr, Expr)
    /// `CMP(a == 0)` (eqz, ref.is_null).
    case isZero(Expr)
    /// `(c ? a : b)`.
    case select(Expr, Expr, Expr)
    /// `convert LOAD(Mk, address, offset, cType)`.
    case load(convert: StaticString, cType: StaticString, memory: UInt32, address: Expr, offset: UInt64)
    /// A lane of a v128 local or slot: `read vector.field[lane]`.
    case lane(read: StaticString, Expr, field: StaticString, lane: UInt8)
    /// A v128 test helper on a local or slot: `helper(&vector)`.
    case test(RuntimeHelper, Expr)
}

enum ShiftKind {
    case shl32, shrS32, shrU32, shl64, shrS64, shrU64

    var mask: UInt64 {
        switch self {
        case .shl32, .shrS32, .shrU32: 31
        default: 63
        }
    }
}

/// The nodes of one function, and the printing of a tree to C.
struct ExpressionArena {
    var nodes: [ExprNode] = []

    init() { nodes.reserveCapacity(256) }

    mutating func add(_ node: ExprNode) -> Expr {
        nodes.append(node)
        return Expr(index: Int32(nodes.count - 1))
    }

    subscript(_ expr: Expr) -> ExprNode { nodes[Int(expr.index)] }

    /// The value of an integer constant node.
    func integerConstant(_ expr: Expr) -> UInt64? {
        switch self[expr] {
        case .i32(let value): UInt64(value)
        case .i64(let value): value
        default: nil
        }
    }

    /// Whether the tree reads `local` (the exact test behind `Operand.mayRead`). `text` nodes do
    /// not say what they read: they count as reading it.
    func reads(_ expr: Expr, local: UInt32) -> Bool {
        switch self[expr] {
        case .i32, .i64, .f32, .f64, .v128, .slot, .global: return false
        case .local(let index): return index == local
        case .text: return true
        case .wrap(_, let a), .call(_, let a), .isZero(let a), .lane(_, let a, _, _), .test(_, let a):
            return reads(a, local: local)
        case .load(_, _, _, let a, _): return reads(a, local: local)
        case .call2(_, let a, let b), .macro2(_, let a, let b), .binary(_, let a, let b), .shift(_, let a, let b),
            .compare(_, _, let a, let b):
            return reads(a, local: local) || reads(b, local: local)
        case .select(let c, let a, let b):
            return reads(c, local: local) || reads(a, local: local) || reads(b, local: local)
        }
    }

    // MARK: - Printing

    func write(_ expr: Expr, to out: inout [UInt8]) {
        switch self[expr] {
        case .i32(let value):
            out.appendDecimal(UInt64(value))
            out.append(UInt8(ascii: "u"))
        case .i64(let value):
            out.appendDecimal(value)
            out.append(contentsOf: "ull".utf8)
        case .f32(let bits): out.append(contentsOf: CSyntax.f32(bits: bits).utf8)
        case .f64(let bits): out.append(contentsOf: CSyntax.f64(bits: bits).utf8)
        case .v128(let low, let high): out.append(contentsOf: CSyntax.v128Constant(low: low, high: high).utf8)
        case .local(let index):
            out.append(UInt8(ascii: "l"))
            out.appendDecimal(UInt64(index))
        case .slot(let height, let type): CSyntax.writeSlot(Int(height), type, to: &out)
        case .global(let index, let type): out.append(contentsOf: CSyntax.global(index, type).utf8)
        case .text(let text): out.append(contentsOf: text.utf8)
        case .wrap(let prefix, let a):
            out.append(prefix)
            write(a, to: &out)
            out.append(UInt8(ascii: ")"))
        case .call(let helper, let a):
            out.append(contentsOf: helper.name.utf8)
            out.append(UInt8(ascii: "("))
            write(a, to: &out)
            out.append(UInt8(ascii: ")"))
        case .call2(let helper, let a, let b):
            out.append(contentsOf: helper.name.utf8)
            writeArguments(a, b, to: &out)
        case .macro2(let name, let a, let b):
            out.append(name)
            writeArguments(a, b, to: &out)
        case .binary(let op, let a, let b):
            out.append(UInt8(ascii: "("))
            write(a, to: &out)
            out.append(op)
            write(b, to: &out)
            out.append(UInt8(ascii: ")"))
        case .shift(let kind, let a, let b):
            switch kind {
            case .shrS32: out.append("(u32)((s32)")
            case .shrS64: out.append("(u64)((s64)")
            default: out.append(UInt8(ascii: "("))
            }
            write(a, to: &out)
            switch kind {
            case .shl32, .shl64: out.append(" << ")
            default: out.append(" >> ")
            }
            // Shift counts are taken modulo the width; a constant count is reduced here.
            if let count = integerConstant(b) {
                out.appendDecimal(count & kind.mask)
            } else {
                out.append(UInt8(ascii: "("))
                write(b, to: &out)
                out.append(" & ")
                out.appendDecimal(kind.mask)
                out.append(UInt8(ascii: ")"))
            }
            out.append(UInt8(ascii: ")"))
        case .compare, .isZero:
            out.append("CMP")
            writeTruth(expr, to: &out)
        case .select(let c, let a, let b):
            out.append(UInt8(ascii: "("))
            write(c, to: &out)
            out.append(" ? ")
            write(a, to: &out)
            out.append(" : ")
            write(b, to: &out)
            out.append(UInt8(ascii: ")"))
        case .load(let convert, let cType, let memory, let address, let offset):
            out.append(convert)
            out.append("LOAD(")
            CSyntax.writeMemoryBase(memory, to: &out)
            out.append(", ")
            write(address, to: &out)
            out.append(", ")
            out.appendDecimal(offset)
            out.append(", ")
            out.append(cType)
            out.append(UInt8(ascii: ")"))
        case .lane(let read, let vector, let field, let lane):
            out.append(read)
            write(vector, to: &out)
            out.append(UInt8(ascii: "."))
            out.append(field)
            out.append(UInt8(ascii: "["))
            out.appendDecimal(UInt64(lane))
            out.append(UInt8(ascii: "]"))
        case .test(let helper, let vector):
            out.append(contentsOf: helper.name.utf8)
            out.append("(&")
            write(vector, to: &out)
            out.append(UInt8(ascii: ")"))
        }
    }

    private func writeArguments(_ a: Expr, _ b: Expr, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "("))
        write(a, to: &out)
        out.append(", ")
        write(b, to: &out)
        out.append(UInt8(ascii: ")"))
    }

    /// A condition in parentheses, without the `CMP` that turns a comparison into a value:
    /// TCC then branches on the flags directly.
    func writeTruth(_ expr: Expr, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "("))
        switch self[expr] {
        case .compare(let op, let cast, let a, let b):
            out.append(cast)
            write(a, to: &out)
            out.append(op)
            out.append(cast)
            write(b, to: &out)
        case .isZero(let a):
            write(a, to: &out)
            out.append(" == 0")
        default:
            write(expr, to: &out)
        }
        out.append(UInt8(ascii: ")"))
    }

    /// The tree's C as a string, for the statements that are not on the hot path.
    func text(_ expr: Expr) -> String {
        var bytes: [UInt8] = []
        write(expr, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension [UInt8] {
    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }

    mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            append(UInt8(truncatingIfNeeded: value) + 48)
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        var count = 0
        var rest = value
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[23 - count] = UInt8(truncatingIfNeeded: rest % 10) + 48
                rest /= 10
                count += 1
            }
            append(contentsOf: buffer[(24 - count)...])
        }
    }
}
