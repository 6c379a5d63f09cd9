"""Hot loops: numba on CPU, CuPy elementwise kernels on GPU, and a slow reference beside each."""
