"""Max and average pooling over NCHW arrays, forward and backward.

Output size follows Chainer: with `cover_all` the last window may run past the input (ceil rounding),
so 64 -> 31 -> 14 -> 7 for FrgNet64's pools. A window that would start beyond the input and its padding
is dropped (as in PyTorch's ceil mode), so every window holds at least one real pixel.

Max pooling ignores padding (it acts as -inf) and records, for each output, the offset ky * kw + kx of
its maximum inside the window. Average pooling divides by the window's size clipped to the padded input:
explicit zero padding counts, the overhang that `cover_all` adds does not.
"""
import functools

import numpy as np
from numba import njit, prange

from nanonet.backend import get_array_module


def pool_outsize(size, k, s, p, cover_all):
    """Output length of a pooling along one axis."""
    if cover_all:
        out = (size + 2 * p - k + s - 1) // s + 1
        if (out - 1) * s >= size + p:
            out -= 1
    else:
        out = (size + 2 * p - k) // s + 1
    if out < 1:
        raise ValueError(f"input of size {size} is smaller than the {k}-wide pooling window with padding {p}")
    return out


def max_pool_forward(x, kh, kw, sy, sx, ph, pw, cover_all, argmax=True):
    """x (N, C, H, W) -> (y (N, C, oh, ow), argmax (N, C, oh, ow) int32 window offsets, or None when not
    asked for: inference, which then takes a faster, separable kernel on the CPU)."""
    n, c, h, w = x.shape
    oh, ow = pool_outsize(h, kh, sy, ph, cover_all), pool_outsize(w, kw, sx, pw, cover_all)
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    if xp is np:
        if not argmax:
            return _max_pool_infer_cpu(x, kh, kw, sy, sx, ph, pw, oh, ow), None
        return _max_pool_forward_cpu(x, kh, kw, sy, sx, ph, pw, oh, ow)
    y = xp.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = xp.empty((n, c, oh, ow), dtype=np.int32)
    _max_pool_forward_gpu()(x.reduced_view(), h, w, oh, ow, kh, kw, sy, sx, ph, pw, y, argmax)
    return y, argmax


def max_pool_backward(gy, argmax, h, w, kh, kw, sy, sx, ph, pw):
    """gy (N, C, oh, ow) -> gx (N, C, h, w): each gradient goes to its window's maximum."""
    n, c, oh, ow = gy.shape
    xp = get_array_module(gy)
    gy = xp.ascontiguousarray(gy)
    if xp is np:
        return _max_pool_backward_cpu(gy, argmax, h, w, kw, sy, sx, ph, pw)
    gx = xp.empty((n, c, h, w), dtype=gy.dtype)
    _max_pool_backward_gpu()(gy.reduced_view(), argmax.reduced_view(), h, w, oh, ow, kh, kw,
                             sy, sx, ph, pw, gx)
    return gx


def avg_pool_forward(x, kh, kw, sy, sx, ph, pw, cover_all):
    """x (N, C, H, W) -> y (N, C, oh, ow)."""
    n, c, h, w = x.shape
    oh, ow = pool_outsize(h, kh, sy, ph, cover_all), pool_outsize(w, kw, sx, pw, cover_all)
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    if xp is np:
        return _avg_pool_forward_cpu(x, kh, kw, sy, sx, ph, pw, oh, ow)
    y = xp.empty((n, c, oh, ow), dtype=x.dtype)
    _avg_pool_forward_gpu()(x.reduced_view(), h, w, oh, ow, kh, kw, sy, sx, ph, pw, y)
    return y


def avg_pool_backward(gy, h, w, kh, kw, sy, sx, ph, pw):
    """gy (N, C, oh, ow) -> gx (N, C, h, w): each gradient is shared evenly over its window."""
    n, c, oh, ow = gy.shape
    xp = get_array_module(gy)
    gy = xp.ascontiguousarray(gy)
    if xp is np:
        return _avg_pool_backward_cpu(gy, h, w, kh, kw, sy, sx, ph, pw)
    gx = xp.empty((n, c, h, w), dtype=gy.dtype)
    _avg_pool_backward_gpu()(gy.reduced_view(), h, w, oh, ow, kh, kw, sy, sx, ph, pw, gx)
    return gx


