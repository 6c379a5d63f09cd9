"""nanonet: a small CNN framework with hand-written forward and backward passes on NumPy and CuPy."""
import os

# numba runs its parallel kernels on OpenMP threads, which by default spin a while after each kernel and take
# the cores from BLAS's and OpenCV's threads: on 2 cores that made a 640x480 detection four times slower
# (536 against 136 ms) and a FrgNet64-slim training step twice as slow (352 against 174 ms). Idle threads
# sleep instead. Read when OpenMP loads, at numba's first parallel kernel; a setting of the user's wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from nanonet.backend import BackendError, get_array_module, to_cpu, to_gpu, use_device  # noqa: E402
from nanonet.layers import (AvgPool2D, BatchNorm, Conv2D, Dropout, Flatten, Layer, LeakyReLU, Linear,  # noqa: E402
                            MaxPool2D, Param, ReLU, Sigmoid, Softmax, Tanh)
from nanonet.model import Concat, Sequential  # noqa: E402

__version__ = "0.1.0"

__all__ = ["AvgPool2D", "BackendError", "BatchNorm", "Concat", "Conv2D", "Dropout", "Flatten", "Layer",
           "LeakyReLU", "Linear", "MaxPool2D", "Param", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
           "get_array_module", "to_cpu", "to_gpu", "use_device"]
