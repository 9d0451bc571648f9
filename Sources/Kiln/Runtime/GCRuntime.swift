import Foundation
import KilnRuntimeC
import WasmParser
import WasmTypes

/// Where fields and elements of GC objects live (docs/gc-design.md): a struct's fields follow
/// its one-word header at natural alignment (at most 8), an array's elements start at 16, after
/// the header and the length. The lowering and the RTTs both use this, so they cannot disagree.
enum GCLayout {
    static let arrayData = 16

    static func size(_ storage: StorageType) -> Int {
        switch storage {
        case .packed(.i8): return 1
        case .packed(.i16): return 2
        case .value(.i32), .value(.f32): return 4
        case .value(.i64), .value(.f64), .value(.ref): return 8
        case .value(.v128): return 16
        }
    }

    /// The C type a field is stored as.
    static func cType(_ storage: StorageType) -> String {
        switch storage {
        case .packed(.i8): return "u8"
        case .packed(.i16): return "u16"
        case .value(let type): return CSyntax.type(type)
        }
    }

    /// The value type a field reads as (packed fields read as i32).
    static func valueType(_ storage: StorageType) -> ValueType {
        switch storage {
        case .packed: return .i32
        case .value(let type): return type
        }
    }

    struct Struct {
        var offsets: [Int]
        var size: Int
        var referenceOffsets: [UInt32]
    }

    static func layout(_ type: StructType) -> Struct {
        var offset = 8
        var offsets: [Int] = []
        var references: [UInt32] = []
        for field in type.fields {
            let size = self.size(field.storage)
            let alignment = min(size, 8)
            offset = (offset + alignment - 1) / alignment * alignment
            offsets.append(offset)
            if case .value(.ref) = field.storage { references.append(UInt32(offset)) }
            offset += size
        }
        return Struct(offsets: offsets, size: (offset + 7) / 8 * 8, referenceOffsets: references)
    }
}

/// How Swift reads a field or element of a GC object (``AnyRef``).
enum GCFieldKind: Sendable {
    case i8, i16, number(ValueType), funcRef, externRef, anyRef, exnRef
}

/// The Engine's RTTs: one immortal `kiln_rtt` per canonical type that a module or a host
/// function needed, made from the registry's supertype chain and the type's layout.
final class RTTRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var rtts: [UInt64: UnsafeMutablePointer<kiln_rtt>] = [:]
    /// How Swift reads the fields of struct types (kind, byte offset) and the element of array
    /// types (kind, offset of element 0).
    private var fields: [UInt64: [(kind: GCFieldKind, offset: Int)]] = [:]
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for allocation in allocations { allocation.deallocate() }
    }

    private func keep<T>(_ values: [T]) -> UnsafePointer<T>? {
        guard !values.isEmpty else { return nil }
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: values.count)
        pointer.initialize(from: values, count: values.count)
        allocations.append(UnsafeMutableRawPointer(pointer))
        return UnsafePointer(pointer)
    }

    /// The RTT of canonical type `id`, whose definition (in some module) is `body`.
    func rtt(id: UInt64, chain: [UInt64], body: CompositeType, kinds: @autoclosure () -> [GCFieldKind]) -> UnsafePointer<kiln_rtt> {
        lock.lock()
        defer { lock.unlock() }
        if let rtt = rtts[id] { return UnsafePointer(rtt) }
        var rtt = kiln_rtt()
        withUnsafeMutableBytes(of: &rtt.display) { display in
            for (index, ancestor) in chain.prefix(Int(KILN_DISPLAY)).enumerated() {
                display.storeBytes(of: ancestor, toByteOffset: index * 8, as: UInt64.self)
            }
        }
        rtt.chain = keep(chain)
        rtt.id = id
        rtt.depth = UInt32(max(chain.count - 1, 0))
        switch body {
        case .function:
            rtt.kind = UInt32(KILN_RTT_FUNC)
        case .structType(let type):
            let layout = GCLayout.layout(type)
            rtt.kind = UInt32(KILN_RTT_STRUCT)
            rtt.size = UInt32(layout.size)
            rtt.ref_count = UInt32(layout.referenceOffsets.count)
            rtt.ref_offsets = keep(layout.referenceOffsets)
            fields[id] = Array(zip(kinds(), layout.offsets)).map { ($0, $1) }
        case .arrayType(let type):
            rtt.kind = UInt32(KILN_RTT_ARRAY)
            rtt.size = UInt32(GCLayout.size(type.element.storage))
            if case .value(.ref) = type.element.storage { rtt.ref_count = 1 }
            fields[id] = kinds().map { ($0, GCLayout.arrayData) }
        }
        let pointer = UnsafeMutablePointer<kiln_rtt>.allocate(capacity: 1)
        pointer.initialize(to: rtt)
        allocations.append(UnsafeMutableRawPointer(pointer))
        rtts[id] = pointer
        return UnsafePointer(pointer)
    }

    func fields(_ id: UInt64) -> [(kind: GCFieldKind, offset: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return fields[id] ?? []
    }
}

