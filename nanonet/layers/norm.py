"""Batch normalisation (Ioffe and Szegedy 2015) for dense (N, C) and convolutional (N, C, H, W) inputs."""
import numpy as np

from nanonet.kernels.batchnorm import batch_norm_backward, batch_norm_forward, channel_sums
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

    def _as_ncm(self, x):
        if x.ndim not in (2, 4) or x.shape[1] != self.channels:
            raise ValueError(f"BatchNorm expects (N, {self.channels}) or (N, {self.channels}, H, W) input, "
                             f"got shape {x.shape}")
        return x.reshape(x.shape[0], self.channels, -1)

    def forward(self, x, train=False):
        x3 = self._as_ncm(x)
        self._train, self._x3 = train, x3
        if not train:  # the running statistics are constants: an affine map per channel
            self._inv_std = 1 / (self.avg_var + self.eps) ** 0.5
            scale = self.gamma.data * self._inv_std
            y = x3 * scale[:, None] + (self.beta.data - self.avg_mean * scale)[:, None]
            return y.reshape(x.shape)
        y, mean, var, self._inv_std = batch_norm_forward(x3, self.gamma.data, self.beta.data, self.eps)
        self._mean = mean
        m = x3.shape[0] * x3.shape[2]
        self.avg_mean *= self.decay
        self.avg_mean += (1 - self.decay) * mean
        self.avg_var *= self.decay
        self.avg_var += (1 - self.decay) * var * (m / max(m - 1, 1))
        return y.reshape(x.shape)

    def backward(self, gy):
        gy3 = self._as_ncm(gy)
        if not self._train:
            xhat = (self._x3 - self.avg_mean[:, None]) * self._inv_std[:, None]
            self.beta.grad = channel_sums(gy3)
            self.gamma.grad = channel_sums(gy3 * xhat)
            return (gy3 * (self.gamma.data * self._inv_std)[:, None]).reshape(gy.shape)
        gx, self.gamma.grad, self.beta.grad = batch_norm_backward(gy3, self._x3, self.gamma.data, self._mean,
                                                                  self._inv_std)
        return gx.reshape(gy.shape)


def batch_norm_reference(x, gamma, beta, eps):
    """Slow, obvious training-mode batch norm: one channel at a time."""
    y = np.empty_like(x)
    for c in range(x.shape[1]):
        xc = x[:, c]
        y[:, c] = gamma[c] * (xc - xc.mean()) / np.sqrt(xc.var() + eps) + beta[c]
    return y
