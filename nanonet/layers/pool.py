"""Max and average pooling layers (NCHW). See nanonet.kernels.pool for the rounding rules."""
from nanonet.kernels import pool as kernels
from nanonet.layers.base import Layer
from nanonet.layers.conv import _pair


class _Pool2D(Layer):
    def __init__(self, ksize, stride=None, pad=0, cover_all=True):
        self.ksize = _pair(ksize)
        self.stride = self.ksize if stride is None else _pair(stride)
        self.pad = _pair(pad)
        if any(p > k // 2 for p, k in zip(self.pad, self.ksize)):
            raise ValueError(f"pooling pad {self.pad} must be at most half the window {self.ksize}")
        self.cover_all = cover_all

    def config(self):
        return dict(ksize=self.ksize, stride=self.stride, pad=self.pad, cover_all=self.cover_all)

    def _check(self, x):
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects (N, C, H, W) input, got shape {x.shape}")
        self._in_hw = x.shape[2:]


class MaxPool2D(_Pool2D):
    """y[n, c, i, j] = max of x over window (i, j).  x: (N, C, H, W) -> y: (N, C, oh, ow)."""

    def forward(self, x, train=False):
        self._check(x)
        y, self._argmax = kernels.max_pool_forward(x, *self.ksize, *self.stride, *self.pad, self.cover_all,
                                                   argmax=train)
        return y

    def backward(self, gy):
        return kernels.max_pool_backward(gy, self._argmax, *self._in_hw, *self.ksize, *self.stride, *self.pad)


class AvgPool2D(_Pool2D):
    """y[n, c, i, j] = mean of x over window (i, j).  x: (N, C, H, W) -> y: (N, C, oh, ow)."""

    def forward(self, x, train=False):
        self._check(x)
        return kernels.avg_pool_forward(x, *self.ksize, *self.stride, *self.pad, self.cover_all)

    def backward(self, gy):
        return kernels.avg_pool_backward(gy, *self._in_hw, *self.ksize, *self.stride, *self.pad)