/// A module's `rtts` table (`kiln_instance.rtts`): the RTT of every type index.
final class ModuleRTTs: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UnsafePointer<kiln_rtt>?>

    init(engine: Engine, info: ModuleInfo, ids: [UInt64]) {
        pointer = .allocate(capacity: max(info.definitions.count, 1))
        pointer.initialize(repeating: nil, count: max(info.definitions.count, 1))
        for (index, definition) in info.definitions.enumerated() where index < ids.count {
            pointer[index] = engine.rtt(id: ids[index], body: definition.body, kinds: Self.kinds(definition.body, info: info))
        }
    }

    deinit { pointer.deallocate() }

    /// How Swift reads each field (struct) or the element (array) of a type.
    static func kinds(_ body: CompositeType, info: ModuleInfo) -> [GCFieldKind] {
        func kind(_ storage: StorageType) -> GCFieldKind {
            switch storage {
            case .packed(.i8): return .i8
            case .packed(.i16): return .i16
            case .value(.ref(let reference)): return GCValues.kind(of: reference.heapType, info: info)
            case .value(let type): return .number(type)
            }
        }
        switch body {
        case .function: return []
        case .structType(let type): return type.fields.map { kind($0.storage) }
        case .arrayType(let type): return [kind(type.element.storage)]
        }
    }
}

extension Engine {
    /// The RTT of the canonical type `id` (made once, kept for the engine's life).
    func rtt(id: UInt64, body: CompositeType, kinds: @autoclosure () -> [GCFieldKind] = []) -> UnsafePointer<kiln_rtt> {
        let chain = withTypeRegistry { $0.chain(of: id) }
        return gcTypes.rtt(id: id, chain: chain.isEmpty ? [id] : chain, body: body, kinds: kinds())
    }
}

/// Which hierarchy a reference type belongs to, and the word conventions (kiln_prelude.h).
enum GCValues {
    static func kind(of heap: HeapType, info: ModuleInfo?) -> GCFieldKind {
        switch heap {
        case .abstract(.funcRef), .abstract(.noFunc): return .funcRef
        case .abstract(.externRef), .abstract(.noExtern): return .externRef
        case .abstract(.exnRef), .abstract(.noExn): return .exnRef
        case .abstract: return .anyRef
        case .concrete(let index):
            if let info, Int(index) < info.definitions.count, case .function = info.definitions[Int(index)].body { return .funcRef }
            return info == nil ? .funcRef : .anyRef
        }
    }

    static func isAnyHierarchy(_ heap: HeapType) -> Bool {
        switch heap {
        case .abstract(.any), .abstract(.eq), .abstract(.i31), .abstract(.structRef), .abstract(.arrayRef), .abstract(.noneRef), .concrete:
            return true
        default:
            return false
        }
    }

