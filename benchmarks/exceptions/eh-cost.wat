;; The cost of exception handling in the shape LLVM gives C++ code: a call inside a try_table
;; whose catch_all_ref runs a cleanup (a destructor) and rethrows with throw_ref.
;; `plain` is the same loop without the try_table; `guarded` enters and leaves a try_table per
;; iteration and never throws; `throwing` throws and catches once per iteration.
(module
  (tag $e (param i32))
  (func $work (param i32) (result i32)
    (i32.add (i32.mul (local.get 0) (i32.const 3)) (i32.const 1)))
  (func $work_or_throw (param i32) (result i32)
    (throw $e (local.get 0)))
  (func (export "plain") (param $n i32) (result i32) (local $sum i32)
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (call $work (local.get $n))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $sum))
  (func (export "guarded") (param $n i32) (result i32) (local $sum i32)
    (loop $l
      (block $cleanup (result exnref)
        (try_table (catch_all_ref $cleanup)
          (local.set $sum (i32.add (local.get $sum) (call $work (local.get $n)))))
        (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))
        (return (local.get $sum)))
      ;; the destructor, then on with the exception
      (local.set $sum (i32.const 0))
      (throw_ref))
    (local.get $sum))
  (func (export "throwing") (param $n i32) (result i32) (local $sum i32)
    (loop $l
      (block $caught (param) (result i32)
        (try_table (result i32) (catch $e $caught)
          (call $work_or_throw (local.get $n)))
        (drop) (i32.const 0))
      (local.set $sum (i32.add (local.get $sum)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $sum))
)
