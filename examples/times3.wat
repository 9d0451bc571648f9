(module
  ;; A tiny library: kiln run examples/times3.wat --invoke times3 12
  (func $times3 (export "times3") (param i32) (result i32)
    local.get 0
    i32.const 3
    i32.mul)
  (func $fac (export "fac") (param i64) (result i64)
    local.get 0
    i64.eqz
    if (result i64)
      i64.const 1
    else
      local.get 0
      local.get 0
      i64.const 1
      i64.sub
      call $fac
      i64.mul
    end))
