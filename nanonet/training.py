"""The training loop: epochs of steps, validation, run.json, metrics.jsonl, curves.png, and checkpoints.

run.json and metrics.jsonl are what a monitor reads (nanonet.runs describes them): metrics.jsonl gains a
point every few batches and a record at each epoch's end. Checkpoints are model files: the model's arrays, its normalisation and metadata, and the loop's position,
history and dropout generators under meta["training"]. last.npz (after every epoch and on Ctrl-C) also
holds the optimizer's slots under `extra/opt/`, for resuming; best.npz (at the best validation score) is
for inference and leaves them out. At the end of an epoch best.npz is written before last.npz, and
metrics.jsonl after both, so that whatever a crash interrupts, last.npz never names a best model that
best.npz lacks, and a resumed run rewrites metrics.jsonl to what last.npz holds. Resuming from one
continues exactly: the data order and augmentation are functions of (seed, epoch, sample), so the resumed
run ends with the same weights as one never interrupted.
"""
import glob
import os
import signal
import sys
import threading
import time

import numpy as np

from nanonet import runs, serialize
from nanonet.backend import to_cpu
from nanonet.losses import accuracy, softmax_cross_entropy
from nanonet.plot import line_chart
from nanonet.progress import Progress


class Diverged(ArithmeticError):
    """The training loss became NaN or infinite."""


