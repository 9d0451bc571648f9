import WasmParser
import WasmTypes

/// Bytes -> `ModuleInfo`. Structural (binary-format) errors are thrown as `.malformed`.
enum ModuleDecoder {
    /// Everything WasmParser knows is decoded, so that a module using a later proposal is
    /// reported as unsupported rather than as malformed.
    static let features: WasmFeatureSet = .all

    /// `features`: the proposals the module may use (an engine's configuration).
    static func decode(_ bytes: [UInt8], features: WasmFeatures = .default) throws(KilnError) -> ModuleInfo {
        try decode(bytes, gate: FeatureGate(features))
    }

    static func decode(_ bytes: [UInt8], gate: FeatureGate) throws(KilnError) -> ModuleInfo {
        do {
            return try decodeThrowing(bytes, gate: gate)
        } catch let error as KilnError {
            throw error
        } catch let error as WasmParserError {
            let (reason, offset) = readable(error)
            if let invalid = LimitsScan.oversizedLimit(in: bytes, errorOffset: offset) { throw invalid }
            throw KilnError.malformed(reason: reason, offset: offset)
        } catch {
            throw KilnError.malformed(reason: "\(error)", offset: nil)
        }
    }

    /// WasmParser's description wraps its message (`"Message(text: ...)" at offset 0x..`):
    /// unwrap it into the reason and the byte offset.
    private static func readable(_ error: WasmParserError) -> (String, Int?) {
        var text = error.description
        var offset: Int?
        if let range = text.range(of: " at offset 0x", options: .backwards) {
            let hex = text[range.upperBound...].prefix { $0.isHexDigit }
            offset = Int(hex, radix: 16)
            text.removeSubrange(range.lowerBound..<text.index(range.upperBound, offsetBy: hex.count))
        }
        for wrapper in ["\"Message(text: \"", "Message(text: \""] where text.hasPrefix(wrapper) {
            text = String(text.dropFirst(wrapper.count))
            while text.hasSuffix("\"") || text.hasSuffix(")") { text.removeLast() }
        }
        return (text, offset)
    }

