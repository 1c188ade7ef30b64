//! Geometry of a 2-D convolution at run-time sizes: which input pixel each
//! kernel tap of each output pixel reads.
//!
//! One description covers every convolution sxima runs:
//! * `Conv2d`: stride, dilation, groups and (possibly asymmetric) zero padding;
//! * `ConvTranspose2d`: a stride-1 convolution over the input with zeros
//!   inserted between pixels (`in_dilation`, "fractionally strided"), padded by
//!   `kernel - 1 - padding` (negative values crop).
//!
//! Along one axis, output position `o` and kernel tap `i` read the virtual
//! coordinate `u = o * stride + i * dilation - pad_begin` of the zero-padded,
//! zero-inserted input; it is the real input pixel `u / in_dilation` when `u`
//! is a non-negative multiple of `in_dilation` below `in_dilation * size`, and
//! a zero otherwise. Both the device-generic path (`im2col`) and the CPU fast
//! path (`kernels::conv_cpu`) read their indices from here, so they agree by
//! construction.

/// Sizes of one convolution call. Tensors it describes (row-major):
/// input `[batch, c_in, h_in, w_in]`, weight `[c_out, c_in / groups, kh, kw]`,
/// output `[batch, c_out, h_out, w_out]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub c_in: usize,
    pub h_in: usize,
    pub w_in: usize,
    pub c_out: usize,
    /// Channel groups: output block `g` sees only input block `g`.
    pub groups: usize,
    /// Kernel size `(kh, kw)`.
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub dilation: (usize, usize),
    /// Zero padding before the first row / column (negative crops).
    pub pad_begin: (isize, isize),
    /// Zero insertion between input pixels: 1 for a plain convolution, the
    /// transposed convolution's stride for `ConvTranspose2d`.
    pub in_dilation: (usize, usize),
    pub h_out: usize,
    pub w_out: usize,
}

impl ConvGeom {
    /// A plain convolution (PyTorch `conv2d`) with padding `(top, bottom, left, right)`;
    /// the output size follows `floor((H + pt + pb - d(k-1) - 1) / s) + 1`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d(
        batch: usize,
        (c_in, h_in, w_in): (usize, usize, usize),
        c_out: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        dilation: (usize, usize),
        groups: usize,
        (pt, pb, pl, pr): (usize, usize, usize, usize),
    ) -> Self {
        Self {
            batch,
            c_in,
            h_in,
            w_in,
            c_out,
            groups,
            kernel,
            stride,
            dilation,
            pad_begin: (pt as isize, pl as isize),
            in_dilation: (1, 1),
            h_out: conv_out_size(h_in, kernel.0, stride.0, dilation.0, pt, pb),
            w_out: conv_out_size(w_in, kernel.1, stride.1, dilation.1, pl, pr),
        }
    }

    /// The stride-1 convolution that computes PyTorch's `conv_transpose2d`
    /// (groups 1, dilation 1) with the flipped, transposed kernel; output size
    /// `(H - 1) s - 2 p + k + output_padding`.
    pub fn conv_transpose2d(
        batch: usize,
        (c_in, h_in, w_in): (usize, usize, usize),
        c_out: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        output_padding: (usize, usize),
    ) -> Self {
        let out = |h: usize, k: usize, s: usize, p: usize, op: usize| {
            // Padding that crops the whole output gives 0 (the layers rule it
            // out at compile time).
            ((h.max(1) - 1) * s + k + op).saturating_sub(2 * p)
        };
        Self {
            batch,
            c_in,
            h_in,
            w_in,
            c_out,
            groups: 1,
            kernel,
            stride: (1, 1),
            dilation: (1, 1),
            pad_begin: (
                kernel.0 as isize - 1 - padding.0 as isize,
                kernel.1 as isize - 1 - padding.1 as isize,
            ),
            in_dilation: stride,
            h_out: out(h_in, kernel.0, stride.0, padding.0, output_padding.0),
            w_out: out(w_in, kernel.1, stride.1, padding.1, output_padding.1),
        }
    }

    /// Input channels per group.
    pub fn c_in_per_group(&self) -> usize {
        self.c_in / self.groups
    }
    /// Output channels per group.
    pub fn c_out_per_group(&self) -> usize {
        self.c_out / self.groups
    }
    /// Columns of one group's weight matrix: `c_in / groups * kh * kw`.
    pub fn k_per_group(&self) -> usize {
        self.c_in_per_group() * self.kernel.0 * self.kernel.1
    }
    /// Output pixels per channel: `h_out * w_out`.
    pub fn out_pixels(&self) -> usize {
        self.h_out * self.w_out
    }
    /// Elements of the input tensor.
    pub fn input_len(&self) -> usize {
        self.batch * self.c_in * self.h_in * self.w_in
    }
    /// Elements of the output tensor.
    pub fn output_len(&self) -> usize {
        self.batch * self.c_out * self.out_pixels()
    }

    /// Input row read by output row `oy` at kernel row `i`, or `None` for a zero.
    #[inline]
    pub fn src_row(&self, oy: usize, i: usize) -> Option<usize> {
        src(
            oy,
            i,
            self.stride.0,
            self.dilation.0,
            self.pad_begin.0,
            self.in_dilation.0,
            self.h_in,
        )
    }
    /// Input column read by output column `ox` at kernel column `j`, or `None`.
    #[inline]
    pub fn src_col(&self, ox: usize, j: usize) -> Option<usize> {
        src(
            ox,
            j,
            self.stride.1,
            self.dilation.1,
            self.pad_begin.1,
            self.in_dilation.1,
            self.w_in,
        )
    }

    /// Debug-checks that the sizes are consistent. The const-generic layers
    /// check the same at compile time, so in a release build this is free;
    /// a failure here is a bug in the crate, never a user error.
    pub fn assert_valid(&self) {
        debug_assert!(
            self.groups > 0
                && self.c_in.is_multiple_of(self.groups)
                && self.c_out.is_multiple_of(self.groups),
            "conv: groups {} must divide c_in {} and c_out {}",
            self.groups,
            self.c_in,
            self.c_out
        );
        debug_assert!(
            self.kernel.0 > 0 && self.kernel.1 > 0,
            "conv: kernel size must be positive"
        );
        debug_assert!(
            self.stride.0 > 0 && self.stride.1 > 0 && self.dilation.0 > 0 && self.dilation.1 > 0,
            "conv: stride and dilation must be positive"
        );
        debug_assert!(
            self.in_dilation.0 > 0 && self.in_dilation.1 > 0,
            "conv: in_dilation must be positive"
        );
    }
}

