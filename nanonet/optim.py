"""Optimizers and learning-rate schedules.

An optimizer is set up on a model, then `update()` applies one step from the gradients that the last
backward pass left in each Param. Weight decay adds `weight_decay * W` to each gradient first (L2, as
Chainer's WeightDecay hook). `lr` and `weight_decay` are plain attributes, so a schedule can change them
between epochs. `state()` / `set_state()` give the per-parameter slots for checkpoints.
"""
import math

import numpy as np
from numba import njit, prange

from nanonet.backend import get_array_module


class Optimizer:
    slots = ()

    def __init__(self, lr, weight_decay=0.0):
        self.lr, self.weight_decay = lr, weight_decay
        self.model, self.t = None, 0
        self._state = {}

    def setup(self, model):
        self.model = model
        self._state = {}
        return self

    def update(self):
        self.t += 1
        for name, p in self.model.named_params():
            if p.grad is None:
                continue
            if name not in self._state:
                xp = get_array_module(p.data)
                self._state[name] = {s: xp.zeros_like(p.data) for s in self.slots}
            self._step(p.data, p.grad, self._state[name])

    def _step(self, w, g, state):
        """Update w in place from its raw gradient g."""
        raise NotImplementedError

    def _decayed(self, w, g):
        return g + self.weight_decay * w if self.weight_decay else g

    def state(self):
        """Flat {"t": step, "<param>/<slot>": array} for saving."""
        arrays = {f"{name}/{slot}": a for name, slots in self._state.items() for slot, a in slots.items()}
        arrays["t"] = self.t
        return arrays

    def set_state(self, arrays):
        xp = self.model.xp
        self.t = int(arrays["t"])
        self._state = {}
        for key, a in arrays.items():
            if key != "t":
                name, slot = key.rsplit("/", 1)
                self._state.setdefault(name, {})[slot] = xp.asarray(a)


class SGD(Optimizer):
    """w -= lr * g."""

    def _step(self, w, g, state):
        w -= self.lr * self._decayed(w, g)


class MomentumSGD(Optimizer):
    """v = momentum * v - lr * g; w += v (Chainer's MomentumSGD)."""
    slots = ("v",)
    nesterov = False

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = momentum

    def _step(self, w, g, state):
        step = momentum_step_cpu if get_array_module(w) is np else momentum_step
        step(w, g, state["v"], self.lr, self.momentum, self.weight_decay, self.nesterov)


class Nesterov(MomentumSGD):
    """Nesterov momentum: v = momentum * v - lr * g; w += momentum * v - lr * g."""
    nesterov = True


def momentum_step(w, g, v, lr, momentum, weight_decay, nesterov):
    """One (Nesterov) momentum step in place, in array operations: the CuPy path and the reference."""
    g = g + weight_decay * w
    v *= momentum
    v -= lr * g
    w += momentum * v - lr * g if nesterov else v


@njit(parallel=True, cache=True)
def _momentum_step_flat(w, g, v, lr, momentum, weight_decay, nesterov):
    for i in prange(w.size):
        gi = g[i] + weight_decay * w[i]
        vi = momentum * v[i] - lr * gi
        v[i] = vi
        w[i] += momentum * vi - lr * gi if nesterov else vi


def momentum_step_cpu(w, g, v, lr, momentum, weight_decay, nesterov):
    """momentum_step fused into one pass over memory (the first dense layer of FrgNet64 holds 38.5M weights)."""
    _momentum_step_flat(w.reshape(-1), np.ascontiguousarray(g).reshape(-1), v.reshape(-1),
                        lr, momentum, weight_decay, nesterov)


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015) with bias correction."""
    slots = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _step(self, w, g, state):
        m, v = state["m"], state["v"]
        g = self._decayed(w, g)
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g * g - v)
        lr_t = self.lr * math.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        w -= lr_t * m / (get_array_module(v).sqrt(v) + self.eps)


class RMSprop(Optimizer):
    """ms = alpha * ms + (1 - alpha) * g^2; w -= lr * g / (sqrt(ms) + eps)."""
    slots = ("ms",)

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.alpha, self.eps = alpha, eps

    def _step(self, w, g, state):
        ms = state["ms"]
        g = self._decayed(w, g)
        ms *= self.alpha
        ms += (1 - self.alpha) * g * g
        w -= self.lr * g / (get_array_module(ms).sqrt(ms) + self.eps)


OPTIMIZERS = {"sgd": SGD, "momentum": MomentumSGD, "nesterov": Nesterov, "adam": Adam, "rmsprop": RMSprop}


# Schedules map an epoch (0-based) to a factor on the base learning rate.

class ExponentialDecay:
    """factor = rate ** epoch (the seeds multiply lr and weight decay by 0.97 each epoch)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate ** epoch


class StepDecay:
    """factor = gamma ** (epoch // every)."""

    def __init__(self, every, gamma=0.1):
        self.every, self.gamma = every, gamma

    def __call__(self, epoch):
        return self.gamma ** (epoch // self.every)


class CosineDecay:
    """factor falls from 1 to `floor` along half a cosine over `epochs`."""

    def __init__(self, epochs, floor=0.0):
        self.epochs, self.floor = epochs, floor

    def __call__(self, epoch):
        progress = min(epoch / max(self.epochs - 1, 1), 1.0)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))
