"""Array-module dispatch in the style of Chainer: one code path for NumPy (CPU) and CuPy (GPU).

`get_array_module(x)` returns `cupy` when `x` lives on a GPU and `numpy` otherwise, so layer code
writes `xp = get_array_module(x)` and calls `xp.*` without caring where it runs.
"""
import numpy as np

try:  # CuPy is an optional extra: `pip install .[gpu]`
    import cupy
except Exception:  # ImportError, or a CuPy built for a CUDA that is not there
    cupy = None


class BackendError(RuntimeError):
    """A device was asked for that this machine cannot give."""


def cupy_available():
    """True when CuPy imports and sees at least one GPU."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_array_module(*arrays):
    """`cupy` if any argument is a CuPy array, else `numpy`."""
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    return np


def is_gpu_array(x):
    return cupy is not None and isinstance(x, cupy.ndarray)


def use_device(device):
    """Select device `device` (an int; -1 means CPU). Returns the array module to allocate with.

    Raises BackendError with a one-line reason when a GPU is asked for and cannot be had.
    """
    if device is None or device < 0:
        return np
    if cupy is None:
        raise BackendError(f"--gpu {device} needs CuPy, which is not installed (pip install '.[gpu]')")
    if not cupy_available():
        raise BackendError(f"--gpu {device}: CuPy is installed but sees no GPU")
    count = cupy.cuda.runtime.getDeviceCount()
    if device >= count:
        raise BackendError(f"--gpu {device}: this machine has {count} GPU(s), numbered 0 to {count - 1}")
    cupy.cuda.Device(device).use()
    return cupy


def device_name(device):
    """What device `device` is, in words: "CPU" for -1, else the GPU's name."""
    if device is None or device < 0:
        return "CPU"
    return cupy.cuda.runtime.getDeviceProperties(device)["name"].decode()


def to_gpu(x, device=None):
    """Copy a NumPy array to the current (or given) GPU; CuPy arrays pass through."""
    if cupy is None:
        raise BackendError("to_gpu needs CuPy, which is not installed (pip install '.[gpu]')")
    if device is None:
        return cupy.asarray(x)
    with cupy.cuda.Device(device):
        return cupy.asarray(x)


def to_cpu(x):
    """Copy a CuPy array to the host; NumPy arrays pass through."""
    if is_gpu_array(x):
        return x.get()
    return np.asarray(x)
