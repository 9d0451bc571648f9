;; A linked list of `count` live nodes built with garbage allocated in between (so collections
;; run while it grows), then walked: returns the sum of the values, which must be
;; count * (count - 1) / 2 when every node survived intact.
(module
  (type $node (struct (field $value i64) (field $next (ref null $node))))
  (type $garbage (struct (field i64) (field i64) (field i64)))
  (func (export "run") (param $count i32) (result i64)
    (local $head (ref null $node))
    (local $i i32)
    (local $sum i64)
    (loop $build
      (local.set $head (struct.new $node (i64.extend_i32_u (local.get $i)) (local.get $head)))
      (drop (struct.new $garbage (i64.const 1) (i64.const 2) (i64.const 3)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $build (i32.lt_u (local.get $i) (local.get $count))))
    (block $end
      (loop $walk
        (br_if $end (ref.is_null (local.get $head)))
        (local.set $sum (i64.add (local.get $sum) (struct.get $node $value (ref.as_non_null (local.get $head)))))
        (local.set $head (struct.get $node $next (ref.as_non_null (local.get $head))))
        (br $walk)))
    (local.get $sum)))