/// `floor((size + pad_begin + pad_end - dilation (k - 1) - 1) / stride) + 1`,
/// the output length of a convolution along one axis (0 if the kernel does
/// not fit).
pub const fn conv_out_size(
    size: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad_begin: usize,
    pad_end: usize,
) -> usize {
    match sxima_shape::conv_out(
        size as u64,
        k as u64,
        stride as u64,
        dilation as u64,
        pad_begin as u64,
        pad_end as u64,
    ) {
        Ok(o) => o as usize,
        Err(_) => 0,
    }
}

#[inline]
fn src(
    o: usize,
    i: usize,
    stride: usize,
    dilation: usize,
    pad: isize,
    in_dil: usize,
    size: usize,
) -> Option<usize> {
    let u = (o * stride + i * dilation) as isize - pad;
    if u < 0 {
        return None;
    }
    let u = u as usize;
    if !u.is_multiple_of(in_dil) {
        return None;
    }
    let v = u / in_dil;
    (v < size).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_match_pytorch() {
        assert_eq!(conv_out_size(28, 5, 1, 1, 0, 0), 24);
        assert_eq!(conv_out_size(9, 5, 3, 1, 2, 2), 3);
        assert_eq!(conv_out_size(8, 5, 2, 2, 1, 1), 1);
        assert_eq!(conv_out_size(8, 4, 1, 1, 1, 2), 8);
        assert_eq!(conv_out_size(3, 5, 1, 1, 0, 0), 0);
        let t = ConvGeom::conv_transpose2d(1, (4, 4, 5), 3, (3, 3), (2, 2), (1, 1), (1, 1));
        assert_eq!((t.h_out, t.w_out), (8, 10));
    }

    #[test]
    fn transposed_geometry_reads_inserted_zeros() {
        // stride 2, k 3, p 0: virtual input is pad 2, x0, 0, x1, 0, x2, ...
        let t = ConvGeom::conv_transpose2d(1, (1, 3, 3), 1, (3, 3), (2, 2), (0, 0), (0, 0));
        assert_eq!(t.h_out, 7);
        assert_eq!(t.src_row(0, 2), Some(0));
        assert_eq!(t.src_row(0, 1), None);
        assert_eq!(t.src_row(1, 2), None);
        assert_eq!(t.src_row(2, 2), Some(1));
        assert_eq!(t.src_row(6, 0), Some(2));
        assert_eq!(t.src_row(6, 2), None);
    }
}
