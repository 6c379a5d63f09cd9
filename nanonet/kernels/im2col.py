"""im2col / col2im for 2-D convolution on NCHW arrays.

im2col turns x (N, C, H, W) into col (N, C, kh, kw, oh, ow), so that a convolution becomes GEMMs:
y[n] = W.reshape(O, C*kh*kw) @ col[n].reshape(C*kh*kw, oh*ow). col2im is its adjoint: it sums every
column entry back onto the input pixel it was read from (zero padding receives nothing). Both accept col
with any strides on the CPU, so the caller chooses the memory layout.
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

    `out`, if given, is filled instead of a new array. It may be a transposed view (of a buffer laid out
    (C, kh, kw, N, oh, ow), say), which is how Conv2D gets one GEMM over the whole batch.
    """
    n, c, h, w = x.shape
    shape = (n, c, kh, kw, conv_outsize(h, kh, sy, ph), conv_outsize(w, kw, sx, pw))
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    if out is None:
        out = xp.empty(shape, dtype=x.dtype)
    elif out.shape != shape or out.dtype != x.dtype:
        raise ValueError(f"im2col: out has shape {out.shape} and dtype {out.dtype}, needs {shape} and {x.dtype}")
    if xp is np:
        if _batch_inner(out):
            _im2col_batch_inner_cpu(x, kh, kw, sy, sx, ph, pw, out.transpose(1, 2, 3, 0, 4, 5))
        elif sy == sx == 2 and ph == pw == 0:
            _im2col_phases_cpu(_phases_cpu(x), out)
        else:
            _im2col_cpu(x, kh, kw, sy, sx, ph, pw, out)
    else:
        _im2col_gpu()(x.reduced_view(), h, w, shape[4], shape[5], kh, kw, sy, sx, ph, pw, out)
    return out


def col2im(col, h, w, sy, sx, ph, pw):
    """col (N, C, kh, kw, oh, ow), any strides -> x (N, C, h, w): the sum over every place each pixel was read."""
    n, c, kh, kw, oh, ow = col.shape
    xp = get_array_module(col)
    if xp is np:
        if _batch_inner(col):
            return _col2im_batch_inner_cpu(col.transpose(1, 2, 3, 0, 4, 5), h, w, sy, sx, ph, pw)
        return _col2im_cpu(col, h, w, sy, sx, ph, pw)
    col = xp.ascontiguousarray(col)
    x = xp.empty((n, c, h, w), dtype=col.dtype)
    _col2im_gpu()(col.reduced_view(), h, w, oh, ow, kh, kw, sy, sx, ph, pw, x)
    return x


def _batch_inner(col):
    """True for columns stored (C, kh, kw, N, oh, ow). The CPU kernels then take that array itself,
    C-contiguous, so numba knows the inner stride is 1 (it cannot vectorise a strided view), and loop over
    taps rather than planes, so each thread writes contiguous memory."""
    return col.strides[0] < col.strides[1]


@njit(inline="always")
def _read_tap(plane, tap, i, j, sy, sx, ph, pw):
    """tap[oy, ox] = plane[oy * sy + i - ph, ox * sx + j - pw], zero outside the plane."""
    h, w = plane.shape
    oh, ow = tap.shape
    for oy in range(oh):
        iy = oy * sy + i - ph
        inside_y = 0 <= iy < h
        for ox in range(ow):
            ix = ox * sx + j - pw
            tap[oy, ox] = plane[iy, ix] if inside_y and 0 <= ix < w else 0


@njit(inline="always")
def _add_tap(tap, plane, i, j, sy, sx, ph, pw):
    """plane[oy * sy + i - ph, ox * sx + j - pw] += tap[oy, ox] wherever that lies inside the plane."""
    h, w = plane.shape
    oh, ow = tap.shape
    for oy in range(oh):
        iy = oy * sy + i - ph
        if iy < 0 or iy >= h:
            continue
        for ox in range(ow):
            ix = ox * sx + j - pw
            if 0 <= ix < w:
                plane[iy, ix] += tap[oy, ox]


@njit(parallel=True, cache=True)
def _im2col_cpu(x, kh, kw, sy, sx, ph, pw, col):
    """col: (N, C, kh, kw, oh, ow); a thread fills one (image, channel) plane's taps."""
    n, c = x.shape[:2]
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for i in range(kh):
            for j in range(kw):
                _read_tap(x[b, ch], col[b, ch, i, j], i, j, sy, sx, ph, pw)


@njit(parallel=True, cache=True)
def _phases_cpu(x):
    """x (N, C, H, W) -> (2, 2, N, C, ceil(H / 2), ceil(W / 2)): [p, q] holds x[:, :, p::2, q::2]. Where an odd
    size leaves a phase short, its last row or column is left unset: no tap of an unpadded convolution reads it."""
    n, c, h, w = x.shape
    phases = np.empty((2, 2, n, c, (h + 1) // 2, (w + 1) // 2), dtype=x.dtype)
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for iy in range(h):
            for ix in range(w):
                phases[iy % 2, ix % 2, b, ch, iy // 2, ix // 2] = x[b, ch, iy, ix]
    return phases


@njit(parallel=True, cache=True)
def _im2col_phases_cpu(phases, col):
    """im2col at stride 2 without padding, from _phases_cpu(x): tap (i, j) reads phase (i % 2, j % 2) at stride
    1, offset by (i // 2, j // 2). Reading every other pixel of x is a gather that the compiler does not
    vectorise; read so, the 12-net's scan takes its columns in a third of the time."""
    n, c, kh, kw, oh, ow = col.shape
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for i in range(kh):
            for j in range(kw):
                plane, tap = phases[i % 2, j % 2, b, ch], col[b, ch, i, j]
                for oy in range(oh):
                    for ox in range(ow):
                        tap[oy, ox] = plane[oy + i // 2, ox + j // 2]


@njit(parallel=True, cache=True)
def _col2im_cpu(col, h, w, sy, sx, ph, pw):
    """col: (N, C, kh, kw, oh, ow); a thread owns one output plane, so no write races."""
    n, c, kh, kw = col.shape[:4]
    x = np.zeros((n, c, h, w), dtype=col.dtype)
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for i in range(kh):
            for j in range(kw):
                _add_tap(col[b, ch, i, j], x[b, ch], i, j, sy, sx, ph, pw)
    return x


@njit(parallel=True, cache=True)
def _im2col_batch_inner_cpu(x, kh, kw, sy, sx, ph, pw, col):
    """col: (C, kh, kw, N, oh, ow); a thread fills one tap for the whole batch, contiguous memory."""
    n, c = x.shape[:2]
    for tap in prange(c * kh * kw):
        ch, i, j = tap // (kh * kw), tap // kw % kh, tap % kw
        for b in range(n):
            _read_tap(x[b, ch], col[ch, i, j, b], i, j, sy, sx, ph, pw)


@njit(parallel=True, cache=True)
def _col2im_batch_inner_cpu(col, h, w, sy, sx, ph, pw):
    """col: (C, kh, kw, N, oh, ow); a thread owns one channel of the output, so no write races."""
    c, kh, kw, n = col.shape[:4]
    x = np.zeros((n, c, h, w), dtype=col.dtype)
    for ch in prange(c):
        for i in range(kh):
            for j in range(kw):
                for b in range(n):
                    _add_tap(col[ch, i, j, b], x[b, ch], i, j, sy, sx, ph, pw)
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
