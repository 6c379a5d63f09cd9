"""Reading images into arrays, with one-line errors for files that are not usable images.

What the reader accepts: every format Pillow decodes (JPEG, PNG, BMP, GIF, TIFF, WebP, PPM/PGM, ...), as
8-bit grey, palette, RGB or RGBA (alpha dropped); 16-bit and 32-bit integer grey (scaled from its type's
range: 16-bit 0..65535 becomes 0..255) and floating-point grey (0..1 becomes 0..255; other ranges are
stretched from their minimum to their maximum). A JPEG's or TIFF's EXIF orientation is applied, as viewers
and cv2.imread do, so arrays and boxes are in the upright picture's pixels. A file of several pages or
frames (TIFF, GIF) gives its first, with a warning. Pictures above `max_pixels` (MAX_PIXELS by default) are
refused before they are decoded.
"""
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 200_000_000   # 14142 x 14142: about 600 MB decoded as RGB
Image.MAX_IMAGE_PIXELS = None   # decode_image checks the size itself, with a line of its own


class ImageError(ValueError):
    """An image file that cannot be read: missing, not an image, truncated, or too large."""


class ImageWarning(UserWarning):
    """Something read differently from what the file holds (only the first page of several)."""


def read_image(path, channels=3, max_pixels=MAX_PIXELS):
    """Read an image file as uint8 (H, W, channels): grey is repeated to 3 channels, alpha dropped.

    channels=1 gives (H, W, 1) luminance. Raises ImageError naming the file and the reason.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageError(f"{path}: no such image file")
    return decode_image(path, path, channels, max_pixels)


def decode_image(source, name=None, channels=3, max_pixels=MAX_PIXELS):
    """Decode a path or file object as read_image does; `name` is the file named in errors."""
    path = name or os.fspath(source)
    try:
        with Image.open(source) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise ImageError(f"{path}: {width}x{height} is {width * height / 1e6:.4g} Mpixel, above the "
                                 f"limit of {max_pixels / 1e6:.4g} Mpixel")
            if getattr(im, "n_frames", 1) > 1:
                warnings.warn(ImageWarning(f"{path}: holds {im.n_frames} pages or frames; reading the first"))
            im.load()  # decodes now, so a truncated file fails here and not later
            a = _as_8bit(ImageOps.exif_transpose(im), channels)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file (or a format Pillow cannot read)")
    except Exception as e:     # Pillow's decoders raise many kinds (TypeError, KeyError, struct.error, ...)
        raise ImageError(f"{path}: unreadable or truncated image ({type(e).__name__}: {e})".replace("\n", " "))
    if a.size == 0:
        raise ImageError(f"{path}: the image is empty")
    return a[:, :, None] if channels == 1 else a


def _as_8bit(im, channels):
    """uint8 (H, W) for channels=1, else (H, W, 3), from any Pillow mode; deep grey scaled (module docstring)."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = np.asarray(im).astype(np.float64)
        if im.mode == "F":
            finite = a[np.isfinite(a)]
            low, high = (0.0, 1.0) if finite.size == 0 or finite.min() >= 0 and finite.max() <= 1 else \
                (finite.min(), finite.max())
        else:
            low, high = 0.0, 65535.0 if im.mode.startswith("I;16") or a.max() <= 65535 else 2.0 ** 32 - 1
            if im.mode == "I" and a.min() < 0:
                low, high = a.min(), a.max()
        grey = np.round(np.clip(np.nan_to_num((a - low) / max(high - low, 1e-12)), 0, 1) * 255).astype(np.uint8)
        return grey if channels == 1 else np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(im.convert("L" if channels == 1 else "RGB"))
