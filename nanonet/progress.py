"""A progress bar with rate and ETA, on one terminal line (or a line every 10% when not a terminal)."""
import sys
import time


def _clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress(total, "epoch 3").update(items, steps=1, loss=0.2) ... .close()

    `total` counts steps (batches); the rate counts items (images).
    """

    def __init__(self, total, desc="", unit="img", stream=None, interval=0.25):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval, self.done, self.items = interval, 0, 0
        self.start = self.last = time.perf_counter()
        self.next_decile = 1
        self.stats = {}

    def update(self, items, steps=1, **stats):
        self.done += steps
        self.items += items
        self.stats.update(stats)
        now = time.perf_counter()
        if self.tty and (now - self.last >= self.interval or self.done == self.total):
            self.last = now
            self.stream.write("\r" + self.line() + "\033[K")
            self.stream.flush()
        elif not self.tty and self.total and self.done * 10 >= self.next_decile * self.total:
            self.next_decile = self.done * 10 // self.total + 1
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self, width=24):
        elapsed = time.perf_counter() - self.start
        rate = self.items / elapsed if elapsed > 0 else 0.0
        stats = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.stats.items())
        if not self.total:
            return f"{self.desc} {self.done} [{_clock(elapsed)}, {rate:.1f} {self.unit}/s] {stats}"
        frac = min(self.done / self.total, 1.0)
        bar = "#" * int(frac * width) + " " * (width - int(frac * width))
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        return (f"{self.desc} {100 * frac:3.0f}% |{bar}| {self.done}/{self.total} "
                f"[{_clock(elapsed)}<{_clock(eta)}, {rate:.1f} {self.unit}/s] {stats}")

    def close(self):
        if self.tty:
            self.stream.write("\r" + self.line() + "\033[K\n")
            self.stream.flush()
