"""Gradient checks: hand-written backward passes against central differences, in float64, on the CPU (NumPy
arrays) or the GPU (CuPy arrays)."""
import numpy as np

from nanonet.backend import get_array_module


def numerical_grad(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function f() with respect to array x (changed in place)."""
    g = get_array_module(x).zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i].item()      # a Python float: CuPy's flat[i] is a view that the next line would change
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g


def check_layer(layer, x, train=True, seed=0, atol=1e-6, rtol=1e-5, reset=None):
    """Compare layer.backward with numerical gradients of L = sum(forward(x) * r) for a random r.

    Checks dL/dx and every parameter's gradient. `reset()` runs before every forward, for layers whose
    forward draws random numbers (dropout) and must draw the same ones each time.
    Raises AssertionError naming the first array whose gradient disagrees.
    """
    xp = get_array_module(x)
    reset = reset or (lambda: None)
    x = xp.array(x, dtype=np.float64)
    reset()
    y = layer.forward(x, train)
    r = xp.asarray(np.random.default_rng(seed).normal(size=y.shape))

    def loss():
        reset()
        return float((layer.forward(x, train) * r).sum())

    reset()
    layer.forward(x, train)
    gx = layer.backward(r)
    analytic = {"x": gx, **{name: p.grad for name, p in layer.named_params()}}
    numeric = {"x": numerical_grad(loss, x), **{name: numerical_grad(loss, p.data)
                                                for name, p in layer.named_params()}}
    for name, expected in numeric.items():
        got = analytic[name]
        if got is None or got.shape != expected.shape:
            raise AssertionError(f"{name}: backward gave {None if got is None else got.shape}, "
                                 f"expected {expected.shape}")
        if not xp.allclose(got, expected, atol=atol, rtol=rtol):
            worst = float(xp.abs(got - expected).max())
            raise AssertionError(f"{name}: analytic and numerical gradients differ by up to {worst:.3g}")
