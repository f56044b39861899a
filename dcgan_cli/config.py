"""The run configuration: one dataclass, saved as config.json beside every checkpoint.

A checkpoint directory plus its config.json is enough to rebuild the models, so everything that
changes a model's shape lives here.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dcgan_cli.errors import UserError

CONFIG_FILE = "config.json"

# Fields that define the models' shapes or the training mathematics. A resumed run may change the
# schedule (epochs, max_steps, sample/checkpoint frequency) but not these.
SHAPE_FIELDS = ("model", "image_size", "channels", "num_classes", "z_dim", "width")


@dataclass
class Config:
    # What to train on.
    dataset: str = "mnist"
    data_dir: str | None = None
    category: str | None = None  # LSUN category
    limit: int | None = None  # train on the first N images only
    pattern: str | None = None  # folder datasets: glob of image files
    crop: int | None = None  # folder datasets: centre crop before resizing

    # The models. `model` is one of models.MODEL_NAMES.
    model: str = "mnist-conditional"
    image_size: int = 28
    channels: int = 1
    num_classes: int = 10  # 0 for an unconditional model
    z_dim: int = 100
    z_dist: str = "uniform"  # uniform in [-1, 1] or normal(0, 1)
    width: int = 64  # gf_dim = df_dim

    # Optimisation (carpedm20's defaults).
    loss: str = "non_saturating"
    batch_size: int = 64
    epochs: int = 25
    max_steps: int | None = None
    lr: float = 2e-4
    beta1: float = 0.5
    d_steps: int = 1
    g_steps: int = 2
    seed: int = 0
    # Decay of the moving average of G's weights that samples and evaluates (0: none). Not carpedm20's:
    # it leaves training alone and, on conditional MNIST, reaches 98% label accuracy 3x sooner
    # (benchmarks/README.md, "Sample quality").
    ema: float = 0.999
    # The fraction of --epochs' steps, at the end, over which both learning rates fall linearly to 0
    # (0: constant, carpedm20's). Not carpedm20's either: it lets G and D settle instead of ending
    # wherever their oscillation happens to be (dcgan_cli/train/lr_schedule.py).
    lr_decay: float = 0.2

    # Bookkeeping.
    sample_every: int = 200
    checkpoint_every: int = 200
    log_every: int = 50
    keep: int = 3
    eval_every: int | None = None  # steps between sample-quality evaluations; None: never
    eval_samples: int = 2000  # samples per evaluation (dcgan evaluate's reported figures use 10,000)

    # Speed: `auto` is resolved at start-up (see dcgan_cli.train.precision) and the resolved value is what
    # config.json records.
    precision: str = "auto"
    jit: bool | None = None

    extra: dict = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def validate(self) -> None:
        positive = {
            "batch_size": self.batch_size, "epochs": self.epochs, "z_dim": self.z_dim,
            "d_steps": self.d_steps, "g_steps": self.g_steps, "sample_every": self.sample_every,
            "checkpoint_every": self.checkpoint_every, "log_every": self.log_every,
            "keep": self.keep, "image_size": self.image_size, "width": self.width,
        }
        for name, value in positive.items():
            if value is None or value <= 0:
                flag = "--" + name.replace("_", "-")
                raise UserError(f"{flag} must be a positive integer, got {value}")
        if self.max_steps is not None and self.max_steps <= 0:
            raise UserError(f"--max-steps must be a positive integer, got {self.max_steps}")
        if self.eval_every is not None and self.eval_every <= 0:
            raise UserError(f"--eval-every must be a positive integer, got {self.eval_every}")
        if self.eval_samples < 8:
            raise UserError(f"--eval-samples must be at least 8 (2000 is the default), got {self.eval_samples}")
        if self.limit is not None and self.limit <= 0:
            raise UserError(f"--limit must be a positive integer, got {self.limit}")
        if not self.lr > 0:
            raise UserError(f"--lr must be positive, got {self.lr}")
        if not 0 <= self.ema < 1:
            raise UserError(f"--ema must be in [0, 1) (0 turns it off; 0.999 is typical), got {self.ema}")
        if not 0 <= self.lr_decay <= 1:
            raise UserError(f"--lr-decay must be in [0, 1] (a fraction of the run; 0 keeps the rate constant), got {self.lr_decay}")
        if not 0 <= self.beta1 < 1:
            raise UserError(f"--beta1 must be in [0, 1), got {self.beta1}")
        if self.z_dist not in ("uniform", "normal"):
            raise UserError(f"--z-dist must be uniform or normal, got {self.z_dist}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> "Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        data = {"ema": 0.0, "lr_decay": 0.0, **data}  # older runs trained without these
        if unknown:
            raise UserError(f"config.json has unknown fields {unknown}; it was written by a newer dcgan: upgrade dcgan")
        return cls(**data)

    def save(self, run_dir: str | os.PathLike) -> None:
        """Write config.json atomically, so a crash never leaves half a config."""
        path = Path(run_dir) / CONFIG_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> "Config":
        path = Path(run_dir) / CONFIG_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"{run_dir} has no {CONFIG_FILE}: point --checkpoint at a run directory made by `dcgan train`") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path} is not valid JSON ({exc}); restore it from the run's backup or retrain") from None
        if not isinstance(data, dict):
            raise UserError(f"{path} does not hold a configuration object; restore it or retrain")
        return cls.from_dict(data)
