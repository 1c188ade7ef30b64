//! Output-size arithmetic of sxima's layers, written once.
//!
//! The `model!` macro uses these functions to infer every shape, and the
//! runtime's const-generic layers use the same functions in their
//! post-monomorphisation `const` assertions, so the two cannot drift.
//!
//! Every function is a `const fn` over `u64` sizes (one axis at a time) and
//! returns `Option`/`Result` instead of overflowing or dividing by zero.
//! Formulas follow PyTorch (`floor` division, `ceil_mode`) and, for `same`
//! padding, Keras/TensorFlow.

#![no_std]
#![forbid(unsafe_code)]

/// Why one axis of a sliding window (convolution or pooling) has no output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisError {
    /// Kernel, stride or dilation is zero.
    Zero,
    /// The (dilated) kernel is larger than the padded input.
    KernelTooLarge {
        /// `dilation * (kernel - 1) + 1`.
        effective: u64,
        /// `input + before + after`.
        padded: u64,
    },
    /// A size does not fit in `u64`.
    Overflow,
}

/// `dilation * (kernel - 1) + 1`: the extent of a dilated kernel; `None` for a
/// zero kernel or dilation, or on overflow.
pub const fn effective_kernel(kernel: u64, dilation: u64) -> Option<u64> {
    if kernel == 0 || dilation == 0 {
        return None;
    }
    match dilation.checked_mul(kernel - 1) {
        Some(v) => v.checked_add(1),
        None => None,
    }
}

/// `input + before + after`, checked.
pub const fn padded(input: u64, before: u64, after: u64) -> Option<u64> {
    match input.checked_add(before) {
        Some(v) => v.checked_add(after),
        None => None,
    }
}

/// Output length of a sliding window along one axis (PyTorch `Conv2d`,
/// `MaxPool2d`, `AvgPool2d`):
/// `floor((input + before + after - dilation * (kernel - 1) - 1) / stride) + 1`.
///
/// With `ceil_mode` the division rounds up, and, as in PyTorch, a last window
/// that would start inside the right padding (at or after
/// `input + before`) is dropped.
pub const fn window_out(
    input: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
    before: u64,
    after: u64,
    ceil_mode: bool,
) -> Result<u64, AxisError> {
    if stride == 0 {
        return Err(AxisError::Zero);
    }
    let effective = match effective_kernel(kernel, dilation) {
        Some(e) => e,
        None if kernel == 0 || dilation == 0 => return Err(AxisError::Zero),
        None => return Err(AxisError::Overflow),
    };
    let padded = match padded(input, before, after) {
        Some(p) => p,
        None => return Err(AxisError::Overflow),
    };
    if effective > padded {
        return Err(AxisError::KernelTooLarge { effective, padded });
    }
    let span = padded - effective;
    if !ceil_mode {
        return Ok(span / stride + 1);
    }
    let mut out = span.div_ceil(stride) + 1;
    // The last window must start inside the input or the left padding.
    // `(out - 1) * stride <= span`+`stride - 1` cannot overflow: span < u64::MAX.
    if out > 1 {
        let last_start = (out - 1) * stride;
        // `input + before` fits: it is at most `padded`.
        if last_start >= input + before {
            out -= 1;
        }
    }
    Ok(out)
}

/// [`window_out`] without `ceil_mode`: the output length of a convolution.
pub const fn conv_out(
    input: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
    before: u64,
    after: u64,
) -> Result<u64, AxisError> {
    window_out(input, kernel, stride, dilation, before, after, false)
}

/// `true` when `output` is exactly [`conv_out`] of the other sizes (for const
/// assertions).
pub const fn conv_out_is(
    input: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
    before: u64,
    after: u64,
    output: u64,
) -> bool {
    matches!(conv_out(input, kernel, stride, dilation, before, after), Ok(o) if o == output)
}

/// Output length of a transposed convolution along one axis (PyTorch
/// `ConvTranspose2d`, dilation 1):
/// `(input - 1) * stride - 2 * padding + kernel + output_padding`.
///
/// `None` when the result would be below 1, when `input`, `kernel` or
/// `stride` is zero, when `output_padding >= stride` (PyTorch rejects it), or
/// on overflow.
pub const fn transpose_out(
    input: u64,
    kernel: u64,
    stride: u64,
    padding: u64,
    output_padding: u64,
) -> Option<u64> {
    if input == 0 || kernel == 0 || stride == 0 || output_padding >= stride {
        return None;
    }
    let grown = match (input - 1).checked_mul(stride) {
        Some(v) => match v.checked_add(kernel) {
            Some(v) => v.checked_add(output_padding),
            None => None,
        },
        None => None,
    };
    let (Some(grown), Some(shrink)) = (grown, padding.checked_mul(2)) else {
        return None;
    };
    match grown.checked_sub(shrink) {
        Some(0) | None => None,
        Some(out) => Some(out),
    }
}

