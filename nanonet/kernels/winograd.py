"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2016), for inference.

Each 2x2 block of outputs is read from a 4x4 tile d of the input: y = A^T [(G g G^T) * (B^T d B)] A, with *
the elementwise product. Summed over channels, the 16 products of a tile become 16 GEMMs,
M[k] = U[k] (O, C) @ V[k] (C, tiles), of 16 multiply-adds per 4 outputs where im2col's GEMM spends 36:
2.25 times fewer. The transforms are additions only, and B^T d B writes 4 numbers per input pixel where
im2col writes 9.

    U = winograd_weights(W)                     W (O, C, 3, 3) -> U (16, O, C), once per set of weights
    V = winograd_tiles(x, pad)                  x (N, C, H, W) -> V (16, C, N * th * tw)
    M = np.matmul(U, V, out=planes(O, N * th * tw, dtype))
    y = winograd_outputs(M, b, n, oh, ow)       -> y (N, O, oh, ow), oh = H + 2 * pad - 2

Tiles overhanging the input read zeros; outputs past (oh, ow) are dropped. CPU only (numba), with a slow
reference beside each transform; the GPU's GEMMs are fast enough that Conv2D keeps im2col there.
"""
import numpy as np
from numba import njit, prange

# y = A^T m A, U = G g G^T, V = B^T d B
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)


def tile_grid(oh, ow):
    """(th, tw): 2x2 output blocks down and across an oh x ow output."""
    return (oh + 1) // 2, (ow + 1) // 2


def winograd_weights(W):
    """W (O, C, 3, 3) -> U (16, O, C) in W's dtype, U[4 i + j] = (G g G^T)[i, j], computed in float64."""
    o, c = W.shape[:2]
    U = np.einsum("ik,ockl,jl->ijoc", G, W.astype(np.float64), G)
    return np.ascontiguousarray(U.reshape(16, o, c), dtype=W.dtype)


def planes(rows, cols, dtype, out=None):
    """A (16, rows, cols) array whose planes lie an odd number of cache lines apart, cut from the flat
    array `out` (kept memory, at least planes_size(rows, cols) long) or new. The transforms read or write
    the 16 planes side by side: planes a multiple of 4 kB apart would share one set of the L1 cache, and
    evict one another (a 32x32 map's tiles took 5 times as long as a 40x40 map's)."""
    stride = planes_stride(rows, cols)
    flat = np.empty(planes_size(rows, cols), dtype) if out is None else out[:planes_size(rows, cols)]
    return np.lib.stride_tricks.as_strided(flat, (16, rows, cols), (stride * flat.itemsize, cols * flat.itemsize,
                                                                    flat.itemsize))


