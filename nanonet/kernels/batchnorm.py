"""Batch-norm statistics and gradients over x viewed as (N, C, M), M = H * W (1 for dense inputs).

The numba kernels make one parallel pass per channel and accumulate in float64; backward recomputes
xhat = (x - mean) * inv_std from x rather than keeping a normalised copy. The `xp` versions are the CuPy
path (and run on NumPy too, where the tests compare the two).
"""
import numpy as np
from numba import njit, prange

from nanonet.backend import get_array_module


def batch_norm_forward(x3, gamma, beta, eps):
    """Training forward: -> (y (N, C, M), mean (C,), var (C,) biased, inv_std (C,))."""
    if get_array_module(x3) is np:
        return _forward_cpu(np.ascontiguousarray(x3), gamma, beta, eps)
    return batch_norm_forward_xp(x3, gamma, beta, eps)


def batch_norm_backward(gy3, x3, gamma, mean, inv_std):
    """Training backward: -> (gx (N, C, M), ggamma (C,), gbeta (C,))."""
    if get_array_module(gy3) is np:
        return _backward_cpu(np.ascontiguousarray(gy3), x3, gamma, mean, inv_std)
    return batch_norm_backward_xp(gy3, x3, gamma, mean, inv_std)


def channel_sums(a3):
    """(N, C, M) -> (C,): the sum over N and M, in two reductions over one axis each. CuPy reduces several
    axes in one block per output, so a few channels of many elements would keep most of the GPU idle."""
    return a3.sum(axis=2).sum(axis=0)


def batch_norm_forward_xp(x3, gamma, beta, eps):
    m = x3.size // x3.shape[1]
    mean = channel_sums(x3) / m
    var = channel_sums((x3 - mean[:, None]) ** 2) / m
    inv_std = 1 / (var + eps) ** 0.5
    scale = gamma * inv_std
    y = x3 * scale[:, None] + (beta - mean * scale)[:, None]
    return y, mean, var, inv_std


def batch_norm_backward_xp(gy3, x3, gamma, mean, inv_std):
    xhat = (x3 - mean[:, None]) * inv_std[:, None]
    gbeta = channel_sums(gy3)
    ggamma = channel_sums(gy3 * xhat)
    m = gy3.size // gy3.shape[1]
    gx = (gamma * inv_std)[:, None] * (gy3 - (gbeta[:, None] + xhat * ggamma[:, None]) / m)
    return gx, ggamma, gbeta


@njit(parallel=True, cache=True)
def _forward_cpu(x, gamma, beta, eps):
    n, c, m = x.shape
    y = np.empty_like(x)
    mean = np.empty(c, dtype=x.dtype)
    var = np.empty(c, dtype=x.dtype)
    inv_std = np.empty(c, dtype=x.dtype)
    count = n * m
    for ch in prange(c):
        s = 0.0
        for b in range(n):
            for i in range(m):
                s += x[b, ch, i]
        mu = s / count
        ss = 0.0
        for b in range(n):
            for i in range(m):
                d = x[b, ch, i] - mu
                ss += d * d
        v = ss / count
        inv = 1.0 / np.sqrt(v + eps)
        scale = gamma[ch] * inv
        shift = beta[ch] - mu * scale
        for b in range(n):
            for i in range(m):
                y[b, ch, i] = x[b, ch, i] * scale + shift
        mean[ch], var[ch], inv_std[ch] = mu, v, inv
    return y, mean, var, inv_std


@njit(parallel=True, cache=True)
def _backward_cpu(gy, x, gamma, mean, inv_std):
    n, c, m = gy.shape
    gx = np.empty_like(gy)
    ggamma = np.empty(c, dtype=gy.dtype)
    gbeta = np.empty(c, dtype=gy.dtype)
    count = n * m
    for ch in prange(c):
        mu, inv = mean[ch], inv_std[ch]
        sg = 0.0
        sgx = 0.0
        for b in range(n):
            for i in range(m):
                g = gy[b, ch, i]
                sg += g
                sgx += g * (x[b, ch, i] - mu)
        sgx *= inv
        scale = gamma[ch] * inv
        for b in range(n):
            for i in range(m):
                xhat = (x[b, ch, i] - mu) * inv
                gx[b, ch, i] = scale * (gy[b, ch, i] - (sg + xhat * sgx) / count)
        ggamma[ch], gbeta[ch] = sgx, sg
    return gx, ggamma, gbeta
