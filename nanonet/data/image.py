"""Reading images into arrays, with one-line errors for files that are not usable images."""
import os

import numpy as np
from PIL import Image, UnidentifiedImageError


class ImageError(ValueError):
    """An image file that cannot be read: missing, not an image, or truncated."""


def read_image(path, channels=3):
    """Read an image file as uint8 (H, W, channels): grey is repeated to 3 channels, alpha dropped.

    channels=1 gives (H, W, 1) luminance. Raises ImageError naming the file and the reason.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageError(f"{path}: no such image file")
    return decode_image(path, path, channels)


def decode_image(source, name=None, channels=3):
    """Decode a path or file object as read_image does; `name` is the file named in errors."""
    path = name or os.fspath(source)
    try:
        with Image.open(source) as im:
            im.load()  # decodes now, so a truncated file fails here and not later
            im = im.convert("L" if channels == 1 else "RGB")
            a = np.asarray(im)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file (or a format Pillow cannot read)")
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: unreadable or truncated image ({e})")
    if a.size == 0:
        raise ImageError(f"{path}: the image is empty")
    return a[:, :, None] if channels == 1 else a
