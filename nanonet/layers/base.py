"""The layer protocol: parameters with gradients, buffers, forward(x, train) and backward(gy)."""
import numpy as np

from nanonet import backend


class Param:
    """A trained array and the gradient that the last backward pass left for it."""
    __slots__ = ("data", "grad")

    def __init__(self, data):
        self.data = data
        self.grad = None

    def grad_buffer(self):
        """The array for the next gradient: last step's, overwritten (a fresh 150 MB array costs page
        faults on every step), or a new one."""
        if self.grad is None or self.grad.shape != self.data.shape or self.grad.dtype != self.data.dtype:
            self.grad = backend.get_array_module(self.data).empty_like(self.data)
        return self.grad


class Layer:
    """Base class. A layer keeps what its backward needs from the last forward.

    Trainable arrays are `Param` attributes; `buffers` names attributes holding arrays that are saved
    with the model but not trained (batch-norm statistics).
    """
    buffers = ()

    def forward(self, x, train=False):
        raise NotImplementedError

    def backward(self, gy):
        """Set every Param's .grad from gy = dL/dy and return dL/dx."""
        raise NotImplementedError

    def __call__(self, x, train=False):
        return self.forward(x, train)

    def _kept(self, name, param, make):
        """make(param.data), kept in the attribute `name` as (param.data, result) until param.data is
        replaced: what evaluation derives from the weights once. A training forward sets the attribute to
        None, as an optimizer then changes the weights in place."""
        kept = getattr(self, name)
        if kept is None or kept[0] is not param.data:
            kept = (param.data, make(param.data))
            setattr(self, name, kept)
        return kept[1]

    def children(self):
        """(name, layer) pairs of the layers this one contains."""
        return ()

    def named_layers(self, prefix=""):
        """Yield (name, layer) for this layer ('' at the root) and every layer below it."""
        yield prefix.rstrip("/"), self
        for name, child in self.children():
            yield from child.named_layers(f"{prefix}{name}/")

    def named_params(self, prefix=""):
        """Yield (name, Param) for every trainable array here and below, in a fixed order."""
        for attr, value in vars(self).items():
            if isinstance(value, Param):
                yield prefix + attr, value
        for name, child in self.children():
            yield from child.named_params(f"{prefix}{name}/")

    def named_buffers(self, prefix=""):
        """Yield (name, layer, attribute) for every buffer here and below."""
        for attr in self.buffers:
            yield prefix + attr, self, attr
        for name, child in self.children():
            yield from child.named_buffers(f"{prefix}{name}/")

    def state(self):
        """Every saved array by name: parameters and buffers."""
        arrays = {name: p.data for name, p in self.named_params()}
        arrays.update((name, getattr(layer, attr)) for name, layer, attr in self.named_buffers())
        return arrays

    def set_state(self, arrays):
        """Replace every parameter and buffer from `arrays` (names and shapes already checked)."""
        xp = self.xp
        for name, p in self.named_params():
            p.data = xp.asarray(arrays[name], dtype=p.data.dtype)
        for name, layer, attr in self.named_buffers():
            setattr(layer, attr, xp.asarray(arrays[name], dtype=getattr(layer, attr).dtype))

    @property
    def xp(self):
        """The array module that holds this layer's arrays (numpy when it has none)."""
        for _, p in self.named_params():
            return backend.get_array_module(p.data)
        for _, layer, attr in self.named_buffers():
            return backend.get_array_module(getattr(layer, attr))
        return np

    def _map_arrays(self, fn):
        for _, p in self.named_params():
            p.data = fn(p.data)
            p.grad = None if p.grad is None else fn(p.grad)
        for _, layer, attr in self.named_buffers():
            setattr(layer, attr, fn(getattr(layer, attr)))
        return self

    def to_gpu(self, device=None):
        """Move every array to the GPU (the current one, or `device`). Returns self."""
        return self._map_arrays(lambda a: backend.to_gpu(a, device))

    def to_cpu(self):
        """Move every array to the host. Returns self."""
        return self._map_arrays(backend.to_cpu)

    def astype(self, dtype):
        """Cast every floating array (float64 for gradient checks). Returns self."""
        return self._map_arrays(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def config(self):
        """The constructor arguments that define this layer's shape (for printing)."""
        return {}