    /// A typed call may read a result of a GC type as `AnyRef?` (anyref): the same parameters,
    /// and every result equal or a reference of the any hierarchy where anyref is expected.
    static func resultsWiden(_ actual: FunctionType, to expected: FunctionType, info: ModuleInfo?) -> Bool {
        guard actual.parameters == expected.parameters, actual.results.count == expected.results.count else { return false }
        let anyref = ValueType.ref(ReferenceType(isNullable: true, heapType: .abstract(.any)))
        return zip(actual.results, expected.results).allSatisfy { result, wanted in
            if result == wanted { return true }
            guard wanted == anyref, case .ref(let reference) = result else { return false }
            if case .concrete = reference.heapType, info == nil { return false }
            if case .anyRef = kind(of: reference.heapType, info: info) { return true }
            return false
        }
    }

    /// Whether a word is a GC object (not null, an i31 or a host reference).
    static func isObject(_ word: UInt64) -> Bool { word != 0 && word & 3 == 0 }
}

/// A reference of the `any` hierarchy held by Swift: an i31, a host value (an ``ExternRef``
/// internalized by `any.convert_extern`), or a GC struct or array, which stays alive while this
/// handle does. Fields and elements are readable from Swift.
public final class AnyRef: @unchecked Sendable {
    enum Storage {
        case i31(Int32)
        case host(ExternRef)
        case object(Store, UInt32)
    }
    let storage: Storage

    /// An `i31ref` of the low 31 bits of `value`.
    public init(i31 value: Int32) { storage = .i31((value << 1) >> 1) }
    /// A host value as an `anyref` (what `any.convert_extern` makes of an externref).
    public init(host: ExternRef) { storage = .host(host) }

    init(store: Store, word: UInt64) {
        if word & 1 == 1 {
            storage = .i31(Int32(truncatingIfNeeded: UInt32(truncatingIfNeeded: word)) >> 1)
        } else if word & 3 == 2 {
            storage = .host(Unmanaged<ExternRef>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(word & ~3))!).takeUnretainedValue())
        } else {
            storage = .object(store, kiln_gc_handle_new(store.heap, UnsafeMutableRawPointer(bitPattern: UInt(word))))
        }
    }

    deinit {
        if case .object(let store, let handle) = storage { kiln_gc_handle_release(store.heap, handle) }
    }

    /// The word in `store` (the store must be the object's).
    func word(in store: Store) -> UInt64 {
        switch storage {
        case .i31(let value): return UInt64(UInt32(bitPattern: value) << 1 | 1)
        case .host(let reference): return store.hostWord(reference)
        case .object(let owner, let handle):
            precondition(owner === store, "a GC object of another store cannot be used in this store")
            return UInt64(UInt(bitPattern: kiln_gc_handle_get(store.heap, handle)))
        }
    }

    /// The object's address (nil for i31 and host references).
    private var object: (store: Store, address: UnsafeMutableRawPointer)? {
        guard case .object(let store, let handle) = storage, let address = kiln_gc_handle_get(store.heap, handle) else { return nil }
        return (store, address)
    }

    private var rtt: UnsafePointer<kiln_rtt>? {
        object?.address.load(as: UnsafePointer<kiln_rtt>.self)
    }

    /// The i31 value (sign-extended), if this is an `i31ref`.
    public var i31: Int32? { if case .i31(let value) = storage { value } else { nil } }
    /// The host value, if this is an internalized externref.
    public var host: ExternRef? { if case .host(let value) = storage { value } else { nil } }
    /// Whether this is a GC struct.
    public var isStruct: Bool { rtt?.pointee.kind == UInt32(KILN_RTT_STRUCT) }
    /// Whether this is a GC array.
    public var isArray: Bool { rtt?.pointee.kind == UInt32(KILN_RTT_ARRAY) }
    /// The array's length, if this is an array.
    public var count: Int? {
        guard isArray, let object else { return nil }
        return Int(object.address.load(fromByteOffset: 8, as: UInt32.self))
    }

    /// Field `index` of a struct (packed fields zero-extended), or nil if there is none.
    public func field(_ index: Int) -> Value? {
        guard isStruct, let object, let rtt else { return nil }
        let fields = object.store.engine.gcTypes.fields(rtt.pointee.id)
        guard index >= 0, index < fields.count else { return nil }
        return object.store.fieldValue(object.address + fields[index].offset, fields[index].kind)
    }

    /// Element `index` of an array (packed elements zero-extended), or nil past its end.
    public func element(_ index: Int) -> Value? {
        guard let count, index >= 0, index < count, let object, let rtt else { return nil }
        guard let element = object.store.engine.gcTypes.fields(rtt.pointee.id).first else { return nil }
        return object.store.fieldValue(object.address + element.offset + index * Int(rtt.pointee.size), element.kind)
    }
}

