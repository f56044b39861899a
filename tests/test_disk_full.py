"""A checkpoint write that fails for want of space, for real: a size-limited tmpfs where this machine
lets us mount one, and a training process under `ulimit -f` (SIGXFSZ ignored) everywhere.

`make test` runs one of the two (the tmpfs where mounting works); `make test-slow` the other.
"""

import os
import re
import resource
import signal
import subprocess
import uuid

import pytest

from conftest import run_cli, tiny_train
from dcgan_cli.checkpoint_files import checkpoints, damage

TRAIN = ["--epochs", "1000", "--max-steps", "40", "--checkpoint-every", "10", "--sample-every", "1000"]


def can_mount() -> bool:
    probe = f"/tmp/dcgan-mount-probe-{uuid.uuid4().hex}"
    os.makedirs(probe)
    try:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], capture_output=True).returncode:
            return False
        subprocess.run(["umount", probe], check=True)
        return True
    except OSError:
        return False
    finally:
        os.rmdir(probe)


MOUNT = can_mount()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs: room for one checkpoint of the tiny run (1.3 MB) and its other files, not for a second."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", disk], check=True)
    yield disk
    subprocess.run(["umount", "-l", disk], check=False)


def assert_stopped_cleanly(dcgan, run, last_step, kind):
    assert dcgan.wait() == 6, dcgan.log[-3000:]
    assert "Traceback" not in dcgan.log
    line = dcgan.last_line()
    failed = f"{run}/ckpt/ckpt-{last_step + 10}"
    assert line.startswith(f"stopped: {kind} writing {failed} ("), line
    assert f"; removed its partial files; the last checkpoint, {run}/ckpt/ckpt-{last_step}, is intact; make room, " \
           f"then continue with --resume" in line, line
    # The previous checkpoints are intact and loadable; the failed one left nothing behind.
    assert [s for s, _ in checkpoints(run / "ckpt")][0] == last_step
    assert all(damage(prefix) is None for _, prefix in checkpoints(run / "ckpt"))
    assert not [p.name for p in (run / "ckpt").iterdir() if p.name.startswith(f"ckpt-{last_step + 10}")
                or "_temp" in p.name or "tmp" in p.name]
    # The space it names is what a checkpoint takes.
    needed = float(re.search(r"it needs (?:files of up to )?([\d.]+) MB", line).group(1))
    on_disk = sum(p.stat().st_size for p in (run / "ckpt").glob(f"ckpt-{last_step}.*")) / 1e6
    assert abs(needed - on_disk) < 0.1, (needed, on_disk)
    return line


def tmpfs_full(tmp_path, tiny_images, processes, capsys, disk):
    run = disk / "run"
    dcgan = processes(tiny_train(tiny_images, run, *TRAIN), tmp_path / "train.log")
    line = assert_stopped_cleanly(dcgan, run, 10, "no space left on device")
    assert re.search(r"it needs [\d.]+ MB; [\d.]+ [KM]B free there\)", line), line
    subprocess.run(["mount", "-o", "remount,size=64m", disk], check=True)  # space freed
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume"), capsys)
    assert code == 0, err
    assert f"resuming {run}/ckpt/ckpt-10" in err and "done at step 40" in err


def file_size_limit(tmp_path, tiny_images, processes, capsys):
    run = tmp_path / "run"
    code, _, err = run_cli(tiny_train(tiny_images, run, *TRAIN, "--max-steps", "20"), capsys)
    assert code == 0, err

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    dcgan = processes(tiny_train(tiny_images, run, "--resume", "--max-steps", "40"), tmp_path / "resume.log",
                      preexec_fn=limit_file_size)
    line = assert_stopped_cleanly(dcgan, run, 20, "file too large for this process (ulimit -f)")
    assert re.search(r"it needs files of up to [\d.]+ MB; this process may write files of at most 1.0 MB\)", line), line
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume"), capsys)
    assert code == 0, err
    assert f"resuming {run}/ckpt/ckpt-20" in err and "done at step 40" in err


def test_a_new_run_whose_start_fails_is_removed_again(tmp_path, tiny_images, processes):
    """Everything checked, the run directory made, then the first sample grid cannot be written (a
    4 KB file size limit): the new run is removed again, so --out is as it was."""

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # room for the lock, config and history only

    run = tmp_path / "runs" / "faces"
    dcgan = processes(tiny_train(tiny_images, run, *TRAIN), tmp_path / "train.log", preexec_fn=limit_file_size)
    assert dcgan.wait() == 6, dcgan.log[-3000:]
    line = dcgan.last_line()
    assert line.startswith(f"stopped: file too large for this process (ulimit -f) writing {run}/samples/step_000000.png"), line
    assert line.endswith(f"{run} is left as it was; make room, then start it again"), line
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(not MOUNT, reason="mounting a tmpfs is not allowed here; the `ulimit -f` variant runs instead")
def test_a_full_disk_during_a_checkpoint_is_one_line_and_resumable(tmp_path, tiny_images, processes, capsys, small_disk):
    tmpfs_full(tmp_path, tiny_images, processes, capsys, small_disk)


@pytest.mark.skipif(MOUNT, reason="covered by the tmpfs variant here; see test_file_size_limit_slow")
def test_a_file_size_limit_during_a_checkpoint_is_one_line_and_resumable(tmp_path, tiny_images, processes, capsys):
    file_size_limit(tmp_path, tiny_images, processes, capsys)


@pytest.mark.slow
def test_file_size_limit_slow(tmp_path, tiny_images, processes, capsys):
    """The `ulimit -f` variant, where `make test` ran the tmpfs one."""
    file_size_limit(tmp_path, tiny_images, processes, capsys)
