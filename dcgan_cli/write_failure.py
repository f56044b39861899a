"""Recognising a write that failed for want of space (a full disk, a quota, `ulimit -f`), and saying
in one line where, how much was needed and how much there is.

Python reports these as OSError with an errno (files.atomic_path turns them into errors.OutOfSpace);
TensorFlow's file writers (checkpoints, event files) as an OpError whose message carries the C
library's text for the same errno.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
from pathlib import Path

from dcgan_cli.checkpoint_files import format_size
from dcgan_cli.errors import OutOfSpace

DISK_FULL_EXIT = 6
KINDS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
         errno.EFBIG: "file too large for this process (ulimit -f)"}


def failed_write(exc: BaseException) -> int | None:
    """The errno of a write that failed for want of space, or None for any other error."""
    if isinstance(exc, (OSError, OutOfSpace)) and exc.errno in KINDS:
        return exc.errno
    import tensorflow as tf

    if isinstance(exc, tf.errors.OpError):
        text = str(exc)
        for number in KINDS:
            if os.strerror(number) in text:
                return number
    return None


def failed_path(exc: BaseException) -> str | None:
    """The file a failed write was writing, as the error names it."""
    if isinstance(exc, (OSError, OutOfSpace)) and exc.filename:
        return str(exc.filename)
    match = re.search(r"(\S+); " + "|".join(os.strerror(n) for n in KINDS), str(exc))
    return match.group(1) if match else None


def describe(number: int, path, needed: int | None = None) -> str:
    """e.g. 'no space left on device writing RUN/ckpt/ckpt-40 (it needs 2.3 MB; 1.1 MB free there)'."""
    folder = Path(path)
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    if number == errno.EFBIG:
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        have = f"files of at most {format_size(limit)}" if limit != resource.RLIM_INFINITY else "no larger files"
        need = f"files of up to {format_size(needed)}" if needed else "a larger file"
        return f"{KINDS[number]} writing {path} (it needs {need}; this process may write {have})"
    free = shutil.disk_usage(folder).free
    need = f"it needs {format_size(needed)}; " if needed else ""
    return f"{KINDS[number]} writing {path} ({need}{format_size(free)} free there)"
