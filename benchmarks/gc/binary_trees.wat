;; Binary trees (the Computer Language Benchmarks Game's allocation test), with Wasm GC structs:
;; many short-lived trees of growing depth next to one long-lived tree.
;; run(max_depth) returns a checksum of every tree's node count.
(module
  (type $node (struct (field $left (ref null $node)) (field $right (ref null $node))))

  (func $make (param $depth i32) (result (ref $node))
    (if (result (ref $node)) (i32.eqz (local.get $depth))
      (then (struct.new_default $node))
      (else
        (struct.new $node
          (call $make (i32.sub (local.get $depth) (i32.const 1)))
          (call $make (i32.sub (local.get $depth) (i32.const 1)))))))

  (func $check (param $tree (ref $node)) (result i32)
    (local $left (ref null $node))
    (local.set $left (struct.get $node $left (local.get $tree)))
    (if (result i32) (ref.is_null (local.get $left))
      (then (i32.const 1))
      (else
        (i32.add (i32.const 1)
          (i32.add
            (call $check (ref.as_non_null (local.get $left)))
            (call $check (ref.as_non_null (struct.get $node $right (local.get $tree)))))))))

  (func (export "run") (param $max i32) (result i64)
    (local $long (ref null $node))
    (local $depth i32)
    (local $iterations i32)
    (local $i i32)
    (local $sum i64)
    ;; A stretch tree one deeper than the rest, dropped at once.
    (local.set $sum (i64.extend_i32_u (call $check (call $make (i32.add (local.get $max) (i32.const 1))))))
    (local.set $long (call $make (local.get $max)))
    (local.set $depth (i32.const 4))
    (block $done
      (loop $depths
        (br_if $done (i32.gt_s (local.get $depth) (local.get $max)))
        (local.set $iterations (i32.shl (i32.const 1) (i32.add (i32.sub (local.get $max) (local.get $depth)) (i32.const 4))))
        (local.set $i (i32.const 0))
        (loop $trees
          (local.set $sum (i64.add (i64.mul (local.get $sum) (i64.const 31))
            (i64.extend_i32_u (call $check (call $make (local.get $depth))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $trees (i32.lt_u (local.get $i) (local.get $iterations))))
        (local.set $depth (i32.add (local.get $depth) (i32.const 2)))
        (br $depths)))
    (i64.add (i64.mul (local.get $sum) (i64.const 31))
      (i64.extend_i32_u (call $check (ref.as_non_null (local.get $long)))))))
