"""nanonet: a small CNN framework with hand-written forward and backward passes on NumPy and CuPy."""
from nanonet.backend import BackendError, get_array_module, to_cpu, to_gpu, use_device
from nanonet.layers import (AvgPool2D, BatchNorm, Conv2D, Dropout, Flatten, Layer, LeakyReLU, Linear,
                            MaxPool2D, Param, ReLU, Sigmoid, Softmax, Tanh)
from nanonet.model import Concat, Sequential

__version__ = "0.1.0"

__all__ = ["AvgPool2D", "BackendError", "BatchNorm", "Concat", "Conv2D", "Dropout", "Flatten", "Layer",
           "LeakyReLU", "Linear", "MaxPool2D", "Param", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
           "get_array_module", "to_cpu", "to_gpu", "use_device"]
