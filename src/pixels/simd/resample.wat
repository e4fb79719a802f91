;; Pillow's two resampling passes for 8-bit RGB (see ../pil-resample.ts), as wasm SIMD:
;; the same 22-bit fixed-point weights, the same rounding (start at 2^21) and the same
;; clip to 0..255 after an arithmetic shift, so the bytes are identical to the scalar code.
;; Compiled by compile-wat.mjs into resample-wasm.ts; the memory is the caller's to lay out.
(module
  (memory (export "memory") 1)

;; Horizontal pass of one RGBA row at $src into packed RGB at $dst, for output columns
  ;; $x0..$x1, two taps at a time. Each weight w is split as hi * 2048 + lo (hi signed, lo in
  ;; 0..2047) so that both halves fit 16 bits: i32x4.dot_i16x8_s then multiplies a pair of
  ;; neighbouring pixels by a pair of weights and adds them, per channel, exactly.
  ;; $starts: i32 first source pixel per column; $pairs: i32 tap pairs per column; $wvec:
  ;; per column, $stride bytes of [hi x 8 lanes (w0,w1,w0,w1,...), lo x 8 lanes] per pair
  ;; (an odd last tap is paired with weight 0). Each pixel is stored as 4 bytes (the 4th is
  ;; overwritten by the next): $dst needs one byte of slack, $src 4 bytes.
  (func (export "hpass")
    (param $src i32) (param $dst i32) (param $x0 i32) (param $x1 i32)
    (param $starts i32) (param $pairs i32) (param $wvec i32) (param $stride i32)
    (local $xx i32) (local $p i32) (local $w i32) (local $end i32) (local $px v128) (local $hi v128) (local $lo v128)
    (local.set $xx (local.get $x0))
    (block $done
      (loop $column
        (br_if $done (i32.ge_s (local.get $xx) (local.get $x1)))
        (local.set $hi (v128.const i32x4 0 0 0 0))
        (local.set $lo (i32x4.splat (i32.const 2097152)))
        (local.set $p (i32.add (local.get $src)
          (i32.shl (i32.load (i32.add (local.get $starts) (i32.shl (local.get $xx) (i32.const 2)))) (i32.const 2))))
        (local.set $w (i32.add (local.get $wvec) (i32.mul (local.get $xx) (local.get $stride))))
        (local.set $end (i32.add (local.get $w)
          (i32.shl (i32.load (i32.add (local.get $pairs) (i32.shl (local.get $xx) (i32.const 2)))) (i32.const 5))))
        (block $tapsDone
          (loop $tap
            (br_if $tapsDone (i32.ge_u (local.get $w) (local.get $end)))
            ;; [R0 G0 B0 A0 R1 G1 B1 A1] -> [R0 R1 G0 G1 B0 B1 A0 A1] as eight i16
            (local.set $px (i16x8.extend_low_i8x16_u
              (i8x16.shuffle 0 4 1 5 2 6 3 7 8 9 10 11 12 13 14 15 (v128.load64_zero (local.get $p)) (v128.const i32x4 0 0 0 0))))
            (local.set $hi (i32x4.add (local.get $hi) (i32x4.dot_i16x8_s (local.get $px) (v128.load (local.get $w)))))
            (local.set $lo (i32x4.add (local.get $lo) (i32x4.dot_i16x8_s (local.get $px) (v128.load offset=16 (local.get $w)))))
            (local.set $p (i32.add (local.get $p) (i32.const 8)))
            (local.set $w (i32.add (local.get $w) (i32.const 32)))
            (br $tap)))
        (call $store3 (local.get $dst) (i32x4.add (i32x4.shl (local.get $hi) (i32.const 11)) (local.get $lo)))
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
