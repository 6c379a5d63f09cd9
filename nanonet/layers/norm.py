"""Batch normalisation (Ioffe and Szegedy 2015) for dense (N, C) and convolutional (N, C, H, W) inputs."""
import numpy as np

from nanonet.layers.base import Layer, Param


class BatchNorm(Layer):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per channel (axis 1).

    Training normalises with the batch's statistics and folds them into running averages
    (avg = decay * avg + (1 - decay) * batch, the variance unbiased, as in Chainer); evaluation uses the
    running averages. gamma, beta, avg_mean, avg_var: (C,).
    """
    buffers = ("avg_mean", "avg_var")

    def __init__(self, channels, eps=2e-5, decay=0.9, dtype=np.float32):
        self.channels, self.eps, self.decay = channels, eps, decay
        self.gamma = Param(np.ones(channels, dtype=dtype))
        self.beta = Param(np.zeros(channels, dtype=dtype))
        self.avg_mean = np.zeros(channels, dtype=dtype)
        self.avg_var = np.ones(channels, dtype=dtype)

    def config(self):
        return dict(channels=self.channels, eps=self.eps, decay=self.decay)

    def _axes_and_shape(self, x):
        if x.ndim not in (2, 4) or x.shape[1] != self.channels:
            raise ValueError(f"BatchNorm expects (N, {self.channels}) or (N, {self.channels}, H, W) input, "
                             f"got shape {x.shape}")
        return (0,) if x.ndim == 2 else (0, 2, 3), (1, -1) + (1,) * (x.ndim - 2)

    def forward(self, x, train=False):
        axes, shape = self._axes_and_shape(x)
        if train:
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            m = x.size // self.channels
            self.avg_mean *= self.decay
            self.avg_mean += (1 - self.decay) * mean
            self.avg_var *= self.decay
            self.avg_var += (1 - self.decay) * var * (m / max(m - 1, 1))
        else:
            mean, var = self.avg_mean, self.avg_var
        self._train = train
        self._inv_std = 1.0 / (var + self.eps) ** 0.5
        self._xhat = (x - mean.reshape(shape)) * self._inv_std.reshape(shape)
        return self.gamma.data.reshape(shape) * self._xhat + self.beta.data.reshape(shape)

    def backward(self, gy):
        axes, shape = self._axes_and_shape(gy)
        xhat = self._xhat
        self.beta.grad = gy.sum(axis=axes)
        self.gamma.grad = (gy * xhat).sum(axis=axes)
        scale = (self.gamma.data * self._inv_std).reshape(shape)
        if not self._train:  # the statistics were constants
            return gy * scale
        m = gy.size // self.channels
        return scale * (gy - (self.beta.grad.reshape(shape) + xhat * self.gamma.grad.reshape(shape)) / m)


def batch_norm_reference(x, gamma, beta, eps):
    """Slow, obvious training-mode batch norm: one channel at a time."""
    y = np.empty_like(x)
    for c in range(x.shape[1]):
        xc = x[:, c]
        y[:, c] = gamma[c] * (xc - xc.mean()) / np.sqrt(xc.var() + eps) + beta[c]
    return y
