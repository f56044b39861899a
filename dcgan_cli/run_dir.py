"""Run directories: where a run's config, checkpoints, samples and logs live, and finding them again.

    RUN/config.json        the Config that built the models
    RUN/ckpt/ckpt-N.*      tf.train.CheckpointManager files (G, D, both optimizers, step)
    RUN/samples/step_N.png fixed-z sample grids
    RUN/logs/              TensorBoard event files
    RUN/best/ckpt-N.*      the checkpoint with the lowest FID (--eval-every), and best/metrics.json
    RUN/history.jsonl      one record per start or resume: versions, machine, command, what changed
    RUN/.lock              present while a process trains the run (run_lock.py)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dcgan_cli import checkpoint_files, run_lock
from dcgan_cli.config import CONFIG_FILE
from dcgan_cli.errors import UserError
from dcgan_cli.files import folder_problem
from dcgan_cli.run_lock import RunLock

CKPT_DIR = "ckpt"
SAMPLES_DIR = "samples"
LOGS_DIR = "logs"
BEST_DIR = "best"


def default_run_dir(dataset: str, family: str) -> Path:
    """checkpoints/DATASET for the dcgan family (as before families existed), checkpoints/DATASET-FAMILY otherwise."""
    return Path("checkpoints") / (dataset if family == "dcgan" else f"{dataset}-{family}")


def has_run(run_dir: Path) -> bool:
    return (run_dir / CONFIG_FILE).exists() or bool(checkpoint_files.checkpoints(run_dir / CKPT_DIR))


def check(run_dir: Path, resume: bool, writer: bool = True) -> bool:
    """Everything about run_dir that can refuse a start, checked without writing anything.

    Returns True when there is a run to resume. Refuses to touch an existing run unless asked to
    resume it and, for the process that will write it (`writer`), a folder that cannot be written
    and a run that another process trains.
    """
    exists = has_run(run_dir)
    if exists and not resume:
        raise UserError(f"{run_dir} already holds a run; pass --resume to continue it, or --out NEW_DIR to start another")
    if not writer:
        return exists
    nearest = run_dir
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    for folder in [nearest] + [run_dir / sub for sub in (CKPT_DIR, SAMPLES_DIR, LOGS_DIR) if (run_dir / sub).exists()]:
        problem = "is not a directory" if not folder.is_dir() else folder_problem(folder)
        if problem:
            raise UserError(f"cannot write to {run_dir}: {folder} {problem}; pass --out a writable directory")
    run_lock.check_unlocked(run_dir)
    return exists


def prepare(run_dir: Path, lock: RunLock | None = None, log=print) -> None:
    """Create run_dir's folders and, with `lock`, take it and tidy up after earlier processes
    (leftovers of interrupted saves, damaged newest checkpoints). Call after check()."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if lock is not None:
            lock.acquire()
        for sub in (CKPT_DIR, SAMPLES_DIR, LOGS_DIR):
            (run_dir / sub).mkdir(exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write to {run_dir} ({exc.strerror}); pass --out a writable directory") from None
    if lock is not None:
        for folder in (run_dir / CKPT_DIR, run_dir / BEST_DIR):
            checkpoint_files.tidy(folder, log)


def contents(run_dir: Path) -> tuple[Path | None, set[str]]:
    """What a folder holds before a new run starts in it: (its first missing ancestor, the names in it)."""
    missing = None
    while not run_dir.exists() and run_dir != run_dir.parent:
        missing, run_dir = run_dir, run_dir.parent
    return missing, set(os.listdir(run_dir)) if missing is None and run_dir.is_dir() else set()


def undo_start(run_dir: Path, before: tuple[Path | None, set[str]]) -> None:
    """Remove what a new run's failed start made (its lock excepted: its holder removes it last)."""
    _, names = before
    for name in set(os.listdir(run_dir)) - names - {run_lock.LOCK_FILE} if run_dir.is_dir() else ():
        path = run_dir / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)


def remove_created_folders(run_dir: Path, before: tuple[Path | None, set[str]]) -> None:
    """After undo_start and the lock's release: the folders --out's creation made, if still empty."""
    missing, _ = before
    folder = run_dir
    while missing is not None:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty: something else lives there now
        if folder == missing:
            return
        folder = folder.parent


def run_of_checkpoint(path: str | os.PathLike) -> Path:
    """The run directory a --checkpoint path names (RUN, RUN/ckpt, RUN/best, RUN/{ckpt,best}/ckpt-N),
    found without reading any checkpoint."""
    path = Path(path)
    if not path.is_dir():
        return path.parent.parent
    return path.parent if path.name in (CKPT_DIR, BEST_DIR) and not (path / CONFIG_FILE).exists() else path


def resolve_checkpoint(path: str | os.PathLike, log=None) -> tuple[Path, str]:
    """RUN, RUN/ckpt, RUN/best or RUN/{ckpt,best}/ckpt-N -> (run directory, checkpoint prefix).

    A folder gives its newest intact checkpoint (damaged newer ones are moved to damaged/, unless a
    live process trains the run); a checkpoint named explicitly is used as it is, or refused if damaged.
    """
    log = log or warn
    path = Path(path)
    if path.is_dir():
        run_dir = run_of_checkpoint(path)
        folder = path if run_dir != path else path / CKPT_DIR
        holder = run_lock.read_holder(run_dir)
        live = holder is not None and run_lock.why_stale(holder) is None
        in_use = f"{run_dir} is in use by {run_lock.describe(holder)}" if live else ""
        prefix = checkpoint_files.newest_intact(folder, log, may_move=not live, why_not_moved=in_use)
        if prefix is None:
            raise UserError(f"no checkpoint in {path}; point --checkpoint at a run directory made by `dcgan train`")
        return run_dir, prefix
    if Path(str(path) + ".index").exists():
        reason = checkpoint_files.damage(path)
        if reason is not None:
            intact = next((p for _, p in checkpoint_files.checkpoints(path.parent) if checkpoint_files.damage(p) is None), None)
            instead = (f"the newest intact one is {intact}: pass it, or the run directory, which falls back by itself"
                       if intact else "no other checkpoint of the run is intact")
            raise UserError(f"--checkpoint {path} is damaged ({reason}); it was left as it is; {instead}")
        return path.parent.parent, str(path)
    raise UserError(f"--checkpoint {path} does not exist; point it at a run directory (e.g. checkpoints/mnist-conditional) or a ckpt-N prefix")


_warned: set[str] = set()


def warn(message: str) -> None:
    """Warnings about a run's files go to stderr, once per process (several commands resolve twice)."""
    if message not in _warned:
        _warned.add(message)
        print(message, file=sys.stderr)
