import WasmParser
import WasmTypes

// The Wasm 3.0 type system (typed function references and GC): the validator's operand types
// with subtyping, and the canonical (iso-recursive) identity of types, within a module and
// across the modules of one Engine.
//
// Type identity. Every type belongs to a recursion group (a type outside `rec` is a group of its
// own). Two groups are equal when their definitions are equal once every concrete reference in
// them is rewritten: a reference into the group itself by its position in the group (tagged with
// bit 31), a reference to an earlier type by that type's canonical id. Two type indices denote
// the same type iff they sit at the same position of equal groups. The validator keys groups by
// module-canonical indices (`TypeSpace`), the Engine by engine-wide ids (`CanonicalTypeRegistry`);
// both use `TypeCanonicalization.groupKey`.
//
// Subtyping. Abstract heap types form three hierarchies plus exceptions:
// none <: i31, struct, array, concrete struct/array types <: eq <: any (struct types below
// `struct`, array types below `array`); nofunc <: concrete function types <: func;
// noextern <: extern; noexn <: exn. A concrete type is below the chain of its declared
// supertypes (`sub $super`), and the algorithm's `(ref bot)` is below everything.

extension Validator {
    /// An operand type: a value type, or the algorithm's Unknown (bottom) type.
    ///
    /// Numbers and vectors are 0...4, Unknown is 7. A reference type has bit 31 set, bit 30 when
    /// nullable, and its heap type in the low 30 bits: the module-canonical type index of a
    /// concrete type, or one of the abstract codes at the top of the range.
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
        /// Abstract heap types are at or above this; concrete ones are canonical type indices below.
        static let firstAbstractHeap: UInt32 = 0x3FFF_FFE0
        static let funcHeap: UInt32 = 0x3FFF_FFF0
        static let externHeap: UInt32 = 0x3FFF_FFF1
        static let noFuncHeap: UInt32 = 0x3FFF_FFF2
        static let noExternHeap: UInt32 = 0x3FFF_FFF3
        /// The heap type of what `ref.as_non_null` and friends make of an Unknown operand.
        static let bottomHeap: UInt32 = 0x3FFF_FFF4
        static let exnHeap: UInt32 = 0x3FFF_FFF5
        static let noExnHeap: UInt32 = 0x3FFF_FFF6
        static let anyHeap: UInt32 = 0x3FFF_FFE0
        static let eqHeap: UInt32 = 0x3FFF_FFE1
        static let i31Heap: UInt32 = 0x3FFF_FFE2
        static let structHeap: UInt32 = 0x3FFF_FFE3
        static let arrayHeap: UInt32 = 0x3FFF_FFE4
        static let noneHeap: UInt32 = 0x3FFF_FFE5

        static func reference(heap: UInt32, nullable: Bool) -> VType {
            VType(bits: referenceFlag | (nullable ? nullableFlag : 0) | heap)
        }

        static let funcref = reference(heap: funcHeap, nullable: true)
        static let externref = reference(heap: externHeap, nullable: true)
        static let exnref = reference(heap: exnHeap, nullable: true)
        static let anyref = reference(heap: anyHeap, nullable: true)
        static let eqref = reference(heap: eqHeap, nullable: true)
        static let i31ref = reference(heap: i31Heap, nullable: true)
        static let arrayref = reference(heap: arrayHeap, nullable: true)

        var isNumeric: Bool { bits <= 3 }
        var isReference: Bool { bits & Self.referenceFlag != 0 }
        var isNullable: Bool { bits & Self.nullableFlag != 0 }
        var heap: UInt32 { bits & Self.heapMask }
        var isConcrete: Bool { isReference && heap < Self.firstAbstractHeap }
        /// The non-nullable reference to the same heap type.
        var nonNullable: VType { VType(bits: bits & ~Self.nullableFlag) }
        /// The nullable reference to the same heap type.
        var nullable: VType { VType(bits: bits | Self.nullableFlag) }
        /// Locals of this type start with a value (all but non-nullable references).
        var isDefaultable: Bool { !isReference || isNullable }

