"""Containers: Sequential chains layers; Concat runs parallel branches on one input and joins them.

Branched graphs are declared by nesting the two, e.g. an Inception module is
Concat(Sequential(conv1x1), Sequential(conv1x1, conv3x3), Sequential(pool, conv1x1)), and a
multi-resolution net is Concat(big_trunk, Sequential(AvgPool2D(2), small_trunk)).
"""
import copy

import numpy as np

from nanonet.backend import get_array_module
from nanonet.layers.activation import LeakyReLU, ReLU
from nanonet.layers.base import Layer, Param
from nanonet.layers.conv import Conv2D
from nanonet.layers.dense import Flatten, Linear
from nanonet.layers.dropout import Dropout
from nanonet.layers.norm import BatchNorm
from nanonet.layers.pool import MaxPool2D


class Sequential(Layer):
    """y = layers[-1](... layers[0](x)). Parameters are named by position: '0/W', '3/gamma', ..."""

    def __init__(self, *layers):
        self.layers = list(layers)

    def children(self):
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def forward(self, x, train=False):
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, gy):
        """Returns dL/dx, or None when the first layer was built not to compute it."""
        for layer in reversed(self.layers):
            gy = layer.backward(gy)
        return gy

    def predict(self, x):
        """Forward in evaluation mode."""
        return self.forward(x, train=False)

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        lines = [f"  ({i}) " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"


class Concat(Layer):
    """y = concatenate([branch(x) for branch in branches], axis). Every branch sees the same x."""

    def __init__(self, *branches, axis=1):
        self.branches, self.axis = list(branches), axis

    def children(self):
        return [(str(i), branch) for i, branch in enumerate(self.branches)]

    def forward(self, x, train=False):
        ys = [branch.forward(x, train) for branch in self.branches]
        self._sizes = [y.shape[self.axis] for y in ys]
        return get_array_module(x).concatenate(ys, axis=self.axis)

    def backward(self, gy):
        xp = get_array_module(gy)
        bounds = [sum(self._sizes[:i + 1]) for i in range(len(self._sizes) - 1)]
        parts = xp.split(gy, bounds, axis=self.axis)
        gx = None
        for branch, part in zip(self.branches, parts):
            g = branch.backward(part)
            gx = g if gx is None else gx + g
        return gx

    def __repr__(self):
        lines = [f"  [{i}] " + repr(b).replace("\n", "\n  ") for i, b in enumerate(self.branches)]
        return f"Concat(axis={self.axis},\n" + "\n".join(lines) + "\n)"


def fully_convolutional(model, input_shape, every=1):
    """A Sequential that evaluates classifier `model` at every position (or every `every`-th, in each
    direction) of an input larger than `input_shape` (C, H, W), for inference.

    The first Linear, which reads a (c, h, w) map, becomes an h x w convolution with the same weights and
    stride `every`;
    later Linears become 1x1 convolutions; Flatten and Dropout (identities in evaluation) are left out.
    Other layers are shared with `model`; nested Sequentials are flattened. Output (N, classes, gh, gw):
    cell (i, j) is the classifier's output for the input window whose corner is (i, j) times the net's
    total stride.
    """
    x = model.xp.zeros((1,) + tuple(input_shape), dtype=np.float32)  # on the model's device
    layers, first = [], True
    for layer in _chain(model):
        if isinstance(layer, (Flatten, Dropout)):
            continue
        if isinstance(layer, Linear):
            c, h, w = x.shape[1:] if x.ndim == 4 else (x.shape[1], 1, 1)
            conv = Conv2D(c, layer.out_size, (h, w), stride=every if first else 1, nobias=layer.b is None,
                          rng=np.random.default_rng(0), dtype=layer.W.data.dtype)
            conv.W.data = layer.W.data.reshape(layer.out_size, c, h, w)
            if layer.b is not None:
                conv.b.data = layer.b.data
            layer, first = conv, False
            x = x.reshape(1, c, h, w)
        x = layer.forward(x)
        layers.append(layer)
    return Sequential(*layers)


def batch_norm_folded(model):
    """An inference copy of `model` in which every BatchNorm right after a Conv2D or Linear is folded into
    that layer: gamma * (W x + b - mean) / sqrt(var + eps) + beta = W' x + b'; and every ReLU right before a
    MaxPool2D moves after it, to act on the pooled map (max commutes with a rising function). Evaluation
    results are unchanged (up to rounding), a pass over the activations is saved and another shrunk; the
    other layers are shared."""
    if isinstance(model, Concat):
        return Concat(*map(batch_norm_folded, model.branches), axis=model.axis)
    if not isinstance(model, Sequential):
        return model
    layers = []
    for layer in model.layers:
        if isinstance(layer, BatchNorm) and layers and isinstance(layers[-1], (Conv2D, Linear)):
            layers[-1] = _folded(layers[-1], layer)
        elif isinstance(layer, MaxPool2D) and layers and _rising(layers[-1]):
            layers.insert(-1, layer)
        else:
            layers.append(batch_norm_folded(layer))
    return Sequential(*layers)


def _rising(layer):
    return type(layer) is ReLU or type(layer) is LeakyReLU and layer.slope >= 0


def _folded(layer, norm):
    scale = norm.gamma.data / (norm.avg_var + norm.eps) ** 0.5
    folded = copy.copy(layer)
    folded.W = Param(layer.W.data * scale.reshape((-1,) + (1,) * (layer.W.data.ndim - 1)))
    folded.b = Param(((layer.b.data if layer.b is not None else 0) - norm.avg_mean) * scale + norm.beta.data)
    if isinstance(layer, Conv2D):
        folded._stores = {}      # its own column buffers
    return folded


def _chain(model):
    """The layers of a Sequential, nested Sequentials opened; a branched model has no single chain."""
    for layer in model.layers:
        if isinstance(layer, Concat):
            raise ValueError("a model with parallel branches (Concat) cannot be made fully convolutional")
        yield from _chain(layer) if isinstance(layer, Sequential) else [layer]