def planes_stride(rows, cols):
    """Elements from one plane of planes(rows, cols) to the next: a multiple of 16 (a 64-byte cache line
    of float32), an odd one."""
    lines = -(-rows * cols // 16)
    return 16 * (lines + 1 - lines % 2)


def planes_size(rows, cols):
    """Elements that planes(rows, cols) spans."""
    return 15 * planes_stride(rows, cols) + rows * cols


def winograd_tiles(x, pad, out=None):
    """x (N, C, H, W) -> V (16, C, N * th * tw), V[4 i + j, c, tile] = (B^T d B)[i, j] of the tile's 4x4 d.
    `out`: kept memory for planes(), or None."""
    n, c, h, w = x.shape
    th, tw = tile_grid(h + 2 * pad - 2, w + 2 * pad - 2)
    v = planes(c, n * th * tw, x.dtype, out)
    _tiles_cpu(np.ascontiguousarray(x), pad, th, tw, v)
    return v


def winograd_outputs(m, b, n, oh, ow):
    """m (16, O, N * th * tw), the GEMMs' products, and bias b (O,) or None -> y (N, O, oh, ow)."""
    o = m.shape[1]
    y = np.empty((n, o, oh, ow), m.dtype)
    _outputs_cpu(m, np.zeros(o, m.dtype) if b is None else b.astype(m.dtype), y)
    return y


@njit(inline="always")
def _b(a, b, c, d):
    """(a, b, c, d) B, the input transform along one axis."""
    return a - c, b + c, c - b, b - d


@njit(inline="always")
def _a(a, b, c, d):
    """(a, b, c, d) A, the output transform along one axis."""
    return a + b + c, b - c - d


@njit(parallel=True, cache=True)
def _tiles_cpu(x, pad, th, tw, v):
    # A row of tiles at a time: its 4 input rows copied into a zero-edged buffer, so that the loop across
    # the tiles checks no bounds and writes each of the 16 outputs along contiguous memory.
    n, c, h, w = x.shape
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        rows = np.zeros((4, 2 * tw + 2), v.dtype)
        width = min(w, 2 * tw + 2 - pad)
        for ty in range(th):
            for i in range(4):
                y = 2 * ty - pad + i
                if 0 <= y < h:
                    rows[i, pad:pad + width] = x[b, ch, y, :width]
                else:
                    rows[i, :] = 0
            r0, r1, r2, r3 = rows[0], rows[1], rows[2], rows[3]
            for tx in range(tw):
                k, t = 2 * tx, (b * th + ty) * tw + tx
                # d B, a row of the tile's 4x4 input d at a time; then B^T (d B), a column at a time
                e00, e01, e02, e03 = _b(r0[k], r0[k + 1], r0[k + 2], r0[k + 3])
                e10, e11, e12, e13 = _b(r1[k], r1[k + 1], r1[k + 2], r1[k + 3])
                e20, e21, e22, e23 = _b(r2[k], r2[k + 1], r2[k + 2], r2[k + 3])
                e30, e31, e32, e33 = _b(r3[k], r3[k + 1], r3[k + 2], r3[k + 3])
                v[0, ch, t], v[4, ch, t], v[8, ch, t], v[12, ch, t] = _b(e00, e10, e20, e30)
                v[1, ch, t], v[5, ch, t], v[9, ch, t], v[13, ch, t] = _b(e01, e11, e21, e31)
                v[2, ch, t], v[6, ch, t], v[10, ch, t], v[14, ch, t] = _b(e02, e12, e22, e32)
                v[3, ch, t], v[7, ch, t], v[11, ch, t], v[15, ch, t] = _b(e03, e13, e23, e33)


@njit(parallel=True, cache=True)
def _outputs_cpu(m, bias, y):
    # A row of 2x2 blocks at a time, into a two-row buffer as wide as the blocks, of which the output's
    # width is kept: the loop across the blocks checks no bounds.
    n, o, oh, ow = y.shape
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    for no in prange(n * o):
        b, ch = no // o, no % o
        rows = np.empty((2, 2 * tw), y.dtype)
        for ty in range(th):
            for tx in range(tw):
                t = (b * th + ty) * tw + tx
                # A^T m, a column of the block's 4x4 m at a time; then (A^T m) A, a row at a time
                s00, s10 = _a(m[0, ch, t], m[4, ch, t], m[8, ch, t], m[12, ch, t])
                s01, s11 = _a(m[1, ch, t], m[5, ch, t], m[9, ch, t], m[13, ch, t])
                s02, s12 = _a(m[2, ch, t], m[6, ch, t], m[10, ch, t], m[14, ch, t])
                s03, s13 = _a(m[3, ch, t], m[7, ch, t], m[11, ch, t], m[15, ch, t])
                rows[0, 2 * tx], rows[0, 2 * tx + 1] = _a(s00, s01, s02, s03)
                rows[1, 2 * tx], rows[1, 2 * tx + 1] = _a(s10, s11, s12, s13)
            for i in range(min(2, oh - 2 * ty)):
                for j in range(ow):
                    y[b, ch, 2 * ty + i, j] = rows[i, j] + bias[ch]


def winograd_tiles_reference(x, pad):
    """Slow, obvious winograd_tiles: B^T d B with matrices, one tile at a time."""
    n, c, h, w = x.shape
    th, tw = tile_grid(h + 2 * pad - 2, w + 2 * pad - 2)
    padded = np.zeros((n, c, 2 * th + 2, 2 * tw + 2))
    inside = x[:, :, :2 * th + 2 - pad, :2 * tw + 2 - pad]
    padded[:, :, pad:pad + inside.shape[2], pad:pad + inside.shape[3]] = inside
    v = np.empty((16, c, n, th, tw))
    for ty in range(th):
        for tx in range(tw):
            d = padded[:, :, 2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4]
            v[:, :, :, ty, tx] = np.einsum("ik,nckl,jl->ijcn", B_T, d, B_T).reshape(16, c, n)
    return v.reshape(16, c, -1).astype(x.dtype)


def winograd_outputs_reference(m, b, n, oh, ow):
    """Slow, obvious winograd_outputs: A^T m A with matrices, one tile at a time."""
    o = m.shape[1]
    th, tw = tile_grid(oh, ow)
    tiles = m.astype(np.float64).reshape(4, 4, o, n, th, tw)
    y = np.empty((n, o, 2 * th, 2 * tw))
    for ty in range(th):
        for tx in range(tw):
            y[:, :, 2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2] = np.einsum("ik,klon,jl->noij", A_T, tiles[..., ty, tx], A_T)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y[:, :, :oh, :ow].astype(m.dtype)
