;; Cycles: `count` rings of three nodes pointing at each other, each dropped at once; only
;; a collector that traces (not one that counts references) gets them back.
(module
  (type $node (struct (field $value i32) (field $next (mut (ref null $node)))))
  (func (export "run") (param $count i32) (result i64)
    (local $a (ref $node)) (local $b (ref $node)) (local $c (ref $node))
    (local $i i32) (local $sum i64)
    (loop $rings
      (local.set $c (struct.new $node (i32.const 3) (ref.null $node)))
      (local.set $b (struct.new $node (i32.const 2) (local.get $c)))
      (local.set $a (struct.new $node (i32.const 1) (local.get $b)))
      (struct.set $node $next (local.get $c) (local.get $a))
      (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u
        (struct.get $node $value (ref.as_non_null (struct.get $node $next (local.get $c)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $rings (i32.lt_u (local.get $i) (local.get $count))))
    (local.get $sum)))