/// Keras/TensorFlow `same` padding along one axis: `(before, after)`.
///
/// The output is `ceil(input / stride)`; the total padding is
/// `max((out - 1) * stride + dilation * (kernel - 1) + 1 - input, 0)`, split
/// with the odd one at the end (bottom/right). `None` for a zero kernel,
/// stride or dilation, or on overflow.
pub const fn same_padding(
    input: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
) -> Option<(u64, u64)> {
    if stride == 0 {
        return None;
    }
    let Some(effective) = effective_kernel(kernel, dilation) else {
        return None;
    };
    let out = input.div_ceil(stride);
    let need = match out.saturating_sub(1).checked_mul(stride) {
        Some(v) => match v.checked_add(effective) {
            Some(v) => v,
            None => return None,
        },
        None => return None,
    };
    let total = need.saturating_sub(input);
    let before = total / 2;
    Some((before, total - before))
}

/// `full` padding on each side of one axis: `dilation * (kernel - 1)`;
/// `None` for a zero kernel or dilation, or on overflow.
pub const fn full_padding(kernel: u64, dilation: u64) -> Option<u64> {
    match effective_kernel(kernel, dilation) {
        Some(e) => Some(e - 1),
        None => None,
    }
}

/// Upsampling by an integer factor: `input * scale`; `None` for a zero size
/// or on overflow.
pub const fn upsample_out(input: u64, scale: u64) -> Option<u64> {
    if input == 0 || scale == 0 {
        return None;
    }
    input.checked_mul(scale)
}

/// `[start, end)` of PyTorch's adaptive-pooling bin `i` of `output` bins over
/// `input` positions: `floor(i * input / output) .. ceil((i + 1) * input / output)`.
/// `None` when `i >= output`, a size is zero, or on overflow.
pub const fn adaptive_window(i: u64, output: u64, input: u64) -> Option<(u64, u64)> {
    if output == 0 || input == 0 || i >= output {
        return None;
    }
    let (Some(a), Some(b)) = (i.checked_mul(input), (i + 1).checked_mul(input)) else {
        return None;
    };
    Some((a / output, b.div_ceil(output)))
}