        /// Index of the one-type sequence `[self]` at the start of every type pool, if any.
        var prefixPoolIndex: Int32? {
            if bits <= 4 { return Int32(bits) }
            if self == .funcref { return 5 }
            if self == .externref { return 6 }
            return nil
        }
    }

    /// What a concrete type is.
    enum TypeKind: UInt8 { case function, `struct`, array }

    /// A struct field's or an array element's type in the validator's terms.
    struct FieldVType: Equatable {
        /// The value type, or nil for a packed `i8`/`i16` (read as i32).
        var value: VType?
        var packed: PackedType?
        var isMutable: Bool
        /// The type on the operand stack.
        var unpacked: VType { value ?? .i32 }
        var isDefaultable: Bool { value?.isDefaultable ?? true }
    }

    /// The validator's view of a module's types: the module-canonical index of every type index
    /// (the first index of a type equal to it), each type's kind and declared supertype.
    struct TypeSpace {
        var canonical: [UInt32] = []
        /// Per type index: the definition as written, its kind, the canonical index of its
        /// declared supertype and whether it is final.
        var definitions: [SubType] = []
        var kinds: [TypeKind] = []
        var supertypes: [UInt32?] = []

        init() {}

        /// Canonicalizes and checks the type section: references past a type's own recursion
        /// group are "unknown type"; a declared supertype must be an earlier, non-final type
        /// whose definition this one's matches ("sub type").
        init(definitions: [SubType], groups: [Range<Int>]) throws(KilnError) {
            self.definitions = definitions
            canonical.reserveCapacity(definitions.count)
            kinds.reserveCapacity(definitions.count)
            supertypes.reserveCapacity(definitions.count)
            var seen: [TypeCanonicalization.GroupKey: Int] = [:]
            for group in groups {
                let key = try TypeCanonicalization.groupKey(definitions, group: group) { [canonical] in UInt64(canonical[$0]) }
                let first = seen[key]
                if first == nil { seen[key] = group.lowerBound }
                for index in group {
                    canonical.append(UInt32(first.map { $0 + index - group.lowerBound } ?? index))
                    switch definitions[index].body {
                    case .function: kinds.append(.function)
                    case .structType: kinds.append(.struct)
                    case .arrayType: kinds.append(.array)
                    }
                    let declared = definitions[index].supertypes
                    guard declared.count <= 1 else { throw Validator.invalid("sub type: at most one supertype") }
                    if let supertype = declared.first {
                        guard Int(supertype) < index else { throw Validator.invalid("unknown type \(supertype)") }
                        supertypes.append(canonical[Int(supertype)])
                    } else {
                        supertypes.append(nil)
                    }
                }
                // A group equal to an earlier one was checked as that one.
                guard first == nil else { continue }
                for index in group {
                    for value in TypeCanonicalization.valueTypes(of: definitions[index].body) { _ = try operandType(value) }
                    if let supertype = definitions[index].supertypes.first {
                        try checkSubtype(index, of: Int(supertype))
                    }
                }
            }
        }

        /// Type index `index` may declare `supertype` as its supertype.
        private func checkSubtype(_ index: Int, of supertype: Int) throws(KilnError) {
            guard !definitions[supertype].isFinal else { throw Validator.invalid("sub type \(index) has final supertype \(supertype)") }
            var ok = true
            switch (definitions[index].body, definitions[supertype].body) {
            case (.function(let sub), .function(let sup)):
                ok = sub.parameters.count == sup.parameters.count && sub.results.count == sup.results.count
                for (a, b) in zip(sup.parameters, sub.parameters) where ok { ok = try valueMatches(a, b) }
                for (a, b) in zip(sub.results, sup.results) where ok { ok = try valueMatches(a, b) }
            case (.structType(let sub), .structType(let sup)):
                ok = sub.fields.count >= sup.fields.count
                for (a, b) in zip(sub.fields, sup.fields) where ok { ok = try fieldMatches(a, b) }
            case (.arrayType(let sub), .arrayType(let sup)):
                ok = try fieldMatches(sub.element, sup.element)
            default:
                ok = false
            }
            guard ok else { throw Validator.invalid("sub type \(index) does not match its supertype \(supertype)") }
        }

        private func valueMatches(_ a: ValueType, _ b: ValueType) throws(KilnError) -> Bool {
            matches(try operandType(a), try operandType(b))
        }

        /// Field subtyping: same mutability; a mutable field's type is invariant.
        func fieldMatches(_ a: FieldType, _ b: FieldType) throws(KilnError) -> Bool {
            guard a.isMutable == b.isMutable else { return false }
            let (fa, fb) = (try field(a), try field(b))
            return storageMatches(fa, fb) && (!a.isMutable || storageMatches(fb, fa))
        }

        /// Storage subtyping: packed types match only themselves.
        func storageMatches(_ a: FieldVType, _ b: FieldVType) -> Bool {
            if let pa = a.packed { return pa == b.packed }
            guard b.packed == nil, let va = a.value, let vb = b.value else { return false }
            return matches(va, vb)
        }

        func field(_ type: FieldType) throws(KilnError) -> FieldVType {
            switch type.storage {
            case .packed(let packed): return FieldVType(value: nil, packed: packed, isMutable: type.isMutable)
            case .value(let value): return FieldVType(value: try operandType(value), packed: nil, isMutable: type.isMutable)
            }
        }

        // MARK: Subtyping

        /// `actual <: expected` (Unknown matches everything).
        @inline(__always)
        func matches(_ actual: VType, _ expected: VType) -> Bool {
            actual == expected || actual == .unknown || referenceMatches(actual, expected)
        }

        @inline(never)
        func referenceMatches(_ actual: VType, _ expected: VType) -> Bool {
            guard actual.isReference, expected.isReference else { return false }
            if actual.isNullable && !expected.isNullable { return false }
            return heapMatches(actual.heap, expected.heap)
        }

        func heapMatches(_ a: UInt32, _ e: UInt32) -> Bool {
            if a == e || a == VType.bottomHeap { return true }
            let concreteE = e < VType.firstAbstractHeap
            switch a {
            case VType.anyHeap, VType.funcHeap, VType.externHeap, VType.exnHeap: return false
            case VType.eqHeap: return e == VType.anyHeap
            case VType.i31Heap, VType.structHeap, VType.arrayHeap: return e == VType.eqHeap || e == VType.anyHeap
            case VType.noneHeap:
                return top(e) == VType.anyHeap
            case VType.noFuncHeap: return e == VType.funcHeap || (concreteE && kinds[Int(e)] == .function)
            case VType.noExternHeap: return e == VType.externHeap
            case VType.noExnHeap: return e == VType.exnHeap
            default:
                guard Int(a) < kinds.count else { return false }
                if concreteE { return isSubtype(a, of: e) }
                switch kinds[Int(a)] {
                case .function: return e == VType.funcHeap
                case .struct: return e == VType.structHeap || e == VType.eqHeap || e == VType.anyHeap
                case .array: return e == VType.arrayHeap || e == VType.eqHeap || e == VType.anyHeap
                }
            }
        }

        /// Whether canonical type `a` is `b` or declares it along its supertype chain.
        func isSubtype(_ a: UInt32, of b: UInt32) -> Bool {
            var current: UInt32? = a
            while let type = current {
                if type == b { return true }
                current = supertypes[Int(type)]
            }
            return false
        }

        /// The top of a heap type's hierarchy: any, func, extern or exn (bottom for bottom).
        func top(_ heap: UInt32) -> UInt32 {
            switch heap {
            case VType.anyHeap, VType.eqHeap, VType.i31Heap, VType.structHeap, VType.arrayHeap, VType.noneHeap:
                return VType.anyHeap
            case VType.funcHeap, VType.noFuncHeap: return VType.funcHeap
            case VType.externHeap, VType.noExternHeap: return VType.externHeap
            case VType.exnHeap, VType.noExnHeap: return VType.exnHeap
            case VType.bottomHeap: return VType.bottomHeap
            default:
                guard Int(heap) < kinds.count else { return VType.bottomHeap }
                return kinds[Int(heap)] == .function ? VType.funcHeap : VType.anyHeap
            }
        }

        // MARK: Conversions

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
            case .abstract(.any): return VType.anyHeap
            case .abstract(.eq): return VType.eqHeap
            case .abstract(.i31): return VType.i31Heap
            case .abstract(.structRef): return VType.structHeap
            case .abstract(.arrayRef): return VType.arrayHeap
            case .abstract(.noneRef): return VType.noneHeap
            case .concrete(let index):
                guard Int(index) < canonical.count else { throw Validator.invalid("unknown type \(index)") }
                return canonical[Int(index)]
            }
        }

        /// `(ref $t)` of the type index `index` (in range).
        func functionReference(_ index: UInt32, nullable: Bool) -> VType {
            VType.reference(heap: canonical[Int(index)], nullable: nullable)
        }

        /// The struct type `index`'s fields; "unknown type" past the types, "type mismatch" if
        /// it is not a struct type.
        func structFields(_ index: UInt32) throws(KilnError) -> [FieldType] {
            guard Int(index) < definitions.count else { throw Validator.invalid("unknown type \(index)") }
            guard case .structType(let type) = definitions[Int(index)].body else { throw Validator.invalid("type mismatch: type \(index) is not a struct type") }
            return type.fields
        }

        /// The array type `index`'s element.
        func arrayElement(_ index: UInt32) throws(KilnError) -> FieldType {
            guard Int(index) < definitions.count else { throw Validator.invalid("unknown type \(index)") }
            guard case .arrayType(let type) = definitions[Int(index)].body else { throw Validator.invalid("type mismatch: type \(index) is not an array type") }
            return type.element
        }

        /// Whether type index `index` (in range) is a function type.
        func isFunction(_ index: UInt32) -> Bool { kinds[Int(index)] == .function }
    }
}