    private static func decodeThrowing(_ bytes: [UInt8], gate: FeatureGate) throws -> ModuleInfo {
        var info = ModuleInfo()
        info.features = gate.allowed
        var parser = Parser(bytes: bytes, features: features)
        var definedFunctionTypes: [UInt32] = []
        var codes: [Code] = []
        var sawFunctionSection = false
        var sawCodeSection = false
        var sectionStart = parser.offset
        while let payload = try parser.parseNext() {
            defer { sectionStart = parser.offset }
            switch payload {
            case .header: break
            case .customSection(let section):
                if section.name == "name" { info.names = decodeNames(section.bytes) }
            case .typeSection(let groups):
                // WasmParser flattens `rec` groups and `sub final` wrappers of one function type
                // into plain function types: look at the entries' own encoding for them.
                try scanTypeSection(bytes, sectionStart: sectionStart, gate: gate)
                for group in groups {
                    let start = info.definitions.count
                    for subtype in group.types {
                        if case .function(let type) = subtype.body {
                            if group.types.count != 1 || !subtype.supertypes.isEmpty || !subtype.isFinal {
                                try gate.require(.gc, "rec or sub type")
                            }
                            info.types.append(type)
                        } else {
                            try gate.require(.gc, "struct or array type")
                            info.types.append(FunctionType(parameters: [], results: []))
                        }
                        info.definitions.append(subtype)
                    }
                    info.recursionGroups.append(start..<info.definitions.count)
                }
            case .importSection(let imports):
                info.imports = imports
                for entry in imports {
                    switch entry.descriptor {
                    case .function(let typeIndex):
                        info.functionTypes.append(typeIndex)
                        info.importedFunctionCount += 1
                    case .table(let type):
                        info.tables.append(type)
                        info.importedTableCount += 1
                    case .memory(let type):
                        info.memories.append(type)
                        info.importedMemoryCount += 1
                    case .global(let type):
                        info.globals.append(type)
                        info.importedGlobalCount += 1
                    case .tag(let typeIndex):
                        info.tags.append(typeIndex)
                        info.importedTagCount += 1
                    }
                }
            case .functionSection(let indices):
                sawFunctionSection = true
                definedFunctionTypes = indices
            case .tableSection(let tables):
                for table in tables {
                    info.tables.append(table.type)
                    info.tableInitializers.append(table.initializer)
                }
            case .memorySection(let memories):
                info.memories += memories.map(\.type)
            case .globalSection(let globals):
                for global in globals {
                    info.globals.append(global.type)
                    info.globalInitializers.append(global.initializer)
                }
            case .tagSection(let tags):
                // The section itself is exception handling, even with no tags in it.
                try gate.require(.exceptions, "tag section")
                info.tags += tags.map(\.type)
            case .exportSection(let exports):
                info.exports = exports
            case .startSection(let index):
                info.start = index
            case .elementSection:
                // WasmParser reads segment flags past 7 as if they were flag 0: read it again.
                info.elements = try decodeElementSection(bytes, sectionStart: sectionStart, gate: gate, memoryCount: info.memories.count)
            case .codeSection(let sectionCodes):
                sawCodeSection = true
                codes = sectionCodes
            case .dataSection(let data):
                info.data = data
                if let count = info.dataCount, Int(count) != data.count {
                    throw KilnError.malformed(reason: "data count and data section have inconsistent lengths", offset: nil)
                }
            case .dataCount(let count):
                info.dataCount = count
            }
        }
        if let count = info.dataCount, info.data.count != Int(count) {
            throw KilnError.malformed(reason: "data count and data section have inconsistent lengths", offset: nil)
        }
        if definedFunctionTypes.count != codes.count || (sawFunctionSection != sawCodeSection && !codes.isEmpty) {
            throw KilnError.malformed(reason: "function and code section have inconsistent lengths", offset: nil)
        }
        info.functionTypes += definedFunctionTypes
        try ModuleFeatures.check(info, gate: gate)
        info.code = FunctionCode(
            bytes: bytes, entries: codes.map { FunctionCode.Entry(locals: $0.locals, start: $0.expression.startIndex, end: $0.expression.endIndex) },
            gate: gate, memoryCount: info.memories.count)
        return info
    }

    /// Requires GC for a type section entry that is not a plain function type (0x60): `rec`,
    /// `sub`, `sub final`, struct or array, even where it wraps a single function type.
    private static func scanTypeSection(_ bytes: [UInt8], sectionStart: Int, gate: FeatureGate) throws(KilnError) {
        try bytes.withUnsafeBufferPointer { (buffer) throws(KilnError) in
            var reader = ByteReader(bytes: buffer, position: sectionStart + 1, end: buffer.count)
            let size = Int(try reader.u32())
            guard size <= reader.remaining else { throw reader.malformed("unexpected end of section or function") }
            reader = ByteReader(bytes: buffer, position: reader.position, end: reader.position + size)
            let count = try reader.u32()
            for _ in 0..<count {
                guard try reader.byte() == 0x60 else {
                    try gate.require(.gc, "rec, sub, struct or array type")
                    return  // WasmParser decoded the rest.
                }
                for _ in 0..<2 {
                    let length = try reader.u32()
                    for _ in 0..<length { _ = try TypeDecoding.valueType(&reader) }
                }
            }
        }
    }

