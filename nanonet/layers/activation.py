"""Elementwise activations and softmax. Each keeps what its backward needs: the output or a mask."""
from nanonet.backend import get_array_module
from nanonet.layers.base import Layer


class ReLU(Layer):
    """y = max(x, 0)."""

    def forward(self, x, train=False):
        self._y = get_array_module(x).maximum(x, 0)
        return self._y

    def backward(self, gy):
        return gy * (self._y > 0)


class LeakyReLU(Layer):
    """y = x if x > 0 else slope * x."""

    def __init__(self, slope=0.2):
        self.slope = slope

    def config(self):
        return dict(slope=self.slope)

    def forward(self, x, train=False):
        self._positive = x > 0
        xp = get_array_module(x)
        return xp.where(self._positive, x, x * x.dtype.type(self.slope))

    def backward(self, gy):
        xp = get_array_module(gy)
        return xp.where(self._positive, gy, gy * gy.dtype.type(self.slope))


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x)), computed as (tanh(x / 2) + 1) / 2, which cannot overflow."""

    def forward(self, x, train=False):
        xp = get_array_module(x)
        self._y = (xp.tanh(x * 0.5) + 1) * 0.5
        return self._y

    def backward(self, gy):
        return gy * self._y * (1 - self._y)


class Tanh(Layer):
    """y = tanh(x)."""

    def forward(self, x, train=False):
        self._y = get_array_module(x).tanh(x)
        return self._y

    def backward(self, gy):
        return gy * (1 - self._y * self._y)


class Softmax(Layer):
    """y = exp(x) / sum(exp(x)) along `axis` (the class axis, 1 by default)."""

    def __init__(self, axis=1):
        self.axis = axis

    def config(self):
        return dict(axis=self.axis)

    def forward(self, x, train=False):
        self._y = softmax(x, self.axis)
        return self._y

    def backward(self, gy):
        y = self._y
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


def softmax(x, axis=1):
    xp = get_array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
