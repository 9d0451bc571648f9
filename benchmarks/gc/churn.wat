;; Allocation churn: `count` small arrays of `length` i64s allocated in a loop, only the last
;; `live` (a ring) kept; returns a checksum of the ring. With count 10,000,000 and length 120,
;; about 10 GB are allocated in total.
(module
  (type $block (array (mut i64)))
  (type $ring (array (mut (ref null $block))))
  (func (export "run") (param $count i32) (param $length i32) (param $live i32) (result i64)
    (local $ring (ref $ring))
    (local $i i32)
    (local $block (ref $block))
    (local $sum i64)
    (local.set $ring (array.new_default $ring (local.get $live)))
    (loop $allocate
      (local.set $block (array.new $block (i64.extend_i32_u (local.get $i)) (local.get $length)))
      (array.set $block (local.get $block) (i32.const 0) (i64.extend_i32_u (local.get $i)))
      (array.set $ring (local.get $ring) (i32.rem_u (local.get $i) (local.get $live)) (local.get $block))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $allocate (i32.lt_u (local.get $i) (local.get $count))))
    (local.set $i (i32.const 0))
    (loop $sum
      (local.set $sum (i64.add (local.get $sum)
        (array.get $block (ref.as_non_null (array.get $ring (local.get $ring) (local.get $i))) (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $sum (i32.lt_u (local.get $i) (local.get $live))))
    (local.get $sum)))
