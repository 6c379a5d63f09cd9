"""2-D convolution on NCHW arrays, as im2col followed by one batched GEMM."""
import numpy as np

from nanonet.initializers import initialize
from nanonet.kernels.im2col import col2im, im2col, reusable
from nanonet.layers.base import Layer, Param


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2D(Layer):
    """y = W * x + b.  x: (N, C, H, W) -> y: (N, O, oh, ow), oh = (H + 2 * ph - kh) // sy + 1.

    W: (O, C, kh, kw), b: (O,). With input_grad=False (for a net's first layer, whose input is data)
    backward computes only the parameters' gradients and returns None.
    """

    def __init__(self, in_channels, out_channels, ksize, stride=1, pad=0, nobias=False,
                 initializer="he", rng=None, dtype=np.float32, input_grad=True):
        self.in_channels, self.out_channels, self.input_grad = in_channels, out_channels, input_grad
        self.ksize, self.stride, self.pad = _pair(ksize), _pair(stride), _pair(pad)
        kh, kw = self.ksize
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        self.W = Param(initialize(initializer, rng, (out_channels, in_channels, kh, kw), fan_in, fan_out, dtype))
        self.b = None if nobias else Param(np.zeros(out_channels, dtype=dtype))
        self._col = self._gcol = None  # column buffers, kept between steps and reused

    def config(self):
        return dict(in_channels=self.in_channels, out_channels=self.out_channels, ksize=self.ksize,
                    stride=self.stride, pad=self.pad, nobias=self.b is None)

    def forward(self, x, train=False):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expects (N, {self.in_channels}, H, W) input, got shape {x.shape}")
        (kh, kw), (sy, sx), (ph, pw) = self.ksize, self.stride, self.pad
        n, _, h, w = x.shape
        col = im2col(x, kh, kw, sy, sx, ph, pw, out=self._col)
        self._col, self._in_hw = col, (h, w)
        oh, ow = col.shape[4:]
        y = self.W.data.reshape(self.out_channels, -1) @ col.reshape(n, -1, oh * ow)   # (N, O, oh*ow)
        if self.b is not None:
            y += self.b.data[:, None]
        return y.reshape(n, self.out_channels, oh, ow)

    def backward(self, gy):
        (kh, kw), (sy, sx), (ph, pw) = self.ksize, self.stride, self.pad
        n, o, oh, ow = gy.shape
        xp = self.xp
        gy = gy.reshape(n, o, oh * ow)
        col = self._col.reshape(n, -1, oh * ow)           # (N, C*kh*kw, oh*ow)
        W = self.W.data.reshape(o, -1)
        self.W.grad = (gy @ col.transpose(0, 2, 1)).sum(axis=0).reshape(self.W.data.shape)
        if self.b is not None:
            self.b.grad = gy.sum(axis=(0, 2))
        if not self.input_grad:
            return None
        if not reusable(self._gcol, self._col.shape, gy.dtype, xp):
            self._gcol = xp.empty(self._col.shape, dtype=gy.dtype)
        xp.matmul(W.T, gy, out=self._gcol.reshape(col.shape))
        return col2im(self._gcol, *self._in_hw, sy, sx, ph, pw)


def conv2d_reference(x, W, b, stride, pad):
    """Slow, obvious convolution: a dot product per output pixel."""
    (sy, sx), (ph, pw) = _pair(stride), _pair(pad)
    n, c, h, w = x.shape
    o, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sy + 1, (w + 2 * pw - kw) // sx + 1
    y = np.zeros((n, o, oh, ow), dtype=x.dtype)
    for i in range(n):
        for k in range(o):
            for yy in range(oh):
                for xx in range(ow):
                    window = xp[i, :, yy * sy:yy * sy + kh, xx * sx:xx * sx + kw]
                    y[i, k, yy, xx] = (window * W[k]).sum() + (0 if b is None else b[k])
    return y
