"""Weight initialisers. Each draws from the caller's numpy Generator, so a seed fixes the net."""
import numpy as np


def he_normal(rng, shape, fan_in, fan_out, dtype):
    """N(0, 2 / fan_in): keeps activations' variance through ReLUs (He et al. 2015)."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(dtype)


def lecun_normal(rng, shape, fan_in, fan_out, dtype):
    """N(0, 1 / fan_in): Chainer's default."""
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), shape).astype(dtype)


def glorot_uniform(rng, shape, fan_in, fan_out, dtype):
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio 2010)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


INITIALIZERS = {"he": he_normal, "lecun": lecun_normal, "glorot": glorot_uniform}


def initialize(name, rng, shape, fan_in, fan_out, dtype):
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; choose from {', '.join(INITIALIZERS)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("pass rng=np.random.default_rng(seed): every random draw comes from the caller's generator")
    return INITIALIZERS[name](rng, shape, fan_in, fan_out, dtype)
