import WasmParser
import WasmTypes

/// Bytes -> `ModuleInfo`. Structural (binary-format) errors are thrown as `.malformed`.
enum ModuleDecoder {
    /// Everything WasmParser knows is decoded, so that a module using a later proposal is
    /// reported as unsupported rather than as malformed.
    static let features: WasmFeatureSet = .all

    static func decode(_ bytes: [UInt8]) throws(KilnError) -> ModuleInfo {
        do {
            return try decodeThrowing(bytes)
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

    private static func decodeThrowing(_ bytes: [UInt8]) throws -> ModuleInfo {
        var info = ModuleInfo()
        var parser = Parser(bytes: bytes, features: features)
        var definedFunctionTypes: [UInt32] = []
        var codes: [Code] = []
        var sawFunctionSection = false
        var sawCodeSection = false
        while let payload = try parser.parseNext() {
            switch payload {
            case .header: break
            case .customSection(let section):
                if section.name == "name" { info.names = decodeNames(section.bytes) }
            case .typeSection(let groups):
                for group in groups {
                    for subtype in group.types {
                        guard case .function(let type) = subtype.body, group.types.count == 1,
                            subtype.supertypes.isEmpty, subtype.isFinal
                        else { throw KilnError.unsupported(feature: "GC types (struct, array, rec, sub)") }
                        info.types.append(type)
                    }
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
                    case .tag:
                        throw KilnError.unsupported(feature: "exception handling (tag import)")
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
            case .tagSection:
                throw KilnError.unsupported(feature: "exception handling (tag section)")
            case .exportSection(let exports):
                info.exports = exports
            case .startSection(let index):
                info.start = index
            case .elementSection(let elements):
                // A segment of function indices is typed `(ref func)`, a subtype of funcref.
                info.elements = elements
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
        try FeatureScan.checkModule(info)
        info.bodies.reserveCapacity(codes.count)
        for code in codes {
            info.bodies.append(try decodeBody(code))
        }
        return info
    }

    private static func decodeBody(_ code: Code) throws -> FunctionBody {
        var instructions: [Instruction] = []
        var offsets: [Int] = []
        var reader = ExpressionParser(code: code)
        var collector = InstructionCollector()
        for local in code.locals { try FeatureScan.check(local) }
        while let visit = try reader.parse() {
            try visit(visitor: &collector)
            try FeatureScan.check(collector.last!)
            instructions.append(collector.last!)
            offsets.append(collector.binaryOffset)
        }
        return FunctionBody(locals: code.locals, instructions: instructions, offsets: offsets)
    }

    private static func decodeNames(_ bytes: ArraySlice<UInt8>) -> NameInfo {
        var names = NameInfo()
        var parser = NameSectionParser(stream: StaticByteStreamSource(bytes: bytes))
        // A malformed name section is ignored, as the spec allows for custom sections.
        guard let parsed = try? parser.parseAll() else { return names }
        for entry in parsed {
            switch entry {
            case .moduleName(let name): names.module = name
            case .functions(let map): names.functions = map
            default: break
            }
        }
        return names
    }
}

/// Collects each decoded instruction as the `Instruction` value.
private struct InstructionCollector: AnyInstructionVisitor {
    typealias VisitorError = Never
    var binaryOffset: Int = 0
    var last: Instruction?
    mutating func visit(_ instruction: Instruction) { last = instruction }
}