@njit(parallel=True, cache=True)
def _max_pool_forward_cpu(x, kh, kw, sy, sx, ph, pw, oh, ow):
    n, c, h, w = x.shape
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, c, oh, ow), dtype=np.int32)
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for oy in range(oh):
            top = oy * sy - ph
            y0, y1 = max(top, 0), min(top + kh, h)
            for ox in range(ow):
                left = ox * sx - pw
                x0, x1 = max(left, 0), min(left + kw, w)
                best = x[b, ch, y0, x0]
                arg = (y0 - top) * kw + (x0 - left)
                for iy in range(y0, y1):
                    offset = (iy - top) * kw - left
                    for ix in range(x0, x1):
                        v = x[b, ch, iy, ix]
                        better = v > best  # selects, not branches: random data defeats prediction
                        best = v if better else best
                        arg = offset + ix if better else arg
                y[b, ch, oy, ox] = best
                argmax[b, ch, oy, ox] = arg
    return y, argmax


@njit(inline="always")
def _rows_max(plane, rows, top, k):
    """rows[:] = the max over plane's rows top .. top + k - 1 that lie inside it, column by column."""
    h, w = plane.shape
    y0, y1 = max(top, 0), min(top + k, h)
    if y0 == top and y1 == top + k:     # all k rows inside: unrolled when k is a compile-time constant
        for ix in range(w):
            best = plane[top, ix]
            for j in range(1, k):
                v = plane[top + j, ix]
                best = v if v > best else best
            rows[ix] = best
        return
    for ix in range(w):
        best = plane[y0, ix]
        for iy in range(y0 + 1, y1):
            v = plane[iy, ix]
            best = v if v > best else best
        rows[ix] = best


@njit(inline="always")
def _columns_max(rows, out, left0, step, k):
    """out[ox] = the max of rows over the window of k columns from left0 + ox * step, clipped to rows."""
    w = len(rows)
    for ox in range(len(out)):
        left = left0 + ox * step
        x0, x1 = max(left, 0), min(left + k, w)
        if x0 == left and x1 == left + k:
            best = rows[left]
            for j in range(1, k):
                v = rows[left + j]
                best = v if v > best else best
        else:
            best = rows[x0]
            for ix in range(x0 + 1, x1):
                v = rows[ix]
                best = v if v > best else best
        out[ox] = best


