"""2-D convolution on NCHW arrays, as im2col followed by one batched GEMM."""
import numpy as np

from nanonet.initializers import initialize
from nanonet.backend import get_array_module
from nanonet.kernels import winograd
from nanonet.kernels.im2col import col2im, conv_outsize, im2col
from nanonet.layers.base import Layer, Param


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2D(Layer):
    """y = W * x + b.  x: (N, C, H, W) -> y: (N, O, oh, ow), oh = (H + 2 * ph - kh) // sy + 1.

    W: (O, C, kh, kw), b: (O,). With input_grad=False (for a net's first layer, whose input is data)
    backward computes only the parameters' gradients and returns None.

    The convolution is im2col and GEMM, in one of two layouts. Large outputs (at least
    `per_image_min_pixels` per image, a 20x20 map) take one GEMM per image, which writes NCHW directly.
    Small outputs take one GEMM over the whole batch on columns laid out (C*kh*kw, N*oh*ow): 64 GEMMs only
    49 columns wide (a 7x7 map) run at a fraction of the speed of one GEMM 64 * 49 columns wide. At 20x20
    the GEMMs per image are the faster (the face cascade runs 3% faster on 640x480 pictures), and a
    training step takes as long.

    In evaluation on the CPU, a 3x3 stride-1 convolution of at least `winograd_min_channels` input
    channels and `winograd_min_tiles` 2x2 output blocks in the batch takes Winograd's F(2x2, 3x3) instead
    (nanonet.kernels.winograd): 2.25 times fewer multiply-adds, on transformed weights kept until W changes
    or the layer trains. With fewer channels its transforms cost more than the GEMMs they save; with fewer
    blocks, reading its weights (16/9 as many) costs more.
    """
    per_image_min_pixels = 400
    winograd_min_channels, winograd_min_tiles = 16, 16

    def __init__(self, in_channels, out_channels, ksize, stride=1, pad=0, nobias=False,
                 initializer="he", rng=None, dtype=np.float32, input_grad=True):
        self.in_channels, self.out_channels, self.input_grad = in_channels, out_channels, input_grad
        self.ksize, self.stride, self.pad = _pair(ksize), _pair(stride), _pair(pad)
        kh, kw = self.ksize
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        self.W = Param(initialize(initializer, rng, (out_channels, in_channels, kh, kw), fan_in, fan_out, dtype))
        self.b = None if nobias else Param(np.zeros(out_channels, dtype=dtype))
        # Column buffers, cut from memory kept between calls: on the CPU, refilling memory costs a third of
        # allocating it anew; kept at the largest size asked for, they serve every level of a pyramid too.
        self._stores = {}
        self._winograd = None       # (the W it was computed from, its Winograd transform U)

    def config(self):
        return dict(in_channels=self.in_channels, out_channels=self.out_channels, ksize=self.ksize,
                    stride=self.stride, pad=self.pad, nobias=self.b is None)

    def _columns(self, name, n, oh, ow, dtype, xp):
        """A buffer for columns, cut from the kept memory `name`, and its (N, C, kh, kw, oh, ow) view for
        im2col and col2im."""
        c, (kh, kw) = self.in_channels, self.ksize
        shape = (n, c, kh, kw, oh, ow) if self._per_image else (c, kh, kw, n, oh, ow)
        buffer = self._store(name, int(np.prod(shape)), dtype, xp).reshape(shape)
        return buffer, buffer if self._per_image else buffer.transpose(3, 0, 1, 2, 4, 5)

    def _store(self, name, size, dtype, xp):
        """A flat buffer of `size` cut from the kept memory `name`, grown when too small."""
        store = self._stores.get(name)
        if store is None or store.size < size or store.dtype != dtype or get_array_module(store) is not xp:
            store = self._stores[name] = xp.empty(size, dtype=dtype)
        return store[:size]

    def forward(self, x, train=False):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expects (N, {self.in_channels}, H, W) input, got shape {x.shape}")
        (kh, kw), (sy, sx), (ph, pw) = self.ksize, self.stride, self.pad
        xp = get_array_module(x)
        n, _, h, w = x.shape
        oh, ow = conv_outsize(h, kh, sy, ph), conv_outsize(w, kw, sx, pw)
        if train:
            self._winograd = None       # the weights are about to change
        elif xp is np and self._takes_winograd(n, oh, ow):
            return self._forward_winograd(x, oh, ow)
        self._per_image = n == 1 or oh * ow >= self.per_image_min_pixels
        self._col, col = self._columns("col", n, oh, ow, x.dtype, xp)
        im2col(x, kh, kw, sy, sx, ph, pw, out=col)
        self._in_hw = (h, w)
        W, o = self.W.data.reshape(self.out_channels, -1), self.out_channels
        if self._per_image:
            y = (W @ self._col.reshape(n, -1, oh * ow)).reshape(n, o, oh, ow)
            if self.b is not None:
                y += self.b.data[:, None, None]
            return y
        # the GEMM's (O, N * oh * ow) result goes to kept memory and is biased there, where the bias
        # broadcasts along rows; transposed to NCHW last. Biasing the transposed result took 3 times as
        # long, and a fresh array for the result a page fault per 4 kB.
        gemm = self._store("y", o * n * oh * ow, x.dtype, xp).reshape(o, n * oh * ow)
        xp.matmul(W, self._col.reshape(-1, n * oh * ow), out=gemm)
        if self.b is not None:
            gemm += self.b.data[:, None]
        y = xp.empty((n, o, oh, ow), dtype=x.dtype)
        y.reshape(n, o, oh * ow)[...] = gemm.reshape(o, n, oh * ow).transpose(1, 0, 2)
        return y

    def _takes_winograd(self, n, oh, ow):
        th, tw = winograd.tile_grid(oh, ow)
        return (self.ksize == (3, 3) and self.stride == (1, 1) and self.pad[0] == self.pad[1]
                and self.in_channels >= self.winograd_min_channels and n * th * tw >= self.winograd_min_tiles)

    def _forward_winograd(self, x, oh, ow):
        U = self._kept("_winograd", self.W, winograd.winograd_weights)
        n, c = x.shape[:2]
        o, tiles = self.out_channels, n * int(np.prod(winograd.tile_grid(oh, ow)))
        memory = {name: self._store(name, winograd.planes_size(rows, tiles), x.dtype, np)
                  for name, rows in (("tiles", c), ("products", o))}
        v = winograd.winograd_tiles(x, self.pad[0], memory["tiles"])
        m = np.matmul(U, v, out=winograd.planes(o, tiles, x.dtype, memory["products"]))
        return winograd.winograd_outputs(m, None if self.b is None else self.b.data, n, oh, ow)

    def backward(self, gy):
        (sy, sx), (ph, pw) = self.stride, self.pad
        xp = get_array_module(gy)
        n, o, oh, ow = gy.shape
        W = self.W.data.reshape(o, -1)
        if self._per_image:
            gy = gy.reshape(n, o, oh * ow)
            col = self._col.reshape(n, -1, oh * ow)
            self.W.grad = (gy @ col.transpose(0, 2, 1)).sum(axis=0).reshape(self.W.data.shape)
            reduce_axes = (0, 2)
        else:
            gy = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(o, n * oh * ow)
            xp.matmul(gy, self._col.reshape(-1, n * oh * ow).T, out=self.W.grad_buffer().reshape(o, -1))
            reduce_axes = (1,)
        if self.b is not None:
            self.b.grad = gy.sum(axis=reduce_axes)
        if not self.input_grad:
            return None
        self._gcol, gcol = self._columns("gcol", n, oh, ow, gy.dtype, xp)
        xp.matmul(W.T, gy, out=self._gcol.reshape((n, -1, oh * ow) if self._per_image else (-1, n * oh * ow)))
        return col2im(gcol, *self._in_hw, sy, sx, ph, pw)


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
