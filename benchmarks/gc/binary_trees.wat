;; Binary trees (the Computer Language Benchmarks Game's allocation benchmark) in Wasm GC:
;; a stretch tree of depth MAX + 1, a long-lived tree of depth MAX, and 2^(MAX - d + 4) short-lived
;; trees of each depth d = 4, 6, ..., MAX. run() returns the total node count of every tree
;; checked, which is also how many nodes were allocated.
(module
  (type $tree (struct (field (ref null $tree)) (field (ref null $tree))))
  (global $max i32 (i32.const 16))
  (func $make (param $d i32) (result (ref $tree))
    (if (result (ref $tree)) (local.get $d)
      (then (struct.new $tree
              (call $make (i32.sub (local.get $d) (i32.const 1)))
              (call $make (i32.sub (local.get $d) (i32.const 1)))))
      (else (struct.new $tree (ref.null $tree) (ref.null $tree)))))
  (func $check (param $t (ref $tree)) (result i64)
    (local $left (ref null $tree))
    (local.set $left (struct.get $tree 0 (local.get $t)))
    (if (result i64) (ref.is_null (local.get $left))
      (then (i64.const 1))
      (else (i64.add (i64.const 1)
              (i64.add (call $check (ref.as_non_null (local.get $left)))
                       (call $check (ref.as_non_null (struct.get $tree 1 (local.get $t)))))))))
  (func (export "run") (result i64)
    (local $d i32) (local $i i32) (local $iterations i32) (local $sum i64) (local $long (ref null $tree))
    (local.set $sum (call $check (call $make (i32.add (global.get $max) (i32.const 1)))))
    (local.set $long (call $make (global.get $max)))
    (local.set $d (i32.const 4))
    (block $done
      (loop $depths
        (br_if $done (i32.gt_s (local.get $d) (global.get $max)))
        (local.set $iterations (i32.shl (i32.const 1) (i32.add (i32.sub (global.get $max) (local.get $d)) (i32.const 4))))
        (local.set $i (i32.const 0))
        (loop $trees
          (local.set $sum (i64.add (local.get $sum) (call $check (call $make (local.get $d)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $trees (i32.lt_u (local.get $i) (local.get $iterations))))
        (local.set $d (i32.add (local.get $d) (i32.const 2)))
        (br $depths)))
    (i64.add (local.get $sum) (call $check (ref.as_non_null (local.get $long))))))