@njit(parallel=True, cache=True)
def _max_pool_infer_cpu(x, kh, kw, sy, sx, ph, pw, oh, ow):
    """Max pooling without argmax, separably: the max over a window's rows, whole rows at a time, then over
    its columns. The nets' square windows (2, 3, 5) pass their side as a constant, so that the compiler
    unrolls the taps: 1.3 to 2 times as fast as a loop of run-time length."""
    n, c, h, w = x.shape
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for nc in prange(n * c):
        plane, out = x[nc // c, nc % c], y[nc // c, nc % c]
        rows = np.empty(w, dtype=x.dtype)
        for oy in range(oh):
            top = oy * sy - ph
            if kh == kw == 2:
                _rows_max(plane, rows, top, 2)
                _columns_max(rows, out[oy], -pw, sx, 2)
            elif kh == kw == 3:
                _rows_max(plane, rows, top, 3)
                _columns_max(rows, out[oy], -pw, sx, 3)
            elif kh == kw == 5:
                _rows_max(plane, rows, top, 5)
                _columns_max(rows, out[oy], -pw, sx, 5)
            else:
                _rows_max(plane, rows, top, kh)
                _columns_max(rows, out[oy], -pw, sx, kw)
    return y


@njit(parallel=True, cache=True)
def _max_pool_backward_cpu(gy, argmax, h, w, kw, sy, sx, ph, pw):
    n, c, oh, ow = gy.shape
    gx = np.zeros((n, c, h, w), dtype=gy.dtype)
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for oy in range(oh):
            for ox in range(ow):
                a = argmax[b, ch, oy, ox]
                gx[b, ch, oy * sy - ph + a // kw, ox * sx - pw + a % kw] += gy[b, ch, oy, ox]
    return gx


@njit(parallel=True, cache=True)
def _avg_pool_forward_cpu(x, kh, kw, sy, sx, ph, pw, oh, ow):
    n, c, h, w = x.shape
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for oy in range(oh):
            top = oy * sy - ph
            bottom = min(top + kh, h + ph)
            for ox in range(ow):
                left = ox * sx - pw
                right = min(left + kw, w + pw)
                acc = x.dtype.type(0)
                for iy in range(max(top, 0), min(bottom, h)):
                    for ix in range(max(left, 0), min(right, w)):
                        acc += x[b, ch, iy, ix]
                y[b, ch, oy, ox] = acc / ((bottom - top) * (right - left))
    return y


@njit(parallel=True, cache=True)
def _avg_pool_backward_cpu(gy, h, w, kh, kw, sy, sx, ph, pw):
    n, c, oh, ow = gy.shape
    gx = np.zeros((n, c, h, w), dtype=gy.dtype)
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for oy in range(oh):
            top = oy * sy - ph
            bottom = min(top + kh, h + ph)
            for ox in range(ow):
                left = ox * sx - pw
                right = min(left + kw, w + pw)
                g = gy[b, ch, oy, ox] / ((bottom - top) * (right - left))
                for iy in range(max(top, 0), min(bottom, h)):
                    for ix in range(max(left, 0), min(right, w)):
                        gx[b, ch, iy, ix] += g
    return gx


_POOL_ARGS = ("raw T x, int32 h, int32 w, int32 oh, int32 ow, int32 kh, int32 kw,"
              " int32 sy, int32 sx, int32 ph, int32 pw")
# Backward kernels gather: one thread per input pixel visits the outputs whose windows hold it.
_GATHER_WINDOWS = """
    int plane = i / (h * w);
    int y = i / w % h + ph;
    int x = i % w + pw;
    int oy0 = max(0, (y - kh + sy) / sy), oy1 = min(oh, y / sy + 1);
    int ox0 = max(0, (x - kw + sx) / sx), ox1 = min(ow, x / sx + 1);
    T acc = 0;
"""


@functools.cache
def _max_pool_forward_gpu():
    import cupy
    return cupy.ElementwiseKernel(
        _POOL_ARGS, "T y, int32 argmax",
        """
        int plane = i / (oh * ow);
        int top = i / ow % oh * sy - ph, left = i % ow * sx - pw;
        int y0 = max(top, 0), y1 = min(top + kh, h);
        int x0 = max(left, 0), x1 = min(left + kw, w);
        T best = x[x0 + w * (y0 + h * plane)];
        int arg = (y0 - top) * kw + (x0 - left);
        for (int iy = y0; iy < y1; ++iy) {
            for (int ix = x0; ix < x1; ++ix) {
                T v = x[ix + w * (iy + h * plane)];
                if (v > best) { best = v; arg = (iy - top) * kw + (ix - left); }
            }
        }
        y = best;
        argmax = arg;
        """,
        "nanonet_max_pool_fwd")


@functools.cache
def _max_pool_backward_gpu():
    import cupy
    return cupy.ElementwiseKernel(
        "raw T gy, raw int32 argmax, int32 h, int32 w, int32 oh, int32 ow, int32 kh, int32 kw,"
        " int32 sy, int32 sx, int32 ph, int32 pw",
        "T gx",
        _GATHER_WINDOWS + """
        for (int oy = oy0; oy < oy1; ++oy) {
            for (int ox = ox0; ox < ox1; ++ox) {
                int o = ox + ow * (oy + oh * plane);
                if (argmax[o] == (y - oy * sy) * kw + (x - ox * sx)) acc += gy[o];
            }
        }
        gx = acc;
        """,
        "nanonet_max_pool_bwd")


@functools.cache
def _avg_pool_forward_gpu():
    import cupy
    return cupy.ElementwiseKernel(
        _POOL_ARGS, "T y",
        """
        int plane = i / (oh * ow);
        int top = i / ow % oh * sy - ph, left = i % ow * sx - pw;
        int bottom = min(top + kh, h + ph), right = min(left + kw, w + pw);
        T acc = 0;
        for (int iy = max(top, 0); iy < min(bottom, h); ++iy)
            for (int ix = max(left, 0); ix < min(right, w); ++ix)
                acc += x[ix + w * (iy + h * plane)];
        y = acc / (T)((bottom - top) * (right - left));
        """,
        "nanonet_avg_pool_fwd")


@functools.cache
def _avg_pool_backward_gpu():
    import cupy
    return cupy.ElementwiseKernel(
        "raw T gy, int32 h, int32 w, int32 oh, int32 ow, int32 kh, int32 kw,"
        " int32 sy, int32 sx, int32 ph, int32 pw",
        "T gx",
        _GATHER_WINDOWS + """
        for (int oy = oy0; oy < oy1; ++oy) {
            int top = oy * sy - ph, bottom = min(top + kh, h + ph);
            for (int ox = ox0; ox < ox1; ++ox) {
                int left = ox * sx - pw, right = min(left + kw, w + pw);
                acc += gy[ox + ow * (oy + oh * plane)] / (T)((bottom - top) * (right - left));
            }
        }
        gx = acc;
        """,
        "nanonet_avg_pool_bwd")


def max_pool_reference(x, kh, kw, sy, sx, ph, pw, cover_all):
    """Slow, obvious max pooling: pad with -inf far enough for every window, take each window's max."""
    n, c, h, w = x.shape
    oh, ow = pool_outsize(h, kh, sy, ph, cover_all), pool_outsize(w, kw, sx, pw, cover_all)
    xp = np.full((n, c, oh * sy + kh + 2 * ph, ow * sx + kw + 2 * pw), -np.inf, dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            y[:, :, oy, ox] = xp[:, :, oy * sy:oy * sy + kh, ox * sx:ox * sx + kw].max(axis=(2, 3))
    return y


def avg_pool_reference(x, kh, kw, sy, sx, ph, pw, cover_all):
    """Slow, obvious average pooling: zero-pad, sum each window, divide by its part inside the padding."""
    n, c, h, w = x.shape
    oh, ow = pool_outsize(h, kh, sy, ph, cover_all), pool_outsize(w, kw, sx, pw, cover_all)
    xp = np.zeros((n, c, oh * sy + kh + 2 * ph, ow * sx + kw + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            rows = min(oy * sy + kh, h + 2 * ph) - oy * sy
            cols = min(ox * sx + kw, w + 2 * pw) - ox * sx
            y[:, :, oy, ox] = xp[:, :, oy * sy:oy * sy + kh, ox * sx:ox * sx + kw].sum(axis=(2, 3)) / (rows * cols)
    return y


def max_pool_backward_reference(x, gy, kh, kw, sy, sx, ph, pw):
    """Slow, obvious max-pool gradient: each output's gradient added to the input pixel that is its window's
    (first) maximum, found again from x itself."""
    n, c, h, w = x.shape
    gx = np.zeros_like(x)
    for b, ch, oy, ox in np.ndindex(*gy.shape):
        rows = range(max(oy * sy - ph, 0), min(oy * sy - ph + kh, h))
        cols = range(max(ox * sx - pw, 0), min(ox * sx - pw + kw, w))
        best = max(((x[b, ch, i, j], -i, -j) for i in rows for j in cols))    # the first of equal maxima
        gx[b, ch, -best[1], -best[2]] += gy[b, ch, oy, ox]
    return gx


def avg_pool_backward_reference(gy, h, w, kh, kw, sy, sx, ph, pw):
    """Slow, obvious average-pool gradient: each output's gradient shared evenly over its window's part
    inside the padding (as avg_pool_reference divides), the padding's share dropped."""
    n, c, oh, ow = gy.shape
    gx = np.zeros((n, c, h, w), dtype=gy.dtype)
    for oy in range(oh):
        for ox in range(ow):
            rows = min(oy * sy + kh, h + 2 * ph) - oy * sy
            cols = min(ox * sx + kw, w + 2 * pw) - ox * sx
            share = gy[:, :, oy, ox] / (rows * cols)
            for i in range(max(oy * sy - ph, 0), min(oy * sy - ph + kh, h)):
                for j in range(max(ox * sx - pw, 0), min(ox * sx - pw + kw, w)):
                    gx[:, :, i, j] += share
    return gx
