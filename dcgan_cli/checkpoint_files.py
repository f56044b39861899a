"""The files of a checkpoint folder (RUN/ckpt, RUN/best): which checkpoints are there, which are
intact, and what happens to the others.

TensorFlow writes checkpoint N into a ckpt-N_temp/ folder, renames its files into place
(ckpt-N.data-00000-of-00001, then ckpt-N.index) and lists the kept ones in the text file
`checkpoint`. A process killed during a save leaves the ckpt-N_temp/ folder behind; a crash of
the machine or a full disk can leave the newest checkpoint truncated. So:

- the checkpoints are found from their files, not from the `checkpoint` list alone;
- a checkpoint is intact when every tensor reads back and matches its stored checksum;
- a damaged one is moved to damaged/ (never deleted: it may be all a user has), the newest intact
  one is used instead, and one line says which file was damaged and how many steps that loses;
- leftovers of interrupted saves are removed by the next process that trains the run;
- a checkpoint is on disk for good (fsync) before training goes on, so a machine crash can damage
  only the one being written, never the one before it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from dcgan_cli.errors import UserError
from dcgan_cli.files import TMP_PREFIX, write_text

STATE_FILE = "checkpoint"  # TensorFlow's list of the kept checkpoints
DAMAGED_DIR = "damaged"
NAME = re.compile(r"^ckpt-(\d+)\.index$")
LEFTOVER = re.compile(r"^ckpt-\d+_temp$|\.tempstate\d*$|^checkpoint\.tmp|^" + re.escape(TMP_PREFIX))


def checkpoints(folder) -> list[tuple[int, str]]:
    """(step, prefix) of every checkpoint in folder, newest first."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [(int(m.group(1)), str(Path(folder) / name[: -len(".index")])) for name in names if (m := NAME.match(name))]
    return sorted(found, reverse=True)


def step_of(prefix) -> int:
    return int(Path(prefix).name.rsplit("-", 1)[1])


def damage(prefix) -> str | None:
    """None when the checkpoint reads back whole, else which file is damaged and how."""
    import tensorflow as tf

    name = Path(prefix).name
    if not list(Path(prefix).parent.glob(name + ".data-*")):
        return f"{name}.data-00000-of-00001 is missing"
    try:
        reader = tf.train.load_checkpoint(str(prefix))
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as exc:
        return f"{name}.index: {_first_line(exc)}"
    try:
        for tensor in reader.get_variable_to_shape_map():
            reader.get_tensor(tensor)  # checks the stored crc32c
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as exc:
        data = sorted(p.name for p in Path(prefix).parent.glob(name + ".data-*"))
        return f"{', '.join(data)}: {_first_line(exc)}"
    return None


def _first_line(exc) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r"^\{\{[^}]*\}\}\s*", "", text)[:160]


def newest_intact(folder, log, may_move: bool = True, why_not_moved: str = "", required: bool = True) -> str | None:
    """The newest intact checkpoint in folder (None if there is none at all), damaged newer ones set aside.

    may_move=False (the run is in use by a live process) reports damaged ones without moving them.
    When every checkpoint is damaged: a UserError if `required`, else a warning and None.
    """
    found = checkpoints(folder)
    damaged = []
    for step, prefix in found:
        reason = damage(prefix)
        if reason is None:
            break
        damaged.append((step, prefix, reason))
    else:
        step, prefix = None, None
    if not damaged:
        return prefix
    if may_move:
        try:
            for _, p, _ in damaged:
                quarantine(p)
            write_state(folder)
            where = f"moved to {Path(folder) / DAMAGED_DIR}/"
        except OSError as exc:
            where = f"could not be moved to {Path(folder) / DAMAGED_DIR}/ ({exc.strerror})"
    else:
        where = f"left in place{': ' + why_not_moved if why_not_moved else ''}"
    names = ", ".join(Path(p).name for _, p, _ in damaged)
    what = f"{names} {'is' if len(damaged) == 1 else 'are'} damaged ({damaged[0][2]}); {where}"
    if prefix is None:
        if required:
            raise UserError(f"every checkpoint in {folder} is damaged: {what}; start a new run with --out NEW_DIR")
        log(f"warning: {what}; no intact checkpoint is left in {folder}")
        return None
    lost = damaged[0][0] - step
    log(f"warning: {what}; using {prefix} instead, {lost} step{'s' if lost != 1 else ''} older")
    return prefix