// MARK: - Canonical identity

/// The iso-recursive identity of recursion groups, shared by the validator (module-canonical
/// indices) and the Engine (engine-wide ids).
enum TypeCanonicalization {
    /// A recursion group with its references rewritten (see the top of this file): equal keys,
    /// equal groups. A reference into the group is `inGroupFlag | position`; one to an earlier
    /// type is that type's canonical id, which must stay below `inGroupFlag`.
    struct GroupKey: Hashable, Sendable {
        var types: [SubType]
    }

    static let inGroupFlag: UInt32 = 0x8000_0000

    /// The key of `group` (type indices of `definitions`); `identity` gives the canonical id of
    /// a type index before the group. Throws "unknown type" for a reference past the group.
    static func groupKey(_ definitions: [SubType], group: Range<Int>, identity: (Int) -> UInt64) throws(KilnError) -> GroupKey {
        func rewrite(_ index: UInt32) throws(KilnError) -> UInt32 {
            let index = Int(index)
            if index >= group.upperBound { throw Validator.invalid("unknown type \(index)") }
            if index >= group.lowerBound { return inGroupFlag | UInt32(index - group.lowerBound) }
            return UInt32(truncatingIfNeeded: identity(index)) & ~inGroupFlag
        }
        func rewrite(_ value: ValueType) throws(KilnError) -> ValueType {
            guard case .ref(let reference) = value, case .concrete(let target) = reference.heapType else { return value }
            return .ref(ReferenceType(isNullable: reference.isNullable, heapType: .concrete(typeIndex: try rewrite(target))))
        }
        func rewrite(_ field: FieldType) throws(KilnError) -> FieldType {
            guard case .value(let value) = field.storage else { return field }
            return FieldType(storage: .value(try rewrite(value)), isMutable: field.isMutable)
        }
        var types: [SubType] = []
        types.reserveCapacity(group.count)
        for index in group {
            let definition = definitions[index]
            var supertypes: [UInt32] = []
            for supertype in definition.supertypes { supertypes.append(try rewrite(supertype)) }
            let body: CompositeType
            switch definition.body {
            case .function(let type):
                var parameters: [ValueType] = []
                var results: [ValueType] = []
                for value in type.parameters { parameters.append(try rewrite(value)) }
                for value in type.results { results.append(try rewrite(value)) }
                body = .function(FunctionType(parameters: parameters, results: results))
            case .structType(let type):
                var fields: [FieldType] = []
                for field in type.fields { fields.append(try rewrite(field)) }
                body = .structType(StructType(fields: fields))
            case .arrayType(let type):
                body = .arrayType(ArrayType(element: try rewrite(type.element)))
            }
            types.append(SubType(isFinal: definition.isFinal, supertypes: supertypes, body: body))
        }
        return GroupKey(types: types)
    }

