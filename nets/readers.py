"""Trained nets that read whole face crops: a classifier gives class probabilities, a regressor real values.

Both take uint8 crops of any size: an array (N, H, W) grey or (N, H, W, 3) RGB, or a list of such images of
differing sizes; each is resized to the net's input (area averaging to shrink, as the training crops were).
A net trained on grey faces reads every crop grey, with the grey repeated in three channels, as the data
sets' grey images are.
"""
import cv2
import numpy as np

from nanonet.backend import to_cpu
from nanonet.layers.activation import softmax
from nanonet.model import batch_norm_folded

BATCH = 256


def as_crops(images):
    """A list of uint8 (H, W, 3) crops from an array (N, H, W), (N, H, W, 3) or (N, H, W, 1), or a list of
    (H, W), (H, W, 1) or (H, W, 3) images."""
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"expected crops (N, H, W) or (N, H, W, 3), got an array of shape {images.shape}")
        images = list(images)
    crops = []
    for image in images:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.ndim == 3 and image.shape[2] not in (1, 3):
            raise ValueError(f"expected uint8 crops (H, W) or (H, W, 3), got {image.dtype} {image.shape}")
        if min(image.shape[:2]) < 1:
            raise ValueError(f"an empty crop of shape {image.shape}")
        crops.append(image if image.ndim == 3 and image.shape[2] == 3 else
                     np.repeat(image.reshape(image.shape[:2] + (1,)), 3, axis=2))
    return crops


class CropNet:
    """A trained net with its input normalisation, reading uint8 crops (as_crops) of any size."""

    def __init__(self, model, normalization, input_size, grey=False):
        self.model, self.normalization = batch_norm_folded(model), normalization
        self.input_size, self.grey = input_size, grey

    def inputs(self, images):
        """uint8 (N, input_size, input_size, 3): each crop resized, and turned grey if the net reads grey."""
        size = self.input_size
        out = np.empty((len(images), size, size, 3), np.uint8)
        for k, crop in enumerate(as_crops(images)):
            if self.grey:
                crop = np.repeat(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
            shrink = crop.shape[0] > size or crop.shape[1] > size
            out[k] = crop if crop.shape[:2] == (size, size) else \
                cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return out

    def outputs(self, images):
        """The net's raw outputs (N, K) for the crops, in batches."""
        x = self.inputs(images)
        xp = self.model.xp
        out = [to_cpu(self.model.predict(self.normalization(xp.asarray(x[i:i + BATCH]))))
               for i in range(0, len(x), BATCH)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, self.size_out))


class CropClassifier(CropNet):
    """.classes, and .predict_proba(images): (N, len(classes)) probabilities in the order of .classes."""

    def __init__(self, model, normalization, input_size, classes, grey=False):
        super().__init__(model, normalization, input_size, grey)
        self.classes, self.size_out = list(classes), len(classes)

    def predict_proba(self, images):
        return softmax(self.outputs(images), axis=1)

    def predict(self, images):
        """The most probable class's name for each crop."""
        return [self.classes[k] for k in self.predict_proba(images).argmax(axis=1)]


class CropRegressor(CropNet):
    """.output_names, and .predict(images): (N, len(output_names)) real values."""

    def __init__(self, model, normalization, input_size, output_names, grey=False):
        super().__init__(model, normalization, input_size, grey)
        self.output_names, self.size_out = list(output_names), len(output_names)

    def predict(self, images):
        return self.outputs(images)
