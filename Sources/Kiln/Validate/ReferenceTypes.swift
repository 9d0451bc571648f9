import WasmParser
import WasmTypes

// Typed function references: the validator's operand types with subtyping, and the canonical
// (structural) identity of function types within a module and across modules.
//
// Only function types exist (GC types are rejected by the decoder), each in its own recursion
// group, so two type indices denote the same type iff their definitions are equal once every
// concrete reference in them is replaced by the identity of the type it names (a reference of
// a type to itself by a marker). The subtyping is that of the typed function references
// proposal: (ref $t) <: (ref null $t) <: funcref, (ref $t) <: (ref func), nofunc below every
// function type, noextern below extern, and the algorithm's `(ref bot)` below everything.

extension Validator {
    /// An operand type: a value type, or the algorithm's Unknown (bottom) type.
    ///
    /// Numbers and vectors are 0...4, Unknown is 7. A reference type has bit 31 set, bit 30 when
    /// nullable, and its heap type in the low 30 bits: the canonical type index of a concrete
    /// (function) type, or one of the abstract codes at the top of the range.
    struct VType: Hashable {
        var bits: UInt32

        static let i32 = VType(bits: 0)
        static let i64 = VType(bits: 1)
        static let f32 = VType(bits: 2)
        static let f64 = VType(bits: 3)
        static let v128 = VType(bits: 4)
        static let unknown = VType(bits: 7)

        static let referenceFlag: UInt32 = 0x8000_0000
        static let nullableFlag: UInt32 = 0x4000_0000
        static let heapMask: UInt32 = 0x3FFF_FFFF
        /// Abstract heap types; concrete ones are canonical type indices below these.
        static let funcHeap: UInt32 = 0x3FFF_FFF0
        static let externHeap: UInt32 = 0x3FFF_FFF1
        static let noFuncHeap: UInt32 = 0x3FFF_FFF2
        static let noExternHeap: UInt32 = 0x3FFF_FFF3
        /// The heap type of what `ref.as_non_null` and friends make of an Unknown operand.
        static let bottomHeap: UInt32 = 0x3FFF_FFF4
        static let exnHeap: UInt32 = 0x3FFF_FFF5
        static let noExnHeap: UInt32 = 0x3FFF_FFF6

        static func reference(heap: UInt32, nullable: Bool) -> VType {
            VType(bits: referenceFlag | (nullable ? nullableFlag : 0) | heap)
        }

        static let funcref = reference(heap: funcHeap, nullable: true)
        static let externref = reference(heap: externHeap, nullable: true)
        static let exnref = reference(heap: exnHeap, nullable: true)

        var isNumeric: Bool { bits <= 3 }
        var isReference: Bool { bits & Self.referenceFlag != 0 }
        var isNullable: Bool { bits & Self.nullableFlag != 0 }
        var heap: UInt32 { bits & Self.heapMask }
        /// The non-nullable reference to the same heap type.
        var nonNullable: VType { VType(bits: bits & ~Self.nullableFlag) }
        /// Locals of this type start with a value (all but non-nullable references).
        var isDefaultable: Bool { !isReference || isNullable }

        /// Index of the one-type sequence `[self]` at the start of every type pool, if any.
        var prefixPoolIndex: Int32? {
            if bits <= 4 { return Int32(bits) }
            if self == .funcref { return 5 }
            if self == .externref { return 6 }
            return nil
        }

        /// `actual <: expected` (Unknown matches everything).
        @inline(__always)
        static func matches(_ actual: VType, _ expected: VType) -> Bool {
            actual == expected || actual == .unknown || referenceMatches(actual, expected)
        }

        @inline(never)
        static func referenceMatches(_ actual: VType, _ expected: VType) -> Bool {
            guard actual.isReference, expected.isReference else { return false }
            if actual.isNullable && !expected.isNullable { return false }
            let a = actual.heap
            let e = expected.heap
            if a == e || a == bottomHeap { return true }
            switch a {
            case funcHeap, externHeap, exnHeap: return false
            case noExnHeap: return e == exnHeap
            case noFuncHeap: return e == funcHeap || e < funcHeap
            case noExternHeap: return e == externHeap
            default: return e == funcHeap  // a concrete function type
            }
        }
    }

    /// The validator's view of a module's types: the canonical index of every type index (the
    /// first index of a type equal to it).
    struct TypeSpace {
        var canonical: [UInt32] = []

        init() {}

        /// Canonical indices of `types`; throws "unknown type" for a reference past the type
        /// being defined (a type may only name earlier types and itself).
        init(_ types: [FunctionType]) throws(KilnError) {
            var seen: [FunctionType: UInt32] = [:]
            var canonical: [UInt32] = []
            canonical.reserveCapacity(types.count)
            for (index, type) in types.enumerated() {
                let key = try TypeSpace.key(type, index: index) { earlier in UInt64(canonical[earlier]) }
                if let existing = seen[key] {
                    canonical.append(existing)
                } else {
                    seen[key] = UInt32(index)
                    canonical.append(UInt32(index))
                }
            }
            self.canonical = canonical
        }

