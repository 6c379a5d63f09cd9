"""im2col / col2im for 2-D convolution on NCHW arrays.

im2col turns x (N, C, H, W) into col (N, C, kh, kw, oh, ow), so that a convolution becomes one GEMM:
y[n] = W.reshape(O, C*kh*kw) @ col[n].reshape(C*kh*kw, oh*ow). col2im is its adjoint: it sums every
column entry back onto the input pixel it was read from (zero padding receives nothing).
"""
import functools

import numpy as np
from numba import njit, prange

from nanonet.backend import get_array_module


def conv_outsize(size, k, s, p):
    """Output length of a convolution along one axis."""
    out = (size + 2 * p - k) // s + 1
    if out < 1:
        raise ValueError(f"input of size {size} is smaller than the {k}-wide kernel with padding {p}")
    return out


def im2col(x, kh, kw, sy, sx, ph, pw, out=None):
    """x (N, C, H, W) -> col (N, C, kh, kw, oh, ow); zero padding.

    `out`, if it has the right shape and dtype, is filled instead of a new array: reusing one buffer
    saves the page faults of a fresh allocation, which on the CPU cost as much as filling it.
    """
    n, c, h, w = x.shape
    shape = (n, c, kh, kw, conv_outsize(h, kh, sy, ph), conv_outsize(w, kw, sx, pw))
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    col = out if reusable(out, shape, x.dtype, xp) else xp.empty(shape, dtype=x.dtype)
    if xp is np:
        _im2col_cpu(x, kh, kw, sy, sx, ph, pw, col)
    else:
        _im2col_gpu()(x.reduced_view(), h, w, shape[4], shape[5], kh, kw, sy, sx, ph, pw, col)
    return col


def reusable(buffer, shape, dtype, xp):
    """True when `buffer` can be overwritten to hold an array of this shape, dtype and device."""
    return (buffer is not None and buffer.shape == shape and buffer.dtype == dtype
            and get_array_module(buffer) is xp)


def col2im(col, h, w, sy, sx, ph, pw):
    """col (N, C, kh, kw, oh, ow) -> x (N, C, h, w): the sum over every place each pixel was read."""
    n, c, kh, kw, oh, ow = col.shape
    xp = get_array_module(col)
    col = xp.ascontiguousarray(col)
    if xp is np:
        return _col2im_cpu(col, h, w, sy, sx, ph, pw)
    x = xp.empty((n, c, h, w), dtype=col.dtype)
    _col2im_gpu()(col.reduced_view(), h, w, oh, ow, kh, kw, sy, sx, ph, pw, x)
    return x


@njit(parallel=True, cache=True)
def _im2col_cpu(x, kh, kw, sy, sx, ph, pw, col):
    n, c, h, w = x.shape
    oh, ow = col.shape[4:]
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for i in range(kh):
            for j in range(kw):
                for oy in range(oh):
                    iy = oy * sy + i - ph
                    inside_y = 0 <= iy < h
                    for ox in range(ow):
                        ix = ox * sx + j - pw
                        if inside_y and 0 <= ix < w:
                            col[b, ch, i, j, oy, ox] = x[b, ch, iy, ix]
                        else:
                            col[b, ch, i, j, oy, ox] = 0


@njit(parallel=True, cache=True)
def _col2im_cpu(col, h, w, sy, sx, ph, pw):
    n, c, kh, kw, oh, ow = col.shape
    x = np.zeros((n, c, h, w), dtype=col.dtype)
    for nc in prange(n * c):  # one thread owns a whole plane: no write races
        b, ch = nc // c, nc % c
        for i in range(kh):
            for j in range(kw):
                for oy in range(oh):
                    iy = oy * sy + i - ph
                    if iy < 0 or iy >= h:
                        continue
                    for ox in range(ow):
                        ix = ox * sx + j - pw
                        if 0 <= ix < w:
                            x[b, ch, iy, ix] += col[b, ch, i, j, oy, ox]
    return x


@functools.cache
def _im2col_gpu():
    import cupy
    return cupy.ElementwiseKernel(
        "raw T img, int32 h, int32 w, int32 oh, int32 ow, int32 kh, int32 kw,"
        " int32 sy, int32 sx, int32 ph, int32 pw",
        "T col",
        """
        int plane = i / (kh * kw * oh * ow);
        int ky = i / (kw * oh * ow) % kh;
        int kx = i / (oh * ow) % kw;
        int oy = i / ow % oh;
        int ox = i % ow;
        int iy = oy * sy + ky - ph;
        int ix = ox * sx + kx - pw;
        col = (0 <= iy && iy < h && 0 <= ix && ix < w) ? img[ix + w * (iy + h * plane)] : (T)0;
        """,
        "nanonet_im2col")


@functools.cache
def _col2im_gpu():
    # Gather, not scatter: each thread owns one input pixel and sums the column entries read from it,
    # so no atomics are needed.
    import cupy
    return cupy.ElementwiseKernel(
        "raw T col, int32 h, int32 w, int32 oh, int32 ow, int32 kh, int32 kw,"
        " int32 sy, int32 sx, int32 ph, int32 pw",
        "T img",
        """
        int plane = i / (h * w);
        int y = i / w % h + ph;
        int x = i % w + pw;
        T acc = 0;
        for (int ky = 0; ky < kh; ++ky) {
            int oy = y - ky;
            if (oy < 0 || oy % sy != 0) continue;
            oy /= sy;
            if (oy >= oh) continue;
            for (int kx = 0; kx < kw; ++kx) {
                int ox = x - kx;
                if (ox < 0 || ox % sx != 0) continue;
                ox /= sx;
                if (ox >= ow) continue;
                acc += col[ox + ow * (oy + oh * (kx + kw * (ky + kh * plane)))];
            }
        }
        img = acc;
        """,
        "nanonet_col2im")


def im2col_reference(x, kh, kw, sy, sx, ph, pw):
    """Slow, obvious im2col: pad, then copy each window with slicing."""
    n, c, h, w = x.shape
    oh, ow = conv_outsize(h, kh, sy, ph), conv_outsize(w, kw, sx, pw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    col = np.zeros((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            col[:, :, :, :, oy, ox] = xp[:, :, oy * sy:oy * sy + kh, ox * sx:ox * sx + kw]
    return col


def col2im_reference(col, h, w, sy, sx, ph, pw):
    """Slow, obvious col2im: add each window back into a padded image, then crop."""
    n, c, kh, kw, oh, ow = col.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
    for oy in range(oh):
        for ox in range(ow):
            xp[:, :, oy * sy:oy * sy + kh, ox * sx:ox * sx + kw] += col[:, :, :, :, oy, ox]
    return xp[:, :, ph:ph + h, pw:pw + w]
