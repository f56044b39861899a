"""Writing files so that nobody ever sees half of one, and checking before any work that they can be written.

Every file dcgan writes outside TensorFlow's checkpoints (config.json, sample grids, GIFs, NPZs, plots,
JSON results, the classifier cache) goes through atomic_path: the content is written to a temporary
file beside the target and renamed over it (os.replace is atomic within a filesystem), so a crash
leaves the old file or the new one. A failed write removes its temporary file and is one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dcgan_cli.errors import OutOfSpace, UserError

# Temporary files are hidden and named for their process: .tmp-PID-NAME beside NAME.
TMP_PREFIX = ".tmp-"
DEFAULT_FIX = "free some space or choose another location"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `path` when the block completes.

    The temporary name keeps the target's full name as its end (e.g. `.tmp-7-x.weights.h5`), so
    writers that check or add a suffix (numpy, Keras, matplotlib) accept it unchanged.
    """
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(exc, path, fix) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_error(exc: OSError, path: Path, fix: str | None = None) -> UserError:
    """The one-line error for a failed write of `path`: OutOfSpace when space ran out."""
    from dcgan_cli import write_failure

    number = write_failure.failed_write(exc)
    if number is not None:
        return OutOfSpace(f"{write_failure.describe(number, path)}; {fix or DEFAULT_FIX}", number, str(path))
    return UserError(f"cannot write {path} ({exc.strerror or exc}); {fix or DEFAULT_FIX}")


@contextlib.contextmanager
def atomic_folder_path(path: str | os.PathLike, fix: str | None = None) -> Iterator[tuple[Path, Path]]:
    """atomic_path for what may be a folder (a SavedModel): yield (temporary path, scratch folder).

    Both live in a hidden folder beside `path`, removed with everything in it at the end. When the
    block completes, what it wrote at the temporary path replaces `path`: a folder there is first
    moved into the scratch folder (a rename), so `path` is never half one and half the other.
    """
    import shutil

    path = Path(path)
    scratch = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}.d")
    try:
        scratch.mkdir()
        tmp = scratch / path.name
        yield tmp, scratch
        if path.is_dir() and not path.is_symlink():
            os.replace(path, scratch / "replaced")
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(exc, path, fix) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_bytes(path: str | os.PathLike, data: bytes, fix: str | None = None) -> Path:
    with atomic_path(path, fix) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, fix: str | None = None) -> Path:
    return write_bytes(path, text.encode(), fix)


def write_json(path: str | os.PathLike, data, fix: str | None = None) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n", fix)


def folder_problem(folder: str | os.PathLike) -> str | None:
    """Why no file can be created in folder ("does not exist", "is not writable (...)"), or None.

    It creates (and at once discards) a real file, which is the only test that also holds for
    root, read-only mounts and network filesystems.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return "does not exist"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"is not writable ({exc.strerror})"
    return None


def check_writable(path: str | os.PathLike, flag: str = "--out", suffixes: tuple[str, ...] | None = None) -> Path:
    """Refuse, in one line and before any work, an output file that could not be written."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise UserError(f"{flag} {path} must end in {' or '.join(suffixes)}")
    problem = folder_problem(path.parent)
    if problem == "does not exist":
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist; create it or choose another {flag}")
    if problem:
        raise UserError(f"cannot write {path}: folder {path.parent} {problem}; choose another {flag}")
    return path
