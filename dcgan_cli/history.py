"""RUN/history.jsonl: one JSON record per start or resume of a run, saying what ran it and what changed.

Each record holds the versions of dcgan, TensorFlow, Keras, numpy and CUDA, the devices, the CPU
model, the git commit when dcgan runs from a checkout, the host, the command line, the step it
started from and, on a resume, every setting that changed (old and new value). The file is
rewritten whole and renamed into place, so a crash leaves the old history or the new one.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

from dcgan_cli.files import write_text

HISTORY_FILE = "history.jsonl"


def read(run_dir) -> list[dict]:
    """The records so far (a line that does not parse, e.g. edited by hand, is skipped)."""
    try:
        lines = (Path(run_dir) / HISTORY_FILE).read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def append(run_dir, record: dict) -> None:
    path = Path(run_dir) / HISTORY_FILE
    try:
        before = path.read_text()
    except FileNotFoundError:
        before = ""
    if before and not before.endswith("\n"):
        before += "\n"
    write_text(path, before + json.dumps(record, sort_keys=True) + "\n")


def record(event: str, step: int, command: list[str] | None = None, changed: dict | None = None,
           strategy: str | None = None) -> dict:
    """A start ('start') or resume ('resume') at `step`; `changed` maps a setting to [old, new]."""
    import keras
    import numpy as np
    import tensorflow as tf

    import dcgan_cli

    build = tf.sysconfig.get_build_info()
    return {
        "event": event,
        "step": step,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "changed": changed or {},
        "command": command or list(sys.argv),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "dcgan": dcgan_cli.__version__,
        "git_commit": git_commit(Path(dcgan_cli.__file__).parent),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "cuda_build": build.get("cuda_version"),  # what TensorFlow was built against; devices says what is here
        "cudnn_build": build.get("cudnn_version"),
        "devices": [d.name for d in tf.config.list_logical_devices()],
        "cpu": cpu_model(),
        "strategy": strategy,
    }


def git_commit(folder: Path) -> str | None:
    """HEAD of the checkout dcgan runs from ('+dirty' with uncommitted changes), None when installed."""
    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)

    try:
        # Only when this very file is tracked: an installed copy inside some other checkout (a .venv
        # in a repository) is not that checkout's code.
        if git("ls-files", "--error-unmatch", "__init__.py").returncode:
            return None
        head, dirty = git("rev-parse", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def cpu_model() -> str:
    """e.g. 'AMD EPYC (family 25, model 17)': the name alone does not tell Zen 4 from Zen 5."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()
                      if ":" in line)
    except OSError:
        return platform.processor() or platform.machine()
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    name = fields.get("model name", platform.machine())
    if "cpu family" in fields and "model" in fields:
        return f"{name} (family {fields['cpu family']}, model {fields['model']})"
    return name