class Trainer:
    """Train `model` with `optimizer` on `train` batches (a BatchIterator), validating on `val` each epoch.

    schedule(epoch) multiplies the base learning rate (and the weight decay, when decay_weight_decay, as
    the seeds do). `save` holds what every checkpoint records: arch, config, normalization, meta.
    out_dir=None writes nothing. max_batches caps the batches of each epoch and of validation. A point of
    the training curves goes to metrics.jsonl every `point_every` batches and at each epoch's end.
    """

    def __init__(self, model, optimizer, train, val, epochs, save, out_dir=None, loss=softmax_cross_entropy,
                 metric=accuracy, schedule=None, decay_weight_decay=True, xp=np, max_batches=None,
                 on_step=None, log=print, point_every=10):
        self.model, self.optimizer, self.train, self.val, self.epochs = model, optimizer, train, val, epochs
        self.save_info, self.out_dir, self.loss, self.metric = save, out_dir, loss, metric
        self.schedule, self.decay_weight_decay, self.xp = schedule, decay_weight_decay, xp
        self.max_batches, self.on_step, self.log, self.point_every = max_batches, on_step, log, point_every
        self.base_lr, self.base_weight_decay = optimizer.lr, optimizer.weight_decay
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            for stale in glob.glob(os.path.join(out_dir, ".tmp-*")):   # what a write killed half-way left
                os.unlink(stale)
        self.epoch, self.batch, self.best, self.history = 0, 0, None, []
        self.sums, self.recent = _Sums(), _Sums()   # this epoch's, and since the last point's
        self.stop_requested = False

    # -- the loop --------------------------------------------------------------------------------------

    def run(self):
        """Train to the last epoch. Returns "finished", or "interrupted" after Ctrl-C (last.npz saved)."""
        restore = self._catch_sigint()
        info = runs.started_info(self.save_info["arch"], self.save_info.get("meta", {}).get("command"), self.epochs)
        if self.out_dir:      # metrics.jsonl as far as this run begins (resumed: what last.npz holds), no further
            runs.rewrite_records(self.out_dir, self.history, (self.epoch, self.batch))
            runs.write_info(self.out_dir, info)
        state = "failed"
        try:
            state = self._epochs()
            return "finished" if state == "finished" else "interrupted"
        except KeyboardInterrupt:
            state = "stopped"
            raise
        except Diverged:
            state = "diverged"
            raise
        finally:
            restore()
            if self.out_dir:
                runs.write_info(self.out_dir, {**info, "state": state, "ended": time.time()})

    def _epochs(self):
        while self.epoch < self.epochs:
            factor = self.schedule(self.epoch) if self.schedule else 1.0
            self.optimizer.lr = self.base_lr * factor
            if self.decay_weight_decay:
                self.optimizer.weight_decay = self.base_weight_decay * factor
            if not self._train_epoch():
                self._checkpoint("last.npz")
                return "stopped"
            self._end_epoch()
            if self.stop_requested:
                return "stopped"
        return "finished"

    def _train_epoch(self):
        """Run the rest of the current epoch's batches; False if stopped before its end."""
        total = self.train.batches_per_epoch()
        if self.max_batches:
            total = min(total, self.max_batches)
        bar = Progress(total, f"epoch {self.epoch + 1}/{self.epochs}")
        bar.done = self.batch
        xp = self.xp
        for x, t in self.train.epoch(self.epoch, start=self.batch):
            if self.batch >= total:
                break
            x, t = xp.asarray(x), xp.asarray(t)
            y = self.model.forward(x, train=True)
            loss, gy = self.loss(y, t)
            if not np.isfinite(loss):
                bar.close()
                raise Diverged(f"training diverged: the loss is {loss} at epoch {self.epoch + 1}, batch "
                               f"{self.batch + 1}" + (f"; last.npz holds epoch {self.epoch}" if self.epoch else "")
                               + " (a lower --lr may help)")
            self.model.backward(gy)
            self.optimizer.update()
            self.batch += 1
            score = self.metric(y, t) if self.metric else None
            self.sums.add(loss, score, len(x))
            self.recent.add(loss, score, len(x))
            if self.batch % self.point_every == 0 or self.batch == total:
                self._point(total)
            bar.update(len(x), loss=self.sums.mean_loss(), **({"acc": self.sums.mean_score()} if self.metric else {}))
            if self.on_step:
                self.on_step(self)
            if self.stop_requested:
                bar.close()
                return False
        bar.close()
        return True

    def _point(self, batches):
        """Append a point of the curves: the means over the batches since the last point."""
        if self.out_dir:
            point = {"epoch": self.epoch + 1, "batch": self.batch, "batches": batches,
                     "loss": self.recent.mean_loss(), "lr": self.optimizer.lr,
                     "images_per_s": self.recent.count / max(self.recent.seconds(), 1e-9), "time": time.time()}
            if self.metric:
                point["acc"] = self.recent.mean_score()
            runs.append_record(self.out_dir, point)
        self.recent = _Sums()

    def _end_epoch(self):
        record = {"epoch": self.epoch + 1, "lr": self.optimizer.lr, "train_loss": self.sums.mean_loss()}
        if self.metric:
            record["train_acc"] = self.sums.mean_score()
        record["images_per_s"] = self.sums.count / max(self.sums.seconds(), 1e-9)
        if self.val is not None:
            record.update(self.validate())
        self.history.append(record)
        self.log(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))
        improved = self.best is None or self._score(record) > self.best
        if improved:
            self.best = self._score(record)
        self.epoch, self.batch, self.sums = self.epoch + 1, 0, _Sums()
        if self.out_dir:
            if improved:
                self._checkpoint("best.npz", optimizer=False)
            self._checkpoint("last.npz")
            runs.append_record(self.out_dir, record)
            self._plot()

    def validate(self):
        """Mean loss (and metric) over the validation batches, in evaluation mode."""
        sums, xp = _Sums(), self.xp
        for i, (x, t) in enumerate(self.val.epoch(0)):
            if self.max_batches and i >= self.max_batches:
                break
            x, t = xp.asarray(x), xp.asarray(t)
            y = self.model.forward(x, train=False)
            sums.add(self.loss(y, t)[0], self.metric(y, t) if self.metric else None, len(x))
        out = {"val_loss": sums.mean_loss()}
        if self.metric:
            out["val_acc"] = sums.mean_score()
        return out

    @staticmethod
    def _score(record):
        """Higher is better: validation accuracy, else minus the validation loss, else minus the training loss."""
        return record.get("val_acc", -record.get("val_loss", -record["train_loss"]))

    # -- stopping, saving, resuming ---------------------------------------------------------------------

    def _catch_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            print("\nstopping after this step and saving (Ctrl-C again to stop at once)", file=sys.stderr)

        previous = signal.signal(signal.SIGINT, handler)
        return lambda: signal.signal(signal.SIGINT, previous)

    def _generators(self):
        return {name: layer for name, layer in self.model.named_layers()
                if isinstance(getattr(layer, "rng", None), np.random.Generator)}

    def _checkpoint(self, filename, optimizer=True):
        """Write the model and the loop's state; optimizer=False for a file meant for inference only."""
        if not self.out_dir:
            return
        info = self.save_info
        training = {"epoch": self.epoch, "batch": self.batch, "best": self.best, "history": self.history,
                    "sums": self.sums.state(), "recent": self.recent.state(), "epochs": self.epochs,
                    "generators": {n: layer.rng.bit_generator.state for n, layer in self._generators().items()}}
        extra = {f"opt/{k}": to_cpu(v) for k, v in self.optimizer.state().items()} if optimizer else {}
        serialize.save(os.path.join(self.out_dir, filename), self.model, info["arch"], info.get("config"),
                       info.get("normalization"), {**info.get("meta", {}), "training": training}, extra)

    def resume(self, path):
        """Continue from checkpoint `path`: weights, optimizer, position, history, dropout generators."""
        f = serialize.read(path)
        if f.arch != self.save_info["arch"]:
            raise serialize.ModelFileError(f"{path}: a checkpoint of {f.arch!r}, not of {self.save_info['arch']!r}")
        if "training" not in f.meta:
            raise serialize.ModelFileError(f"{path}: a model file without training state; cannot resume from it")
        serialize.load_state(self.model, f.state, path)
        self.optimizer.set_state({k[4:]: v for k, v in f.extra.items() if k.startswith("opt/")})
        state = f.meta["training"]
        self.epoch, self.batch, self.best, self.history = state["epoch"], state["batch"], state["best"], state["history"]
        self.sums = _Sums.from_state(state["sums"])
        self.recent = _Sums.from_state(state["recent"]) if "recent" in state else _Sums()   # older files lack it
        for name, layer in self._generators().items():
            layer.rng.bit_generator.state = state["generators"][name]
        return self

    def _plot(self):
        epochs = [r["epoch"] for r in self.history]
        series = lambda key: {label: (epochs, [r.get(f"{prefix}_{key}", float("nan")) for r in self.history])  # noqa: E731
                              for label, prefix in (("training", "train"), ("validation", "val"))}
        panels = [{"title": "loss", "xlabel": "epoch", "ylabel": "loss", "series": series("loss")}]
        if self.metric:
            panels.append({"title": "accuracy", "xlabel": "epoch", "ylabel": "accuracy", "series": series("acc")})
        line_chart(os.path.join(self.out_dir, "curves.png"), panels)


class _Sums:
    """Running sums of one epoch's loss, metric, count and time; saved in checkpoints mid-epoch."""

    def __init__(self, loss=0.0, score=0.0, count=0, elapsed=0.0):
        self.loss, self.score, self.count, self.elapsed = loss, score, count, elapsed
        self.started = time.perf_counter()

    def add(self, loss, score, n):
        self.loss += loss * n
        self.score += (score or 0.0) * n
        self.count += n

    def mean_loss(self):
        return self.loss / max(self.count, 1)

    def mean_score(self):
        return self.score / max(self.count, 1)

    def seconds(self):
        return self.elapsed + time.perf_counter() - self.started

    def state(self):
        return {"loss": self.loss, "score": self.score, "count": self.count, "elapsed": self.seconds()}

    @classmethod
    def from_state(cls, state):
        return cls(state["loss"], state["score"], state["count"], state["elapsed"])
