"""A one-line progress display: epoch, step, losses, images/s and time left."""

from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


# What the line shows of the step's metrics (train.step.metric_names), each when the objective has it:
# sigmoid(D) for the cross-entropy losses, raw scores otherwise, a critic's Wasserstein estimate, and
# the gradient penalty's value and mean gradient norm, and the stabilisers' terms (train/stabilisers.py).
SHOWN = (("d_loss", "d_loss", ".3f"), ("g_loss", "g_loss", ".3f"), ("d_real", "D(x)", ".2f"),
         ("d_fake", "D(G(z))", ".2f"), ("score_real", "score(x)", "+.2f"), ("score_fake", "score(G(z))", "+.2f"),
         ("wasserstein", "W", ".3f"), ("d_penalty", "penalty", ".3f"), ("grad_norm", "|grad D|", ".2f"),
         ("g_feature_matching", "feature matching", ".3g"), ("d_hist_avg", "hist D", ".3g"),
         ("g_hist_avg", "hist G", ".3g"))


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
        losses = "".join(f" {label} {self.metrics[name]:{form}}" for name, label, form in SHOWN if name in self.metrics)
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
