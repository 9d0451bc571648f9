/// Handles compare by identity: two handles are equal when they name the same memory, table,
/// global, function or instance, however they were obtained (created by the host, read from an
/// instance's exports, or from a table), so a host can tell that an export is the object it
/// provided.

extension Memory: Hashable {
    public static func == (a: Memory, b: Memory) -> Bool { a.memory == b.memory }
    public func hash(into hasher: inout Hasher) { hasher.combine(memory) }
}

extension Table: Hashable {
    public static func == (a: Table, b: Table) -> Bool { a.table == b.table }
    public func hash(into hasher: inout Hasher) { hasher.combine(table) }
}

extension Global: Hashable {
    public static func == (a: Global, b: Global) -> Bool { a.cell == b.cell }
    public func hash(into hasher: inout Hasher) { hasher.combine(cell) }
}

extension Function: Hashable {
    // An importer of a host function holds a copy of its record (naming the importer for
    // `Caller`); every copy points at the canonical record, as a funcref value does.
    public static func == (a: Function, b: Function) -> Bool { a.record.pointee.ref == b.record.pointee.ref }
    public func hash(into hasher: inout Hasher) { hasher.combine(record.pointee.ref) }
}

extension Instance: Hashable {
    public static func == (a: Instance, b: Instance) -> Bool { a.entity === b.entity }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(entity)) }
}
