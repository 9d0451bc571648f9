import Foundation
import WAT
import WasmTypes
import XCTest

@testable import Kiln

/// The GC type system: canonical (iso-recursive) type identity in one Engine, subtyping with
/// `sub`/`final`, the typing of GC instructions; GC modules compile and run.
final class GCTypeTests: XCTestCase {
    private func info(_ text: String) throws -> ModuleInfo {
        try ModuleDecoder.decode(try wat2wasm(text, features: ModuleDecoder.features))
    }

    private func validate(_ text: String) throws {
        try Validator.validate(try info(text), typesOnly: true)
    }

    private func assertValid(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNoThrow(try validate(text), file: file, line: line)
    }

    private func assertInvalid(_ text: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try validate(text)
            XCTFail("expected invalid (\(message)), but it validated", file: file, line: line)
        } catch KilnError.invalid(let reason, _, _) {
            XCTAssertTrue(reason.contains(message), "expected \"\(message)\", got \"\(reason)\"", file: file, line: line)
        } catch {
            XCTFail("expected invalid (\(message)), got \(error)", file: file, line: line)
        }
    }

    // MARK: Decoding

    func testTypeSectionKeepsRecursionGroupsAndSubtypeDeclarations() throws {
        let text = """
            (module
              (type $f (func (param i32)))
              (rec (type $a (sub (struct (field (mut i8)) (field (ref null $b)))))
                   (type $b (sub final $a (struct (field (mut i8)) (field (ref null $b)) (field i16)))))
              (type $v (array (mut f64))))
            """
        let module = try info(text)
        XCTAssertEqual(module.recursionGroups, [0..<1, 1..<3, 3..<4])
        XCTAssertEqual(module.definitions.count, 4)
        XCTAssertEqual(module.definitions[2].supertypes, [1])
        XCTAssertTrue(module.definitions[2].isFinal)
        XCTAssertFalse(module.definitions[1].isFinal)
        guard case .structType(let b) = module.definitions[2].body else { return XCTFail("\(module.definitions[2])") }
        XCTAssertEqual(b.fields[0], FieldType(storage: .packed(.i8), isMutable: true))
        XCTAssertEqual(b.fields[1].storage, .value(.ref(ReferenceType(isNullable: true, heapType: .concrete(typeIndex: 2)))))
        guard case .arrayType(let v) = module.definitions[3].body else { return XCTFail("\(module.definitions[3])") }
        XCTAssertEqual(v.element, FieldType(storage: .value(.f64), isMutable: true))
        // The function-type view: the function type, placeholders for the others.
        XCTAssertEqual(module.types[0], FunctionType(parameters: [.i32]))
        // With GC switched off, the same module is unsupported, naming GC.
        var features = WasmFeatures.default
        features.remove(.gc)
        XCTAssertThrowsError(try ModuleDecoder.decode(try wat2wasm(text, features: ModuleDecoder.features), features: features)) { error in
            guard case KilnError.unsupported(let feature) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(feature.contains("GC") && feature.contains("disabled"), feature)
        }
    }

    // MARK: Canonical identity

    func testEquivalentRecursionGroupsGetEqualIDsAcrossModules() throws {
        let engine = Engine()
        let a = try info("""
            (module
              (rec (type $a (struct (field (ref null $b)))) (type $b (struct (field i32) (field (ref null $a)))))
              (type $f (func (param (ref null $a)))))
            """)
        let b = try info("""
            (module
              (type $g (func))
              (rec (type $x (struct (field (ref null $y)))) (type $y (struct (field i32) (field (ref null $x)))))
              (type $h (func (param (ref null $x)))))
            """)
        try Validator.validate(a, typesOnly: true)
        try Validator.validate(b, typesOnly: true)
        // A forward reference out of the group is an unknown type.
        XCTAssertThrowsError(try validate("(module (type (struct (field (ref null 1)))) (type (struct)))"))
        let idsA = engine.canonicalTypeIDs(of: a)
        let idsB = engine.canonicalTypeIDs(of: b)
        XCTAssertEqual(idsA[0], idsB[1])
        XCTAssertEqual(idsA[1], idsB[2])
        // The function types name equal struct types by their canonical ids: equal too.
        XCTAssertEqual(idsA[2], idsB[3])
        XCTAssertNotEqual(idsA[0], idsA[1])
        // A plain function type's id is its signature id, what call_indirect compares.
        XCTAssertEqual(idsB[0], engine.signatureID(FunctionType(parameters: [], results: [])))
        XCTAssertEqual(Set(idsA + idsB).count, 4)
    }

    func testDifferentGroupsGetDifferentIDs() throws {
        let engine = Engine()
        let base = try info("(module (rec (type (struct (field i32))) (type (struct (field i64)))))")
        // Same types in another order, or outside a rec group, or not final: other types.
        let swapped = try info("(module (rec (type (struct (field i64))) (type (struct (field i32)))))")
        let separate = try info("(module (type (struct (field i32))) (type (struct (field i64))))")
        let open = try info("(module (rec (type (sub (struct (field i32)))) (type (struct (field i64)))))")
        let idsBase = engine.canonicalTypeIDs(of: base)
        XCTAssertEqual(engine.canonicalTypeIDs(of: base), idsBase, "canonicalization is stable")
        let others = [swapped, separate, open].flatMap { engine.canonicalTypeIDs(of: $0) }
        XCTAssertTrue(Set(idsBase).isDisjoint(with: others), "\(idsBase) vs \(others)")
    }

    func testEqualGroupsInOneModuleShareACanonicalIndex() throws {
        let module = try info("""
            (module
              (rec (type $a1 (func (param (ref null $b1)))) (type $b1 (struct)))
              (rec (type $a2 (func (param (ref null $b2)))) (type $b2 (struct)))
              (func $f (type $a1))
              (func (param (ref null $a2)) (call_ref $a1 (ref.null $b2) (local.get 0))))
            """)
        let space = try Validator.TypeSpace(definitions: module.definitions, groups: module.recursionGroups)
        XCTAssertEqual(Array(space.canonical.prefix(4)), [0, 1, 0, 1])
        try Validator.validate(module, typesOnly: true)
    }

    func testSupertypeChainsAnswerSubtypingInOneLoad() throws {
        let engine = Engine()
        let module = try info("""
            (module
              (type $root (sub (struct)))
              (type $mid (sub $root (struct (field i32))))
              (type $leaf (sub final $mid (struct (field i32) (field i64))))
              (type $other (sub $root (struct (field f32)))))
            """)
        try Validator.validate(module, typesOnly: true)
        let ids = engine.canonicalTypeIDs(of: module)
        let (root, mid, leaf, other) = (ids[0], ids[1], ids[2], ids[3])
        let chain = engine.withTypeRegistry { $0.chain(of: leaf) }
        XCTAssertEqual(chain, [root, mid, leaf])
        XCTAssertTrue(engine.isSubtype(leaf, of: root))
        XCTAssertTrue(engine.isSubtype(leaf, of: mid))
        XCTAssertTrue(engine.isSubtype(other, of: root))
        XCTAssertFalse(engine.isSubtype(other, of: mid))
        XCTAssertFalse(engine.isSubtype(root, of: leaf))
        XCTAssertEqual(engine.withTypeRegistry { $0.finality[Int(leaf - 1)] }, true)
    }

    // MARK: Subtyping

    func testDeclaredSubtypesMustMatchTheirSupertype() {
        assertValid("""
            (module
              (type $f (func))
              (type $a (sub (struct (field (ref null func)))))
              (type $b (sub $a (struct (field (ref null $f)) (field i8))))
              (type $g (sub (func (param (ref $b)) (result anyref))))
              (type $h (sub $g (func (param (ref null $a)) (result (ref eq))))))
            """)
        // A mutable field is invariant.
        assertInvalid("""
            (module (type $a (sub (struct (field (mut anyref))))) (type $b (sub $a (struct (field (mut eqref))))))
            """, "sub type")
        // Final types have no subtypes.
        assertInvalid("(module (type $a (struct)) (type $b (sub $a (struct))))", "sub type")
        // A struct is not an array.
        assertInvalid("(module (type $a (sub (array i32))) (type $b (sub $a (struct))))", "sub type")
        // Parameters are contravariant.
        assertInvalid("""
            (module (type $a (sub (func (param eqref)))) (type $b (sub $a (func (param i31ref)))))
            """, "sub type")
    }

    // MARK: Instructions

    func testGCInstructionTyping() {
        assertValid("""
            (module
              (type $p (sub (struct (field (mut i8)) (field i64))))
              (type $c (sub $p (struct (field (mut i8)) (field i64) (field (ref null $p)))))
              (type $v (array (mut i16)))
              (func (param (ref null $c)) (result i32)
                (struct.get_s $p 0 (local.get 0)))
              (func (param anyref) (result (ref null $p))
                (block $l (result (ref null $p))
                  (br_on_cast $l anyref (ref null $p) (local.get 0))
                  (drop) (ref.null none)))
              (func (param externref) (result i32)
                (ref.test (ref $c) (any.convert_extern (local.get 0))))
              (func (param (ref $v)) (array.set $v (local.get 0) (i32.const 0) (i32.const 7)))
              (func (result eqref) (ref.i31 (i32.const 1)))
              (global (ref $c) (struct.new $c (i32.const 1) (i64.const 2) (ref.null none)))
              (global (ref $v) (array.new_fixed $v 2 (i32.const 1) (i32.const 2))))
            """)
        assertInvalid("""
            (module (type $s (struct (field i8))) (func (param (ref $s)) (result i32) (struct.get $s 0 (local.get 0))))
            """, "packed")
        assertInvalid("""
            (module (type $s (struct (field i32))) (func (param (ref $s)) (struct.set $s 0 (local.get 0) (i32.const 1))))
            """, "immutable field")
        // A cast stays within its hierarchy: an externref is not castable to a struct.
        assertInvalid("""
            (module (type $s (struct)) (func (param externref) (result i32) (ref.test (ref $s) (local.get 0))))
            """, "type mismatch")
        assertInvalid("""
            (module (type $s (struct (field i32))) (global (ref null $s) (ref.null $s))
              (global i32 (struct.get $s 0 (global.get 0))))
            """, "constant expression required")
    }

    // MARK: Compiled

    func testGCModulesRunAndInvalidOnesAreInvalid() throws {
        let engine = Engine()
        let gc = try Module(engine: engine, wat: """
            (module (type $s (struct (field i32))) (func (export "get") (result i32) (struct.get $s 0 (struct.new $s (i32.const 7)))))
            """)
        let gcInstance = try Instance(store: Store(engine: engine), module: gc)
        XCTAssertEqual(try XCTUnwrap(gcInstance.function("get")).call([]), [.i32(7)])
        // An invalid GC module is invalid, not unsupported.
        XCTAssertThrowsError(try Module(engine: engine, wat: """
            (module (type $s (struct (field i32))) (func (result i32) (struct.new $s (i32.const 1))))
            """)) { error in
            guard case KilnError.invalid = error else { return XCTFail("got \(error)") }
        }
        // Struct types that only shape function types' recursion groups: compiled and run.
        let module = try Module(engine: engine, wat: """
            (module
              (rec (type $f (func (param i32) (result i32))) (type (struct (field (ref $f)))))
              (table funcref (elem $double))
              (func $double (type $f) (i32.mul (local.get 0) (i32.const 2)))
              (func (export "run") (param i32) (result i32)
                (call_indirect (type $f) (local.get 0) (i32.const 0))))
            """)
        let store = Store(engine: engine)
        let instance = try Instance(store: store, module: module)
        let run = try XCTUnwrap(instance.function("run"))
        XCTAssertEqual(try run.call([.i32(21)]), [.i32(42)])
    }

    func testFunctionImportsMatchThroughDeclaredSubtypes() throws {
        let engine = Engine()
        let exporter = try Module(engine: engine, wat: """
            (module
              (type $t (sub (func (result i32))))
              (type $s (sub final $t (func (result i32))))
              (func (export "f") (type $s) (i32.const 7)))
            """)
        let store = Store(engine: engine)
        let f = try XCTUnwrap(try Instance(store: store, module: exporter).function("f"))
        let importer = try Module(engine: engine, wat: """
            (module
              (type $t (sub (func (result i32))))
              (import "m" "f" (func $f (type $t)))
              (func (export "g") (result i32) (call $f)))
            """)
        let g = try XCTUnwrap(try Instance(store: store, module: importer, imports: [.function(f)]).function("g"))
        XCTAssertEqual(try g.call([]), [.i32(7)])
        // The other way round does not link: a supertype's function is not a subtype's.
        let strict = try Module(engine: engine, wat: """
            (module
              (type $t (sub (func (result i32))))
              (type $s (sub final $t (func (result i32))))
              (type $u (sub $t (func (result i32))))
              (import "m" "f" (func (type $u))))
            """)
        XCTAssertThrowsError(try Instance(store: store, module: strict, imports: [.function(f)])) { error in
            guard case KilnError.unlinkable = error else { return XCTFail("got \(error)") }
        }
    }
}