        /// `type` (type index `index`) with every concrete reference replaced by `identity` of
        /// the type it names (tagged with bit 31), a reference to itself by `UInt32.max`.
        static func key(_ type: FunctionType, index: Int, identity: (Int) -> UInt64) throws(KilnError) -> FunctionType {
            func isConcrete(_ value: ValueType) -> Bool {
                if case .ref(let reference) = value, case .concrete = reference.heapType { return true }
                return false
            }
            guard type.parameters.contains(where: isConcrete) || type.results.contains(where: isConcrete) else { return type }
            func rewrite(_ value: ValueType) throws(KilnError) -> ValueType {
                guard case .ref(let reference) = value, case .concrete(let target) = reference.heapType else { return value }
                guard Int(target) <= index else { throw Validator.invalid("unknown type \(target)") }
                let id: UInt32 = Int(target) == index ? UInt32.max : 0x8000_0000 | UInt32(truncatingIfNeeded: identity(Int(target)))
                return .ref(ReferenceType(isNullable: reference.isNullable, heapType: .concrete(typeIndex: id)))
            }
            var parameters: [ValueType] = []
            var results: [ValueType] = []
            for value in type.parameters { parameters.append(try rewrite(value)) }
            for value in type.results { results.append(try rewrite(value)) }
            return FunctionType(parameters: parameters, results: results)
        }

        func operandType(_ type: WasmTypes.ValueType) throws(KilnError) -> VType {
            switch type {
            case .i32: return .i32
            case .i64: return .i64
            case .f32: return .f32
            case .f64: return .f64
            case .v128: return .v128
            case .ref(let reference): return try operandType(reference)
            }
        }

        func operandType(_ reference: WasmTypes.ReferenceType) throws(KilnError) -> VType {
            VType.reference(heap: try heap(reference.heapType), nullable: reference.isNullable)
        }

        func heap(_ heap: WasmTypes.HeapType) throws(KilnError) -> UInt32 {
            switch heap {
            case .abstract(.funcRef): return VType.funcHeap
            case .abstract(.externRef): return VType.externHeap
            case .abstract(.noFunc): return VType.noFuncHeap
            case .abstract(.noExtern): return VType.noExternHeap
            case .abstract(.exnRef): return VType.exnHeap
            case .abstract(.noExn): return VType.noExnHeap
            case .abstract: throw KilnError.unsupported(feature: "GC reference types")
            case .concrete(let index):
                guard Int(index) < canonical.count else { throw Validator.invalid("unknown type \(index)") }
                return canonical[Int(index)]
            }
        }

        /// `(ref $t)` of the function type index `index` (in range).
        func functionReference(_ index: UInt32, nullable: Bool) -> VType {
            VType.reference(heap: canonical[Int(index)], nullable: nullable)
        }
    }
}

// MARK: - Across modules

/// Reference types made comparable across modules: a concrete heap type becomes the engine-wide
/// signature id of the function type it names, tagged with bit 31 (see `Engine.signatureIDs`).
enum CanonicalTypes {
    static func value(_ type: ValueType, signatureIDs: [UInt64]) -> ValueType {
        guard case .ref(let reference) = type else { return type }
        return .ref(self.reference(reference, signatureIDs: signatureIDs))
    }

    static func reference(_ type: ReferenceType, signatureIDs: [UInt64]) -> ReferenceType {
        guard case .concrete(let index) = type.heapType, Int(index) < signatureIDs.count else { return type }
        let id = 0x8000_0000 | UInt32(truncatingIfNeeded: signatureIDs[Int(index)])
        return ReferenceType(isNullable: type.isNullable, heapType: .concrete(typeIndex: id))
    }

    /// `actual <: expected`, for canonical types.
    static func matches(_ actual: ValueType, _ expected: ValueType) -> Bool {
        if actual == expected { return true }
        guard case .ref(let a) = actual, case .ref(let e) = expected else { return false }
        if a.isNullable && !e.isNullable { return false }
        switch (a.heapType, e.heapType) {
        case (.concrete, .abstract(.funcRef)), (.abstract(.noFunc), .abstract(.funcRef)),
            (.abstract(.noFunc), .concrete), (.abstract(.noExtern), .abstract(.externRef)):
            return true
        default:
            return a.heapType == e.heapType
        }
    }
}

extension Engine {
    /// Engine-wide ids of a validated module's function types: equal types (by structure, with
    /// concrete references compared by the ids of the types they name) get equal ids, in any module.
    func signatureIDs(of types: [FunctionType]) -> [UInt64] {
        var ids: [UInt64] = []
        ids.reserveCapacity(types.count)
        for (index, type) in types.enumerated() {
            // Validated: every reference names an earlier type or this one.
            let key = (try? Validator.TypeSpace.key(type, index: index) { ids[$0] }) ?? type
            ids.append(signatureID(key))
        }
        return ids
    }
}
