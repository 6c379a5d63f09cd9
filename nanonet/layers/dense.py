"""Fully connected layer, and Flatten to feed it from convolutions."""
import numpy as np

from nanonet.backend import get_array_module
from nanonet.initializers import initialize
from nanonet.layers.base import Layer, Param


class Linear(Layer):
    """y = x W^T + b.  x: (N, in) -> y: (N, out); W: (out, in), b: (out,). Wider inputs are flattened.

    In evaluation on the CPU the GEMM reads a C-contiguous copy of W^T, kept until W changes or the layer
    trains: given W^T as a transposed view, BLAS repacks it on every call, which took 2 to 3 times as long
    for the few rows (windows) that a detector's last stages read."""

    def __init__(self, in_size, out_size, nobias=False, initializer="he", rng=None, dtype=np.float32):
        self.in_size, self.out_size = in_size, out_size
        self.W = Param(initialize(initializer, rng, (out_size, in_size), in_size, out_size, dtype))
        self.b = None if nobias else Param(np.zeros(out_size, dtype=dtype))
        self._transposed = None     # (the W it was copied from, W^T C-contiguous)

    def config(self):
        return dict(in_size=self.in_size, out_size=self.out_size, nobias=self.b is None)

    def forward(self, x, train=False):
        self._in_shape = x.shape
        x = x.reshape(len(x), -1)
        if x.shape[1] != self.in_size:
            raise ValueError(f"Linear expects {self.in_size} input features, got shape {self._in_shape}")
        self._x = x
        y = x @ self._weights_transposed(train)
        if self.b is not None:
            y += self.b.data
        return y

    def _weights_transposed(self, train):
        if train or get_array_module(self.W.data) is not np:
            self._transposed = None     # the weights are about to change
            return self.W.data.T
        return self._kept("_transposed", self.W, lambda W: np.ascontiguousarray(W.T))

    def backward(self, gy):
        xp = get_array_module(gy)
        xp.matmul(gy.T, self._x, out=self.W.grad_buffer())
        if self.b is not None:
            self.b.grad = gy.sum(axis=0)
        return (gy @ self.W.data).reshape(self._in_shape)


class Flatten(Layer):
    """x: (N, ...) -> (N, prod(...))."""

    def forward(self, x, train=False):
        self._in_shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, gy):
        return gy.reshape(self._in_shape)


def linear_reference(x, W, b):
    """Slow, obvious dense layer: one dot product per output."""
    x = x.reshape(len(x), -1)
    y = np.zeros((len(x), len(W)), dtype=x.dtype)
    for n in range(len(x)):
        for o in range(len(W)):
            y[n, o] = np.dot(x[n], W[o]) + (0 if b is None else b[o])
    return y
