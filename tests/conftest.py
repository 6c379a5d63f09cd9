import pytest

from nanonet.backend import cupy_available

requires_gpu = pytest.mark.skipif(not cupy_available(), reason="CuPy with a GPU is not available")
