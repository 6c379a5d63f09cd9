"""Batches from a dataset: shuffled per epoch, augmented, resized and normalised, prefetched in a thread.

The order of epoch e is a permutation drawn from (seed, e), and sample i of that epoch is augmented with a
Generator seeded by (seed, e, i): a batch is the same whichever thread makes it and wherever a run resumes.
"""
import concurrent.futures
import queue
import sys
import threading

import cv2
import numpy as np

from nanonet.data.image import ImageError


class BatchIterator:
    """Yields (x float32 (B, C, size, size), t) batches: t the labels, int64 (B,); for a dataset with
    `targets` (regression), those, float32 (B, D); for a dataset with `keypoints` (N, P, 2) in each image's
    pixels, the points as the augmentation moved them and the resize scaled them, as shares of the side,
    float32 (B, 2P): x0, y0, x1, y1, ...

    augment(image, rng) -> (image, None) or None; normalize(uint8 NHWC) -> float32 NCHW. With
    skip_bad, images that cannot be read are left out of their batch with a warning (counted in
    `skipped`, which iterators over one dataset may share); otherwise the ImageError naming the file stops
    the run. `workers` threads load and augment the samples of a batch (OpenCV and the decoders release the
    GIL); the batch is the same for any number.
    """

    def __init__(self, dataset, batch_size, size, normalize, augment=None, shuffle=True, seed=0,
                 prefetch=True, skip_bad=False, drop_last=False, workers=1, skipped=None):
        if len(dataset) == 0:
            raise ValueError("the data set is empty")
        self.dataset, self.batch_size, self.size = dataset, batch_size, size
        self.normalize, self.augment, self.shuffle, self.seed = normalize, augment, shuffle, seed
        self.prefetch, self.skip_bad, self.drop_last = prefetch, skip_bad, drop_last
        self.skipped = set() if skipped is None else skipped   # shared, each bad image is warned of once
        self.pool = concurrent.futures.ThreadPoolExecutor(workers) if workers > 1 else None

    def batches_per_epoch(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch):
        n = len(self.dataset)
        return np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def load(self, index, epoch):
        """One sample, uint8 (size, size, 3), or None if unreadable and skip_bad."""
        return self.sample(index, epoch)[0]

    def sample(self, index, epoch):
        """(uint8 (size, size, 3) image, its target), or (None, None) if unreadable and skip_bad."""
        try:
            image = self.dataset.image(index)
        except ImageError as e:
            if not self.skip_bad:
                raise
            if index not in self.skipped:
                self.skipped.add(index)
                print(f"warning: skipping {e}", file=sys.stderr)
            return None, None
        points = getattr(self.dataset, "keypoints", None)
        points = None if points is None else np.array(points[index], dtype=np.float64)
        if self.augment is not None:
            image, points = self.augment(image, np.random.default_rng([self.seed, epoch, int(index)]), points)
        if points is not None:      # pixel centres scale: x' + 0.5 = (x + 0.5) * size / width
            points = (points + 0.5) / [image.shape[1], image.shape[0]] - 0.5 / self.size
        if image.shape[:2] != (self.size, self.size):
            image = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if points is not None:
            return image, points.reshape(-1).astype(np.float32)
        return image, getattr(self.dataset, "targets", self.dataset.labels)[index]

    def make_batch(self, indices, epoch):
        load = self.pool.map if self.pool else map
        pairs = [(im, t) for im, t in load(lambda i: self.sample(i, epoch), indices) if im is not None]
        if not pairs:
            return None
        images = np.stack([im for im, _ in pairs])
        return self.normalize(images), np.stack([t for _, t in pairs])

    def epoch(self, epoch, start=0):
        """The batches of `epoch`, from batch number `start` on."""
        order = self.order(epoch)
        chunks = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        chunks = chunks[:self.batches_per_epoch()][start:]
        batches = (self.make_batch(c, epoch) for c in chunks)
        yield from (b for b in (_prefetched(batches) if self.prefetch else batches) if b is not None)


def _prefetched(batches, depth=2):
    """Run the generator `batches` in a background thread, `depth` items ahead of the consumer."""
    q, stop = queue.Queue(maxsize=depth), threading.Event()

    def put(message):  # gives up when the consumer has gone, so the thread always ends
        while not stop.is_set():
            try:
                q.put(message, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def work():
        try:
            for item in batches:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as e:  # handed to the consumer, which raises it
            put(("error", e))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
