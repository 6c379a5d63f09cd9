"""Losses return (loss, dL/dx): a Python float averaged over the batch, and the gradient to backpropagate."""
import math

from nanonet.backend import get_array_module
from nanonet.layers.activation import softmax


def _check_labels(x, t):
    xp = get_array_module(x)
    if t.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {t.shape}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= x.shape[1]):
        raise ValueError(f"labels must lie in [0, {x.shape[1] - 1}], got {int(t.min())}..{int(t.max())}")
    return xp


def softmax_cross_entropy(x, t, weights=None):
    """x: (N, K) logits, t: (N,) int class labels. L = mean(-log softmax(x)[n, t[n]]); with class `weights`
    (K,), the mean weighted by each sample's class weight: sum(w[t[n]] * loss[n]) / sum(w[t[n]])."""
    xp = _check_labels(x, t)
    n = len(x)
    shifted = x - x.max(axis=1, keepdims=True)
    losses = xp.log(xp.exp(shifted).sum(axis=1)) - shifted[xp.arange(n), t]
    gx = softmax(x, axis=1)
    gx[xp.arange(n), t] -= 1
    if weights is None:
        return float(losses.mean()), gx / n
    w = xp.asarray(weights, x.dtype)[t]
    w /= w.sum()
    return float((w * losses).sum()), gx * w[:, None]


def sigmoid_binary_cross_entropy(x, t):
    """x: logits, t: same shape, 0 or 1. L = mean(-t log s(x) - (1 - t) log(1 - s(x)))."""
    xp = get_array_module(x)
    if t.shape != x.shape:
        raise ValueError(f"targets must have the logits' shape {x.shape}, got {t.shape}")
    # log(1 + exp(-|x|)) + max(x, 0) - t x is the loss, stable for any x.
    loss = float((xp.logaddexp(0, -xp.abs(x)) + xp.maximum(x, 0) - t * x).mean())
    return loss, ((xp.tanh(x * 0.5) + 1) * 0.5 - t) / x.size


def mean_squared_error(x, t):
    """L = mean((x - t)^2) over every element."""
    if t.shape != x.shape:
        raise ValueError(f"targets must have the predictions' shape {x.shape}, got {t.shape}")
    diff = x - t
    return float((diff * diff).mean()), diff * (2.0 / x.size)


def wing(x, t, width=0.04, curvature=0.008):
    """Feng et al.'s wing loss (CVPR 2018) for coordinates: L = mean over every element of the error d = x - t
    of width * ln(1 + |d| / curvature) where |d| < width, and |d| - c beyond, c = width - width * ln(1 + width /
    curvature) joining the two. Small errors pull harder than under squared error (whose pull vanishes as
    they shrink), so a net keeps correcting points that are nearly right; large ones pull no harder than
    under L1, so a few wild points do not steer the rest. `width` and `curvature` are in the targets' units."""
    if t.shape != x.shape:
        raise ValueError(f"targets must have the predictions' shape {x.shape}, got {t.shape}")
    xp = get_array_module(x)
    diff = x - t
    size = xp.abs(diff)
    near = size < width
    join = width - width * math.log1p(width / curvature)
    loss = xp.where(near, width * xp.log1p(size / curvature), size - join)
    slope = xp.where(near, width / (curvature + size), 1.0)
    return float(loss.mean()), (xp.sign(diff) * slope / x.size).astype(x.dtype, copy=False)


def accuracy(x, t):
    """Fraction of rows of x (N, K) whose arg-max is t (N,)."""
    return float((x.argmax(axis=1) == t).mean())