def quarantine(prefix) -> Path:
    """Move ckpt-N.* into damaged/ beside it (ckpt-N.index.1 ... if the name is taken there)."""
    prefix = Path(prefix)
    target = prefix.parent / DAMAGED_DIR
    target.mkdir(exist_ok=True)
    for path in sorted(prefix.parent.glob(prefix.name + ".*")):
        destination, n = target / path.name, 0
        while destination.exists():
            n += 1
            destination = target / f"{path.name}.{n}"
        os.replace(path, destination)
    return target


def write_state(folder) -> None:
    """Rewrite `checkpoint` to list the checkpoints whose files are there, so TensorFlow agrees with us."""
    import tensorflow as tf
    from google.protobuf import text_format

    kept = sorted(checkpoints(folder))
    path = Path(folder) / STATE_FILE
    if not kept:
        path.unlink(missing_ok=True)
        return
    previous = tf.train.get_checkpoint_state(str(folder))  # None when missing or unreadable
    times = [Path(p + ".index").stat().st_mtime for _, p in kept]
    preserved = previous.last_preserved_timestamp if previous is not None else min(times) - 1
    # Names relative to the folder, as CheckpointManager writes them (given a relative folder,
    # TensorFlow would rewrite them relative to the working directory).
    state = tf.compat.v1.train.generate_checkpoint_state_proto(
        os.path.abspath(folder), Path(kept[-1][1]).name, all_model_checkpoint_paths=[Path(p).name for _, p in kept],
        all_model_checkpoint_timestamps=times, last_preserved_timestamp=preserved)
    write_text(path, text_format.MessageToString(state))


def tidy(folder, log) -> None:
    """What the process that takes a run over does first (holding its lock): remove leftovers of
    interrupted saves, set damaged newest checkpoints aside, and make `checkpoint` list what is there."""
    remove_leftovers(folder, log)
    newest_intact(folder, log, required=False)  # RUN/best may lose its only checkpoint; the run goes on
    listed = _listed(folder)
    if listed is not None and listed != {Path(p).name for _, p in checkpoints(folder)}:
        write_state(folder)


def _listed(folder) -> set[str] | None:
    """The checkpoints TensorFlow's `checkpoint` file lists (None without a readable one)."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(folder))  # None when missing or unreadable
    if state is None:
        return set() if (Path(folder) / STATE_FILE).exists() else None
    return {Path(p).name for p in state.all_model_checkpoint_paths}


def make_durable(prefix) -> None:
    """fsync checkpoint `prefix`, the `checkpoint` list and their folder, so that a machine that crashes
    or loses power later still has this checkpoint whole (TensorFlow only renames its files into place)."""
    folder = Path(prefix).parent
    for path in [*folder.glob(Path(prefix).name + ".*"), folder / STATE_FILE, folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_leftovers(folder, log) -> None:
    """Remove what interrupted saves left in folder (ckpt-N_temp/ folders, temporary files), in one line."""
    try:
        names = sorted(n for n in os.listdir(folder) if LEFTOVER.search(n))
    except (FileNotFoundError, NotADirectoryError):
        return
    if not names:
        return
    size = sum(_size(Path(folder) / n) for n in names)
    for name in names:
        path = Path(folder) / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    shown = ", ".join(n + ("/" if n.endswith("_temp") else "") for n in names)
    log(f"removed {shown} from {folder} ({format_size(size)}), left by a save that never finished")


def remove_unfinished(folder, step: int) -> None:
    """After a failed save of checkpoint `step`: remove its partial files, leaving every other checkpoint alone."""
    folder = Path(folder)
    for path in folder.glob(f"ckpt-{step}_temp"):
        shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(f"ckpt-{step}.*"):
        path.unlink(missing_ok=True)
    for path in folder.iterdir() if folder.is_dir() else []:
        if LEFTOVER.search(path.name) and path.is_file():
            path.unlink(missing_ok=True)
    try:
        if f'"ckpt-{step}"' in (folder / STATE_FILE).read_text():  # the save got as far as listing it
            write_state(folder)
    except OSError:
        pass  # still no room: the list names a checkpoint that is not there, which tidy() sets right


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def format_size(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"