/// Statistics of a store's GC heap.
public struct GCStatistics: Sendable {
    /// Collections so far.
    public var collections: UInt64
    /// Total and longest pause of a collection, in seconds.
    public var totalPause: Double
    public var maxPause: Double
    /// Bytes allocated since the store was created, and objects.
    public var allocatedBytes: UInt64
    public var allocatedObjects: UInt64
    /// Bytes of objects not (yet) found unreachable, and bytes the heap holds from the system.
    public var bytesInUse: UInt64
    public var heapBytes: UInt64
}

extension Store {
    /// The GC heap's statistics.
    public var gcStatistics: GCStatistics {
        let stats = kiln_heap_stats(heap)
        return GCStatistics(collections: stats.collections, totalPause: Double(stats.total_pause_ns) / 1e9,
                            maxPause: Double(stats.max_pause_ns) / 1e9, allocatedBytes: stats.allocated_bytes,
                            allocatedObjects: stats.allocated_objects, bytesInUse: stats.bytes_in_use, heapBytes: stats.heap_bytes)
    }

    /// Runs a full collection now. Wasm frames are not on the stack here: only the store's
    /// globals, tables, segments, exceptions and Swift handles keep objects alive.
    public func collectGarbage() {
        kiln_gc_collect(heap)
    }

    /// A host value's word: its address tagged with 2 (kiln_prelude.h); the store keeps it.
    func hostWord(_ reference: ExternRef) -> UInt64 {
        if let internalized = reference.internalized { return internalized.word(in: self) }
        retainExtern(reference)
        return UInt64(UInt(bitPattern: Unmanaged.passUnretained(reference).toOpaque())) | 2
    }

    /// An externref word as Swift sees it: a host value, or an internalized anyref wrapped.
    func externValue(_ word: UInt64) -> ExternRef? {
        if word == 0 { return nil }
        if word & 3 == 2 {
            return Unmanaged<ExternRef>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(word & ~3))!).takeUnretainedValue()
        }
        let any = AnyRef(store: self, word: word)
        return ExternRef(internalized: any)
    }

    func fieldValue(_ address: UnsafeMutableRawPointer, _ kind: GCFieldKind) -> Value {
        var raw = kiln_value()
        switch kind {
        case .i8: return .i32(UInt32(address.load(as: UInt8.self)))
        case .i16: return .i32(UInt32(address.loadUnaligned(as: UInt16.self)))
        case .number(let type):
            withUnsafeMutableBytes(of: &raw) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: GCLayout.size(.value(type)))) }
            return value(raw, type: type)
        case .funcRef: raw.ref = address.load(as: UnsafeMutableRawPointer?.self); return value(raw, type: .ref(.funcRef))
        case .externRef: raw.ref = address.load(as: UnsafeMutableRawPointer?.self); return value(raw, type: .ref(.externRef))
        case .exnRef: raw.ref = address.load(as: UnsafeMutableRawPointer?.self); return value(raw, type: .ref(.exnRef))
        case .anyRef:
            raw.ref = address.load(as: UnsafeMutableRawPointer?.self)
            return value(raw, type: .ref(ReferenceType(isNullable: true, heapType: .abstract(.any))))
        }
    }
}

