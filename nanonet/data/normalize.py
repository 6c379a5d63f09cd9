"""Input normalisation: x = (image - mean) / std, fitted on the training set and saved in the model file."""
import numpy as np
from numba import njit, prange

from nanonet.backend import get_array_module


class Normalization:
    """mean and std broadcast against (C, H, W).

    "mean_image" (the seeds' choice): mean is the training set's mean image, std one number for all pixels.
    "channel": mean and std per colour channel.
    """

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    @classmethod
    def fit(cls, images, kind="mean_image"):
        """Fit on an iterable of uint8 (H, W, C) images of one size, in one streaming pass."""
        if kind not in ("mean_image", "channel"):
            raise ValueError(f"unknown normalisation {kind!r}; choose mean_image or channel")
        total = total_sq = None
        n = 0
        for image in images:
            x = image.transpose(2, 0, 1).astype(np.float64)
            total = x if total is None else total + x
            total_sq = x * x if total_sq is None else total_sq + x * x
            n += 1
        if n == 0:
            raise ValueError("cannot fit a normalisation on no images")
        mean, mean_sq = total / n, total_sq / n
        if kind == "mean_image":
            return cls(mean, np.sqrt(max((mean_sq - mean * mean).mean(), 1e-12)))
        channel_mean = mean.mean(axis=(1, 2))
        channel_var = mean_sq.mean(axis=(1, 2)) - channel_mean ** 2
        return cls(channel_mean[:, None, None], np.sqrt(np.maximum(channel_var, 1e-12))[:, None, None])

    def __call__(self, images):
        """uint8 (N, H, W, C) -> float32 (N, C, H, W), on the device the images are on."""
        xp = get_array_module(images)
        if xp is np:
            chw = images.shape[3:] + images.shape[1:3]
            return _normalize_cpu(images, np.broadcast_to(self.mean, chw), np.broadcast_to(self.std, chw))
        return self.reference(images)

    def reference(self, images):
        """The same as array operations: NumPy's take 4 times as long (a strided cast, then two passes)."""
        xp = get_array_module(images)
        x = images.transpose(0, 3, 1, 2).astype(np.float32)
        x -= xp.asarray(self.mean)       # in place: no temporaries as large as the batch
        x /= xp.asarray(self.std)
        return x

    def arrays(self):
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_arrays(cls, arrays):
        return cls(arrays["mean"], arrays["std"])


@njit(parallel=True, cache=True)
def _normalize_cpu(images, mean, std):
    """uint8 (N, H, W, C), float32 mean and std (C, H, W) -> float32 (N, C, H, W), in one pass."""
    n, h, w, c = images.shape
    x = np.empty((n, c, h, w), dtype=np.float32)
    for nc in prange(n * c):
        b, ch = nc // c, nc % c
        for i in range(h):
            for j in range(w):
                x[b, ch, i, j] = (np.float32(images[b, i, j, ch]) - mean[ch, i, j]) / std[ch, i, j]
    return x