    /// The element section at `sectionStart` (its id byte), read with the binary format's
    /// rules: flags 0...7, the elemkind byte 0x00, constant expressions decoded by Kiln.
    private static func decodeElementSection(_ bytes: [UInt8], sectionStart: Int, gate: FeatureGate, memoryCount: Int) throws(KilnError) -> [ElementSegment] {
        try bytes.withUnsafeBufferPointer { (buffer) throws(KilnError) -> [ElementSegment] in
            var header = ByteReader(bytes: buffer, position: sectionStart + 1, end: buffer.count)
            let size = Int(try header.u32())
            guard size <= header.remaining else { throw header.malformed("unexpected end of section or function") }
            var decoder = InstructionDecoder(
                reader: ByteReader(bytes: buffer, position: header.position, end: header.position + size),
                gate: gate, memoryCount: memoryCount)
            let count = try decoder.reader.u32()
            guard Int(count) <= decoder.reader.remaining else { throw decoder.reader.malformed("unexpected end of section or function") }
            var segments: [ElementSegment] = []
            segments.reserveCapacity(Int(count))
            for _ in 0..<count {
                let flagsOffset = decoder.reader.position
                let flags = try decoder.reader.u32()
                guard flags <= 7 else { throw decoder.reader.malformed("malformed elements segment kind", at: flagsOffset) }
                let isPassiveOrDeclarative = flags & 1 != 0
                let hasTableIndexOrIsDeclarative = flags & 2 != 0
                let usesExpressions = flags & 4 != 0
                let mode: ElementSegment.Mode
                if isPassiveOrDeclarative {
                    mode = hasTableIndexOrIsDeclarative ? .declarative : .passive
                } else {
                    let table = hasTableIndexOrIsDeclarative ? try decoder.reader.u32() : 0
                    mode = .active(table: table, offset: try decoder.constantExpression())
                }
                // Flags 0 and 4 imply the type; the others give an elemkind (indices) or a
                // reference type (expressions).
                let hasExplicitType = flags != 0 && flags != 4
                var type: ReferenceType
                if usesExpressions {
                    type = .funcRef
                    if hasExplicitType {
                        let typeOffset = decoder.reader.position
                        guard case .ref(let reference) = try decoder.valueType() else {
                            throw decoder.reader.malformed("malformed reference type", at: typeOffset)
                        }
                        type = reference
                    }
                } else {
                    // A segment of function indices holds non-null functions: `(ref func)`.
                    type = ReferenceType(isNullable: false, heapType: .funcRef)
                    if hasExplicitType {
                        let kindOffset = decoder.reader.position
                        guard try decoder.reader.byte() == 0x00 else {
                            throw decoder.reader.malformed("malformed element kind", at: kindOffset)
                        }
                    }
                }
                let itemCount = try decoder.reader.u32()
                guard Int(itemCount) <= decoder.reader.remaining else {
                    throw decoder.reader.malformed("unexpected end of section or function")
                }
                var items: [ConstExpression] = []
                items.reserveCapacity(Int(itemCount))
                for _ in 0..<itemCount {
                    if usesExpressions {
                        items.append(try decoder.constantExpression())
                    } else {
                        items.append([.refFunc(functionIndex: try decoder.reader.u32())])
                    }
                }
                segments.append(ElementSegment(type: type, initializer: items, mode: mode))
            }
            guard decoder.reader.isAtEnd else { throw decoder.reader.malformed("section size mismatch") }
            return segments
        }
    }

    /// The module's and the functions' names from the name section; the other subsections
    /// (locals, labels, types...: most of the section in large modules) are skipped unread. A
    /// malformed name section is ignored, as the spec allows for custom sections.
    private static func decodeNames(_ bytes: ArraySlice<UInt8>) -> NameInfo {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = ByteReader(bytes: buffer, position: 0, end: buffer.count)
            var names = NameInfo()
            do throws(KilnError) {
                func name() throws(KilnError) -> String {
                    let length = Int(try reader.u32())
                    guard length <= reader.remaining else { throw reader.malformed("length out of bounds") }
                    let start = reader.position
                    reader.position += length
                    guard let text = String(validating: UnsafeBufferPointer(rebasing: buffer[start..<reader.position]), as: UTF8.self)
                    else { throw reader.malformed("malformed UTF-8 encoding") }
                    return text
                }
                while !reader.isAtEnd {
                    let id = try reader.byte()
                    let size = Int(try reader.u32())
                    guard size <= reader.remaining else { return NameInfo() }
                    let end = reader.position + size
                    switch id {
                    case 0:
                        names.module = try name()
                    case 1:
                        let count = try reader.u32()
                        for _ in 0..<count {
                            let index = try reader.u32()
                            names.functions[index] = try name()
                        }
                    default:
                        break
                    }
                    guard reader.position <= end else { return NameInfo() }
                    reader.position = end
                }
            } catch {
                return NameInfo()
            }
            return names
        }
    }
}