extension AnyRef {
    /// The same reference: equal i31 values, the same host value, the same object.
    static func same(_ a: AnyRef?, _ b: AnyRef?) -> Bool {
        switch (a?.storage, b?.storage) {
        case (nil, nil): return true
        case (.i31(let x)?, .i31(let y)?): return x == y
        case (.host(let x)?, .host(let y)?): return x === y
        case (.object(let s, let x)?, .object(let t, let y)?):
            return s === t && kiln_gc_handle_get(s.heap, x) == kiln_gc_handle_get(t.heap, y)
        default: return false
        }
    }
}

// MARK: - Constant expressions

extension Instantiation {
    /// A GC instruction of a constant expression (allocations, i31, conversions); false for any
    /// other instruction. Objects are allocated without collecting (no Wasm frame to scan yet).
    func evaluateGC(_ instruction: Instruction, stack: inout [kiln_value], context: UnsafeMutablePointer<kiln_instance>) throws -> Bool {
        let info = module.info
        func allocate(_ typeIndex: UInt32, bytes: Int) throws -> UnsafeMutableRawPointer {
            guard let rtt = context.pointee.rtts[Int(typeIndex)],
                  let object = kiln_gc_alloc_raw(store.heap, rtt, UInt64(bytes)) else {
                throw Trap(reason: .gcHeapExhausted, backtrace: [], underlying: nil)
            }
            return object
        }
        func write(_ value: kiln_value, at address: UnsafeMutableRawPointer, _ storage: StorageType) {
            withUnsafeBytes(of: value) { address.copyMemory(from: $0.baseAddress!, byteCount: GCLayout.size(storage)) }
        }
        func push(_ address: UnsafeMutableRawPointer) {
            var value = kiln_value()
            value.ref = address
            stack.append(value)
        }
        func arrayType(_ index: UInt32) -> ArrayType? {
            if case .arrayType(let type) = info.definitions[Int(index)].body { return type }
            return nil
        }
        switch instruction {
        case .refI31:
            let value = stack.removeLast().i32
            var word = kiln_value()
            word.ref = UnsafeMutableRawPointer(bitPattern: UInt(value << 1 | 1))
            stack.append(word)
        case .anyConvertExtern, .externConvertAny:
            break  // the same word in both hierarchies
        case .structNew(let index), .structNewDefault(let index):
            guard case .structType(let type) = info.definitions[Int(index)].body else { return false }
            let layout = GCLayout.layout(type)
            let object = try allocate(index, bytes: layout.size)
            if case .structNew = instruction {
                let values = stack.suffix(type.fields.count)
                stack.removeLast(type.fields.count)
                for (offset, (field, value)) in zip(layout.offsets, zip(type.fields, values)) {
                    write(value, at: object + offset, field.storage)
                }
            }
            push(object)
        case .arrayNew(let index), .arrayNewDefault(let index), .arrayNewFixed(let index, _):
            guard let type = arrayType(index) else { return false }
            var values: [kiln_value] = []
            switch instruction {
            case .arrayNew:
                let count = Int(stack.removeLast().i32)
                let value = stack.removeLast()
                values = Array(repeating: value, count: count)
            case .arrayNewDefault:
                values = Array(repeating: kiln_value(), count: Int(stack.removeLast().i32))
            case .arrayNewFixed(_, let size):
                values = Array(stack.suffix(Int(size)))
                stack.removeLast(Int(size))
            default: break
            }
            let size = GCLayout.size(type.element.storage)
            let object = try allocate(index, bytes: GCLayout.arrayData + values.count * size)
            object.storeBytes(of: UInt32(values.count), toByteOffset: 8, as: UInt32.self)
            for (position, value) in values.enumerated() {
                write(value, at: object + GCLayout.arrayData + position * size, type.element.storage)
            }
            push(object)
        default:
            return false
        }
        return true
    }
}
