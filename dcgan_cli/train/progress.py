"""A one-line progress display: epoch, step, losses, images/s and time left."""

from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress:
    """Redraws one line on a terminal; prints a line per update elsewhere (logs, CI)."""

    def __init__(self, total_steps: int, steps_per_epoch: int, batch_size: int, start_step: int = 0, stream=None):
        self.total, self.per_epoch, self.batch_size = total_steps, steps_per_epoch, batch_size
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last_step, self.last_time = start_step, time.perf_counter()
        self.rate = 0.0
        self.metrics: dict = {}

    def update(self, step: int, metrics: dict | None = None, force: bool = False) -> None:
        now = time.perf_counter()
        if metrics:
            self.metrics = metrics
        if step > self.last_step:
            self.rate = (step - self.last_step) * self.batch_size / max(now - self.last_time, 1e-9)
            self.last_step, self.last_time = step, now
        if not (self.tty or force):
            return
        epoch = step // self.per_epoch + 1
        epochs = -(-self.total // self.per_epoch)
        width = 20
        filled = int(width * step / max(self.total, 1))
        m = self.metrics
        losses = (f" d_loss {m['d_loss']:.3f} g_loss {m['g_loss']:.3f} D(x) {m['d_real']:.2f} D(G(z)) {m['d_fake']:.2f}"
                  if m else "")
        eta = (self.total - step) * self.batch_size / self.rate if self.rate else 0.0
        line = (f"epoch {min(epoch, epochs)}/{epochs} [{'=' * filled}{'.' * (width - filled)}] step {step}/{self.total}"
                f"{losses} {self.rate:.0f} img/s ETA {_duration(eta)}")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Clear the redrawn line, so another message prints on a clean line (the next update redraws)."""
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
