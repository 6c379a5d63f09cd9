from nanonet.layers.activation import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nanonet.layers.base import Layer, Param
from nanonet.layers.conv import Conv2D
from nanonet.layers.dense import Flatten, Linear
from nanonet.layers.dropout import Dropout
from nanonet.layers.norm import BatchNorm
from nanonet.layers.pool import AvgPool2D, MaxPool2D

__all__ = ["AvgPool2D", "BatchNorm", "Conv2D", "Dropout", "Flatten", "Layer", "LeakyReLU", "Linear",
           "MaxPool2D", "Param", "ReLU", "Sigmoid", "Softmax", "Tanh"]