    /// Every value type a definition mentions.
    static func valueTypes(of body: CompositeType) -> [ValueType] {
        switch body {
        case .function(let type): return type.parameters + type.results
        case .structType(let type):
            return type.fields.compactMap { if case .value(let value) = $0.storage { return value } else { return nil } }
        case .arrayType(let type):
            if case .value(let value) = type.element.storage { return [value] }
            return []
        }
    }
}

/// The Engine's table of canonical types: one id per distinct type (by iso-recursive identity)
/// of every module the Engine compiled, with its supertype chain. Function types' ids are their
/// signature ids (what `call_indirect` compares). Not thread-safe: the Engine locks around it.
///
/// Casts and signature checks against a non-final type will be "`chain[depth(target)] ==
/// target`": `chains[id]` lists the type's supertypes from the root of its hierarchy down to
/// the type itself, so `depth(t) = chains[t].count - 1` and the check is one bounds test and
/// one load (see docs/gc-design.md).
struct CanonicalTypeRegistry {
    private var groups: [TypeCanonicalization.GroupKey: UInt64] = [:]
    /// Per id (index id - 1): supertype chain, root first, the type itself last.
    private(set) var chains: [[UInt64]] = []
    /// Per id (index id - 1): whether the type is final (no other type may declare it a supertype).
    private(set) var finality: [Bool] = []