/// The largest adaptive bin of `output` bins over `input` positions (the
/// window a pooling kernel needs); `None` as for [`adaptive_window`].
pub const fn adaptive_max_window(output: u64, input: u64) -> Option<u64> {
    let mut i = 0;
    let mut widest = 0;
    while i < output {
        let Some((a, b)) = adaptive_window(i, output, input) else {
            return None;
        };
        if b - a > widest {
            widest = b - a;
        }
        i += 1;
    }
    if widest == 0 {
        None
    } else {
        Some(widest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_matches_pytorch() {
        assert_eq!(conv_out(28, 5, 1, 1, 0, 0), Ok(24));
        assert_eq!(conv_out(9, 5, 3, 1, 2, 2), Ok(3));
        assert_eq!(conv_out(8, 5, 2, 2, 1, 1), Ok(1));
        assert_eq!(conv_out(8, 4, 1, 1, 1, 2), Ok(8));
        assert_eq!(conv_out(224, 7, 2, 1, 3, 3), Ok(112));
        assert_eq!(
            conv_out(3, 5, 1, 1, 0, 0),
            Err(AxisError::KernelTooLarge {
                effective: 5,
                padded: 3
            })
        );
        assert_eq!(conv_out(3, 0, 1, 1, 0, 0), Err(AxisError::Zero));
        assert_eq!(conv_out(3, 1, 0, 1, 0, 0), Err(AxisError::Zero));
        assert_eq!(conv_out(3, 1, 1, 0, 0, 0), Err(AxisError::Zero));
        assert_eq!(conv_out(u64::MAX, 1, 1, 1, 1, 0), Err(AxisError::Overflow));
        assert_eq!(conv_out(8, u64::MAX, 1, 2, 0, 0), Err(AxisError::Overflow));
        assert!(conv_out_is(28, 5, 1, 1, 0, 0, 24));
        assert!(!conv_out_is(28, 5, 1, 1, 0, 0, 23));
        assert!(!conv_out_is(3, 5, 1, 1, 0, 0, 0));
    }

    #[test]
    fn ceil_mode_follows_pytorch() {
        // nn.MaxPool2d(3, 2, ceil_mode=True) on 112: floor gives 55, ceil 56.
        assert_eq!(window_out(112, 3, 2, 1, 0, 0, false), Ok(55));
        assert_eq!(window_out(112, 3, 2, 1, 0, 0, true), Ok(56));
        // GoogLeNet: 56 -> 28, 28 -> 14, 14 -> 7 with kernel 3 stride 2 ceil.
        assert_eq!(window_out(56, 3, 2, 1, 0, 0, true), Ok(28));
        assert_eq!(window_out(14, 3, 2, 1, 0, 0, true), Ok(7));
        // Exact fit: ceil changes nothing.
        assert_eq!(window_out(7, 3, 2, 1, 0, 0, true), Ok(3));
        // 5, k 2, s 2, pad 1 each side: padded 7, ceil((7 - 2) / 2) + 1 = 4,
        // last start 6 >= 5 + 1: it would start in the right padding -> 3.
        assert_eq!(window_out(5, 2, 2, 1, 1, 1, true), Ok(3));
        // Same sizes with padding 0: ceil(3 / 2) + 1 = 3, last start 4 < 5 kept.
        assert_eq!(window_out(5, 2, 2, 1, 0, 0, true), Ok(3));
        assert_eq!(window_out(6, 2, 4, 1, 0, 0, true), Ok(2));
        assert_eq!(window_out(6, 2, 4, 1, 0, 0, false), Ok(2));
        assert_eq!(window_out(1, 1, 3, 1, 0, 0, true), Ok(1));
    }

    #[test]
    fn ceil_mode_brute_force_against_definition() {
        // PyTorch's rule, spelled out: windows start at 0, s, 2s, ..; floor keeps
        // those that fit entirely; ceil also keeps the next one when the stride
        // leaves padded positions unread, if it starts before input + before.
        for input in 1..12u64 {
            for k in 1..5u64 {
                for s in 1..4u64 {
                    for p in 0..=k / 2 {
                        let padded = input + 2 * p;
                        if k > padded {
                            continue;
                        }
                        let full = (0..).take_while(|i| i * s + k <= padded).count() as u64;
                        let partial = (padded - k) % s != 0 && full * s < input + p;
                        let expect = full + u64::from(partial);
                        assert_eq!(
                            window_out(input, k, s, 1, p, p, true),
                            Ok(expect),
                            "in {input} k {k} s {s} p {p}"
                        );
                        assert_eq!(window_out(input, k, s, 1, p, p, false), Ok(full));
                    }
                }
            }
        }
    }

    #[test]
    fn transpose() {
        assert_eq!(transpose_out(7, 4, 2, 1, 0), Some(14));
        assert_eq!(transpose_out(7, 3, 2, 1, 1), Some(14));
        assert_eq!(transpose_out(5, 3, 1, 0, 0), Some(7));
        assert_eq!(transpose_out(1, 1, 1, 1, 0), None);
        assert_eq!(transpose_out(3, 3, 2, 0, 2), None);
        assert_eq!(transpose_out(0, 3, 2, 0, 0), None);
        assert_eq!(transpose_out(u64::MAX, 3, 2, 0, 0), None);
    }

    #[test]
    fn same_matches_keras_for_strides_1_2_3() {
        assert_eq!(same_padding(28, 5, 1, 1), Some((2, 2)));
        assert_eq!(same_padding(28, 4, 1, 1), Some((1, 2)));
        assert_eq!(same_padding(28, 3, 2, 1), Some((0, 1)));
        assert_eq!(same_padding(27, 3, 2, 1), Some((1, 1)));
        assert_eq!(same_padding(28, 1, 2, 1), Some((0, 0)));
        assert_eq!(same_padding(10, 3, 3, 1), Some((1, 1)));
        assert_eq!(same_padding(11, 5, 3, 1), Some((1, 2)));
        assert_eq!(same_padding(16, 3, 1, 2), Some((2, 2)));
        assert_eq!(same_padding(16, 3, 0, 1), None);
        assert_eq!(same_padding(u64::MAX, u64::MAX, 1, u64::MAX), None);
        // The output of a same-padded window is ceil(input / stride).
        for input in 1..30u64 {
            for k in 1..6u64 {
                for s in 1..4u64 {
                    let (b, a) = same_padding(input, k, s, 1).unwrap();
                    assert_eq!(conv_out(input, k, s, 1, b, a), Ok(input.div_ceil(s)));
                }
            }
        }
    }

    #[test]
    fn full_upsample_adaptive() {
        assert_eq!(full_padding(5, 1), Some(4));
        assert_eq!(full_padding(3, 2), Some(4));
        assert_eq!(full_padding(0, 1), None);
        assert_eq!(conv_out(28, 5, 1, 1, 4, 4), Ok(32));
        assert_eq!(upsample_out(7, 2), Some(14));
        assert_eq!(upsample_out(7, 0), None);
        assert_eq!(upsample_out(u64::MAX, 2), None);
        assert_eq!(padded(3, 1, 2), Some(6));
        assert_eq!(padded(u64::MAX, 1, 0), None);
        // PyTorch bins of 5 over 3: [0, 2), [1, 4), [3, 5).
        assert_eq!(adaptive_window(0, 3, 5), Some((0, 2)));
        assert_eq!(adaptive_window(1, 3, 5), Some((1, 4)));
        assert_eq!(adaptive_window(2, 3, 5), Some((3, 5)));
        assert_eq!(adaptive_window(3, 3, 5), None);
        assert_eq!(adaptive_max_window(3, 5), Some(3));
        assert_eq!(adaptive_max_window(1, 7), Some(7));
        assert_eq!(adaptive_max_window(0, 7), None);
        // Upsampling bins (more outputs than inputs) have width 1 or 2.
        assert_eq!(adaptive_max_window(4, 3), Some(2));
    }

    #[test]
    fn usable_in_const_assertions() {
        const _: () = assert!(conv_out_is(28, 5, 1, 1, 0, 0, 24));
        const _: () = assert!(matches!(transpose_out(7, 4, 2, 1, 0), Some(14)));
    }
}
