"""Run directories: where a run's config, checkpoints, samples and logs live, and finding them again.

    RUN/config.json        the Config that built the models
    RUN/ckpt/ckpt-N.*      tf.train.CheckpointManager files (G, D, both optimizers, step)
    RUN/samples/step_N.png fixed-z sample grids
    RUN/logs/              TensorBoard event files
    RUN/best/ckpt-N.*      the checkpoint with the lowest FID (--eval-every), and best/metrics.json
"""

from __future__ import annotations

import os
from pathlib import Path

from dcgan_cli.config import CONFIG_FILE
from dcgan_cli.errors import UserError
from dcgan_cli.files import folder_problem

CKPT_DIR = "ckpt"
SAMPLES_DIR = "samples"
LOGS_DIR = "logs"
BEST_DIR = "best"


def default_run_dir(dataset: str, family: str) -> Path:
    """checkpoints/DATASET for the dcgan family (as before families existed), checkpoints/DATASET-FAMILY otherwise."""
    return Path("checkpoints") / (dataset if family == "dcgan" else f"{dataset}-{family}")


def latest_checkpoint(folder: Path) -> str | None:
    import tensorflow as tf

    return tf.train.latest_checkpoint(str(folder))


def has_run(run_dir: Path) -> bool:
    return (run_dir / CONFIG_FILE).exists() or latest_checkpoint(run_dir / CKPT_DIR) is not None


def prepare(run_dir: Path, resume: bool) -> bool:
    """Create run_dir if needed and check it is writable. Returns True when there is a run to resume.

    Refuses to touch an existing run unless asked to resume it.
    """
    exists = has_run(run_dir)
    if exists and not resume:
        raise UserError(f"{run_dir} already holds a run; pass --resume to continue it, or --out NEW_DIR to start another")
    try:
        for sub in ("", CKPT_DIR, SAMPLES_DIR, LOGS_DIR):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write to {run_dir} ({exc.strerror}); pass --out a writable directory") from None
    problem = folder_problem(run_dir)
    if problem:
        raise UserError(f"cannot write to {run_dir}: it {problem}; pass --out a writable directory")
    return exists


def resolve_checkpoint(path: str | os.PathLike) -> tuple[Path, str]:
    """RUN, RUN/ckpt, RUN/best or RUN/{ckpt,best}/ckpt-N -> (run directory, checkpoint prefix)."""
    path = Path(path)
    if path.is_dir():
        if path.name in (CKPT_DIR, BEST_DIR) and not (path / CONFIG_FILE).exists():
            run_dir, folder = path.parent, path
        else:
            run_dir, folder = path, path / CKPT_DIR
        prefix = latest_checkpoint(folder)
        if prefix is None:
            raise UserError(f"no checkpoint in {path}; point --checkpoint at a run directory made by `dcgan train`")
        return run_dir, prefix
    if Path(str(path) + ".index").exists():
        return path.parent.parent, str(path)
    raise UserError(f"--checkpoint {path} does not exist; point it at a run directory (e.g. checkpoints/mnist-conditional) or a ckpt-N prefix")