    /// Ids of a validated module's types, per type index; new groups get fresh ids (0 is
    /// reserved for empty table slots).
    mutating func ids(definitions: [SubType], groups groupRanges: [Range<Int>]) -> [UInt64] {
        var ids: [UInt64] = []
        ids.reserveCapacity(definitions.count)
        for group in groupRanges {
            // Validated: every reference names a type of the group or an earlier one.
            guard let key = try? TypeCanonicalization.groupKey(definitions, group: group, identity: { ids[$0] }) else {
                preconditionFailure("canonicalizing a module that did not validate")
            }
            ids += self.ids(of: key)
        }
        return ids
    }

    /// Ids of the types of one group key, in order.
    mutating func ids(of key: TypeCanonicalization.GroupKey) -> [UInt64] {
        if let base = groups[key] { return (0..<UInt64(key.types.count)).map { base + $0 } }
        let base = UInt64(chains.count + 1)
        groups[key] = base
        for type in key.types {
            var chain: [UInt64] = []
            if let supertype = type.supertypes.first {
                let id = supertype & TypeCanonicalization.inGroupFlag != 0
                    ? base + UInt64(supertype & ~TypeCanonicalization.inGroupFlag) : UInt64(supertype)
                chain = chains[Int(id - 1)]
            }
            chain.append(UInt64(chains.count + 1))
            chains.append(chain)
            finality.append(type.isFinal)
        }
        return (0..<UInt64(key.types.count)).map { base + $0 }
    }

    /// Whether type `sub` is `sup` or one of its declared subtypes (transitively): the
    /// supertype-chain check casts will compile to.
    func isSubtype(_ sub: UInt64, of sup: UInt64) -> Bool {
        if sub == sup { return true }
        guard sub >= 1, Int(sub) <= chains.count, sup >= 1, Int(sup) <= chains.count else { return false }
        let chain = chains[Int(sub - 1)]
        let depth = chains[Int(sup - 1)].count - 1
        return depth < chain.count && chain[depth] == sup
    }

    /// The supertype chain of `id`, root first (empty for an unknown id).
    func chain(of id: UInt64) -> [UInt64] {
        guard id >= 1, Int(id) <= chains.count else { return [] }
        return chains[Int(id - 1)]
    }
}

// MARK: - Across modules

/// Reference types made comparable across modules: a concrete heap type becomes the engine-wide
/// canonical id of the type it names, tagged with bit 31 (see `Engine.canonicalTypeIDs`).
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

    /// `actual <: expected`, for canonical types; `isSubtype` relates two concrete types' ids.
    static func matches(_ actual: ValueType, _ expected: ValueType, isSubtype: (UInt64, UInt64) -> Bool = { $0 == $1 }) -> Bool {
        if actual == expected { return true }
        guard case .ref(let a) = actual, case .ref(let e) = expected else { return false }
        if a.isNullable && !e.isNullable { return false }
        switch (a.heapType, e.heapType) {
        case (.concrete(let x), .concrete(let y)):
            return isSubtype(UInt64(x & 0x7FFF_FFFF), UInt64(y & 0x7FFF_FFFF))
        case (.concrete, .abstract(.funcRef)), (.abstract(.noFunc), .abstract(.funcRef)),
            (.abstract(.noFunc), .concrete), (.abstract(.noExtern), .abstract(.externRef)),
            (.abstract(.noExn), .abstract(.exnRef)):
            return true
        default:
            return a.heapType == e.heapType
        }
    }
}

extension Engine {
    /// Engine-wide ids of a validated module's types: equal types (iso-recursively, see
    /// `TypeCanonicalization`) get equal ids, in any module. A function type's id is its
    /// signature id.
    func canonicalTypeIDs(of module: ModuleInfo) -> [UInt64] {
        withTypeRegistry { $0.ids(definitions: module.definitions, groups: module.recursionGroups) }
    }

    /// Whether the type with engine id `sub` is the one with id `sup` or a subtype of it.
    func isSubtype(_ sub: UInt64, of sup: UInt64) -> Bool {
        withTypeRegistry { $0.isSubtype(sub, of: sup) }
    }
}
