"""Cut many windows out of one image and resample each to size x size, into one batch.

Each output pixel averages an n x n grid of bilinear samples spread over the part of the window it covers,
with n = ceil(window side / size): plain bilinear for windows near the output size, an area average (no
aliasing) for windows many times larger. Samples outside the image take the nearest edge pixel.
"""
import math

import numpy as np
from numba import njit, prange


def extract_windows(image, windows, size):
    """image uint8 (H, W, C), windows (M, 4) as x, y, w, h -> uint8 (M, size, size, C)."""
    windows = np.ascontiguousarray(windows, dtype=np.float64).reshape(-1, 4)
    return _extract_cpu(np.ascontiguousarray(image), windows, size)


@njit(cache=True)
def _taps(start, step, n, size, limit):
    """Bilinear taps of the n samples per output pixel along one axis: first index, second index and the
    second's weight, (size * n,) each. Pixel i covers [i - 0.5, i + 0.5); samples clamp to the edge pixels."""
    first, second = np.empty(size * n, np.int64), np.empty(size * n, np.int64)
    weight = np.empty(size * n, np.float64)
    for o in range(size):
        for s in range(n):
            p = min(max(start + (o + (s + 0.5) / n) * step - 0.5, 0.0), limit - 1.0)
            i = int(p)
            first[o * n + s], second[o * n + s], weight[o * n + s] = i, min(i + 1, limit - 1), p - i
    return first, second, weight


@njit(parallel=True, cache=True)
def _extract_cpu(image, windows, size):
    # The mean of bilinear samples on an ny x nx grid is separable: average the ny row samples of each
    # column the window reads, then the nx column samples of that. Two passes of 2 reads per sample,
    # not one of 4 reads per sample pair.
    m, channels = len(windows), image.shape[2]
    out = np.empty((m, size, size, channels), dtype=np.uint8)
    for k in prange(m):
        x, y, w, h = windows[k, 0], windows[k, 1], windows[k, 2], windows[k, 3]
        ny, nx = max(1, math.ceil(h / size)), max(1, math.ceil(w / size))
        y0, y1, fy = _taps(y, h / size, ny, size, image.shape[0])
        x0, x1, fx = _taps(x, w / size, nx, size, image.shape[1])
        left, width = x0.min(), x1.max() - x0.min() + 1
        rows = np.zeros((size, width, channels), np.float64)    # rows[oy, i]: column left + i, mean of oy's rows
        flat = rows.reshape(size, width * channels)
        for oy in range(size):
            for sy in range(oy * ny, (oy + 1) * ny):
                top = image[y0[sy]].reshape(-1)[left * channels:(left + width) * channels]
                bottom = image[y1[sy]].reshape(-1)[left * channels:(left + width) * channels]
                b = fy[sy]
                for j in range(width * channels):
                    flat[oy, j] += top[j] * (1 - b) + bottom[j] * b
        for oy in range(size):
            for ox in range(size):
                for c in range(channels):
                    acc = 0.0
                    for sx in range(ox * nx, (ox + 1) * nx):
                        a = fx[sx]
                        acc += rows[oy, x0[sx] - left, c] * (1 - a) + rows[oy, x1[sx] - left, c] * a
                    out[k, oy, ox, c] = min(255, int(acc / (ny * nx) + 0.5))
    return out


def extract_windows_reference(image, windows, size):
    """Slow, obvious version of the same sampling, one sample at a time in Python."""
    h, w = image.shape[:2]
    img = image.astype(np.float64)

    def bilinear(y, x, c):
        y, x = min(max(y, 0.0), h - 1.0), min(max(x, 0.0), w - 1.0)
        y0, x0 = int(y), int(x)
        y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
        fy, fx = y - y0, x - x0
        return ((img[y0, x0, c] * (1 - fx) + img[y0, x1, c] * fx) * (1 - fy)
                + (img[y1, x0, c] * (1 - fx) + img[y1, x1, c] * fx) * fy)

    out = np.empty((len(windows), size, size, image.shape[2]), np.uint8)
    for k, (x, y, ww, wh) in enumerate(windows):
        ny, nx = max(1, math.ceil(wh / size)), max(1, math.ceil(ww / size))
        for oy in range(size):
            for ox in range(size):
                for c in range(image.shape[2]):
                    samples = [bilinear(y + (oy + (sy + 0.5) / ny) * wh / size - 0.5,
                                        x + (ox + (sx + 0.5) / nx) * ww / size - 0.5, c)
                               for sy in range(ny) for sx in range(nx)]
                    out[k, oy, ox, c] = min(255, int(sum(samples) / len(samples) + 0.5))
    return out
