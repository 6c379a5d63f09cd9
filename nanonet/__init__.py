"""nanonet: a small CNN framework with hand-written forward and backward passes on NumPy and CuPy."""
import os

# numba runs its parallel kernels on OpenMP threads, which by default spin a while after each kernel. Beside
# a multi-threaded BLAS they take its cores: on 2 cores a 640x480 detection took 536 ms instead of 115 and a
# FrgNet64-slim training step 352 instead of 180. There, idle OpenMP threads sleep; with BLAS on one thread
# (detect.py) spinning is faster. Read when OpenMP loads, at numba's first parallel kernel; a setting of the
# user's wins.
if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from nanonet.backend import BackendError, get_array_module, to_cpu, to_gpu, use_device  # noqa: E402
from nanonet.layers import (AvgPool2D, BatchNorm, Conv2D, Dropout, Flatten, Layer, LeakyReLU, Linear,  # noqa: E402
                            MaxPool2D, Param, ReLU, Sigmoid, Softmax, Tanh)
from nanonet.model import Concat, Sequential  # noqa: E402

__version__ = "0.1.0"

__all__ = ["AvgPool2D", "BackendError", "BatchNorm", "Concat", "Conv2D", "Dropout", "Flatten", "Layer",
           "LeakyReLU", "Linear", "MaxPool2D", "Param", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
           "get_array_module", "to_cpu", "to_gpu", "use_device"]
