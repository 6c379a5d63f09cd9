"""Inverted dropout: zero a fraction of activations in training and rescale the rest."""
import numpy as np

from nanonet.backend import get_array_module
from nanonet.layers.base import Layer


class Dropout(Layer):
    """y = x * mask / (1 - ratio) in training, y = x in evaluation.

    Masks are drawn on the host from the caller's Generator and then moved to x's device, so the same
    seed gives the same masks on CPU and GPU.
    """

    def __init__(self, ratio=0.5, rng=None):
        if not 0 <= ratio < 1:
            raise ValueError(f"dropout ratio must be in [0, 1), got {ratio}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("pass rng=np.random.default_rng(seed): every random draw comes from the caller's generator")
        self.ratio, self.rng = ratio, rng

    def config(self):
        return dict(ratio=self.ratio)

    def forward(self, x, train=False):
        if not train or self.ratio == 0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.ratio
        self._scale = get_array_module(x).asarray(keep).astype(x.dtype) / x.dtype.type(1 - self.ratio)
        return x * self._scale

    def backward(self, gy):
        """gy None (a first layer below that computes no input gradient) passes through."""
        return gy if self._scale is None or gy is None else gy * self._scale
