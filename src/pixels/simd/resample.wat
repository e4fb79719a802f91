;; Pillow's two resampling passes for 8-bit RGB (see ../pil-resample.ts), as wasm SIMD:
;; the same 22-bit fixed-point weights, the same rounding (start at 2^21) and the same
;; clip to 0..255 after an arithmetic shift, so the bytes are identical to the scalar code.
;; Compiled by compile-wat.mjs into resample-wasm.ts; the memory is the caller's to lay out.
(module
  (memory (export "memory") 1)

  ;; Horizontal pass of one RGBA row at $src into packed RGB at $dst, for output columns
  ;; $x0..$x1. starts/counts: i32 per output column; weights: $ksize i32 per column.
  ;; Each pixel is written as 4 bytes (the 4th is overwritten by the next pixel): $dst
  ;; needs one byte of slack after the row.
  (func (export "hpass")
    (param $src i32) (param $dst i32) (param $x0 i32) (param $x1 i32)
    (param $starts i32) (param $counts i32) (param $weights i32) (param $ksize i32)
    (local $xx i32) (local $p i32) (local $w i32) (local $end i32) (local $acc v128)
    (local.set $xx (local.get $x0))
    (block $done
      (loop $column
        (br_if $done (i32.ge_s (local.get $xx) (local.get $x1)))
        (local.set $acc (i32x4.splat (i32.const 2097152)))
        (local.set $p (i32.add (local.get $src)
          (i32.shl (i32.load (i32.add (local.get $starts) (i32.shl (local.get $xx) (i32.const 2)))) (i32.const 2))))
        (local.set $w (i32.add (local.get $weights)
          (i32.shl (i32.mul (local.get $xx) (local.get $ksize)) (i32.const 2))))
        (local.set $end (i32.add (local.get $w)
          (i32.shl (i32.load (i32.add (local.get $counts) (i32.shl (local.get $xx) (i32.const 2)))) (i32.const 2))))
        (block $tapsDone
          (loop $tap
            (br_if $tapsDone (i32.ge_u (local.get $w) (local.get $end)))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.mul
                (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $p))))
                (i32x4.splat (i32.load (local.get $w))))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $w (i32.add (local.get $w) (i32.const 4)))
            (br $tap)))
        (call $store3 (local.get $dst) (local.get $acc))
        (local.set $dst (i32.add (local.get $dst) (i32.const 3)))
        (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
        (br $column))))

  ;; Vertical pass for one output row: $n bytes at $dst from $count rows whose addresses
  ;; are i32s at $rows, weighted by the i32s at $weights. Works 4 bytes at a time: the rows
  ;; and $dst need 3 bytes of slack.
  (func (export "vpass")
    (param $dst i32) (param $n i32) (param $rows i32) (param $weights i32) (param $count i32)
    (local $i i32) (local $k i32) (local $acc v128)
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $acc (i32x4.splat (i32.const 2097152)))
        (local.set $k (i32.const 0))
        (block $tapsDone
          (loop $tap
            (br_if $tapsDone (i32.ge_s (local.get $k) (local.get $count)))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.mul
                (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                  (v128.load32_zero (i32.add (local.get $i)
                    (i32.load (i32.add (local.get $rows) (i32.shl (local.get $k) (i32.const 2))))))))
                (i32x4.splat (i32.load (i32.add (local.get $weights) (i32.shl (local.get $k) (i32.const 2))))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tap)))
        (call $store4 (i32.add (local.get $dst) (local.get $i)) (local.get $acc))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $chunk))))

  ;; The four lanes shifted down by 22 and clamped to 0..255 (signed then unsigned
  ;; saturation), as four bytes in the low 32 bits.
  (func $clip (param $acc v128) (result v128)
    (local $s v128)
    (local.set $s (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $acc) (i32.const 22)) (v128.const i32x4 0 0 0 0)))
    (i8x16.narrow_i16x8_u (local.get $s) (local.get $s)))

  (func $store3 (param $at i32) (param $acc v128)
    (v128.store32_lane 0 (local.get $at) (call $clip (local.get $acc))))

  (func $store4 (param $at i32) (param $acc v128)
    (v128.store32_lane 0 (local.get $at) (call $clip (local.get $acc)))))
