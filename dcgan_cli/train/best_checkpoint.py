"""RUN/best/: the checkpoint with the lowest FID that `--eval-every` has measured, and its metrics.

It survives resumes: the FID to beat is read back from RUN/best/metrics.json, so a resumed run
never replaces a better checkpoint with a worse one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import tensorflow as tf

from dcgan_cli.files import write_json
from dcgan_cli.run_dir import BEST_DIR

METRICS_FILE = "metrics.json"


class BestCheckpoint:
    def __init__(self, checkpoint: tf.train.Checkpoint, run_dir: Path):
        self.dir = Path(run_dir) / BEST_DIR
        self.manager = tf.train.CheckpointManager(checkpoint, str(self.dir), max_to_keep=1, checkpoint_name="ckpt")
        self.fid = self._saved_fid()

    def _saved_fid(self) -> float:
        if self.manager.latest_checkpoint is None:
            return math.inf
        try:
            return float(json.loads((self.dir / METRICS_FILE).read_text())["fid"])
        except (OSError, ValueError, KeyError, TypeError):
            return math.inf

    def offer(self, step: int, metrics: dict) -> bool:
        """Save the current weights as the best if their FID beats the best so far."""
        fid = metrics.get("fid")
        if fid is None or not math.isfinite(fid) or fid >= self.fid:
            return False
        prefix = self.manager.save(checkpoint_number=step)
        write_json(self.dir / METRICS_FILE, {"step": step, "checkpoint": prefix, **metrics})
        self.fid = fid
        return True
