"""Damaged checkpoints and leftovers of interrupted saves, made for real: a truncated file, a process
killed with SIGKILL in the middle of writing a checkpoint."""

import shutil
import signal
import time

import pytest

from conftest import run_cli, tiny_train
from dcgan_cli.checkpoint_files import checkpoints, damage
from test_cli_errors import assert_one_line_error, snapshot


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture
def damaged_run(tiny_run, tmp_path):
    """A copy of tiny_run whose newest checkpoint's data file was cut in half, as a crash leaves it."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    truncate(run / "ckpt" / "ckpt-20.data-00000-of-00001")
    return run


def assert_fell_back(err, run):
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, err
    assert "ckpt-20 is damaged (ckpt-20.data-00000-of-00001: " in warnings[0]
    assert f"moved to {run}/ckpt/damaged/" in warnings[0]
    assert f"using {run}/ckpt/ckpt-10 instead, 10 steps older" in warnings[0]
    assert sorted(p.name for p in (run / "ckpt" / "damaged").iterdir()) == \
        ["ckpt-20.data-00000-of-00001", "ckpt-20.index"]
    assert checkpoints(run / "ckpt") == [(10, str(run / "ckpt" / "ckpt-10"))]
    assert "Traceback" not in err


def test_sample_falls_back_to_the_newest_intact_checkpoint(damaged_run, tmp_path, capsys):
    code, out, err = run_cli(["sample", "--checkpoint", damaged_run, "--out", tmp_path / "g.png"], capsys)
    assert code == 0, err
    assert_fell_back(err, damaged_run)
    assert f"from {damaged_run} at step 10" in out
    # TensorFlow's own list agrees, and the second time there is nothing to say.
    import tensorflow as tf

    assert tf.train.latest_checkpoint(str(damaged_run / "ckpt")).endswith("ckpt-10")
    code, _, err = run_cli(["sample", "--checkpoint", damaged_run, "--out", tmp_path / "g.png"], capsys)
    assert code == 0 and "warning" not in err, err


def test_a_damaged_checkpoint_named_explicitly_is_refused_and_left_alone(damaged_run, tmp_path, capsys):
    before = snapshot(damaged_run)
    code, _, err = run_cli(["sample", "--checkpoint", damaged_run / "ckpt" / "ckpt-20", "--out", tmp_path / "g.png"], capsys)
    assert_one_line_error(code, err, f"{damaged_run}/ckpt/ckpt-20 is damaged", "ckpt-20.data-00000-of-00001",
                          f"the newest intact one is {damaged_run}/ckpt/ckpt-10")
    assert snapshot(damaged_run) == before
    assert not (tmp_path / "g.png").exists()


def test_evaluate_falls_back_too(damaged_run, tmp_path, capsys):
    truncate(damaged_run / "ckpt" / "ckpt-20.index", keep=0.3)  # the index too, this time
    code, out, err = run_cli(["evaluate", "--checkpoint", damaged_run, "--num", "16"], capsys)
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "ckpt-20 is damaged (ckpt-20.index: " in warning[0], err
    assert "at step 10" in out


def test_resume_falls_back_and_says_how_many_steps_it_loses(damaged_run, tiny_images, capsys):
    code, _, err = run_cli(tiny_train(tiny_images, damaged_run, "--resume", "--max-steps", "25"), capsys)
    assert code == 0, err
    assert "ckpt-20 is damaged" in err and f"resuming {damaged_run}/ckpt/ckpt-10" in err, err
    assert [s for s, _ in checkpoints(damaged_run / "ckpt")] == [25, 20, 10]
    assert (damaged_run / "ckpt" / "damaged" / "ckpt-20.index").exists()


def test_every_checkpoint_damaged_is_refused(damaged_run, tiny_images, capsys):
    truncate(damaged_run / "ckpt" / "ckpt-10.data-00000-of-00001")
    code, _, err = run_cli(tiny_train(tiny_images, damaged_run, "--resume", "--max-steps", "25"), capsys)
    assert_one_line_error(code, err, f"every checkpoint in {damaged_run}/ckpt is damaged", "--out NEW_DIR")


def test_a_run_in_use_is_not_rearranged(damaged_run, tmp_path, capsys):
    """While a live process trains the run, sampling falls back without moving its files."""
    import json
    import os
    import socket

    from dcgan_cli.run_lock import LOCK_FILE, _process_start

    holder = os.getppid()  # alive, on this host
    (damaged_run / LOCK_FILE).write_text(json.dumps({"pid": holder, "host": socket.gethostname(), "token": "x",
                                                     "process_start": _process_start(holder)}))
    code, out, err = run_cli(["sample", "--checkpoint", damaged_run, "--out", tmp_path / "g.png"], capsys)
    assert code == 0, err
    assert f"left in place: {damaged_run} is in use by pid {holder}" in err and "at step 10" in out
    assert (damaged_run / "ckpt" / "ckpt-20.index").exists() and not (damaged_run / "ckpt" / "damaged").exists()


def written_mb(folder, pattern):
    total = 0
    for path in folder.glob(pattern):
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # renamed into place meanwhile
            pass
    return total / 1e6


def test_a_save_killed_midway_leaves_leftovers_that_the_next_start_removes(tmp_path, tiny_images, processes, capsys):
    """SIGKILL while a 124 MB checkpoint is being written (width 64): the ckpt-N_temp/ folder and the
    lock stay behind; the next start removes both, one line each, and continues."""
    run = tmp_path / "run"
    args = ["--width", "64", "--checkpoint-every", "1", "--sample-every", "1000", "--epochs", "1000"]
    dcgan = processes(tiny_train(tiny_images, run, *args), tmp_path / "train.log")
    deadline = time.time() + 300
    while not written_mb(run / "ckpt", "ckpt-*_temp/*") > 10:  # well into a save
        assert dcgan.proc.poll() is None and time.time() < deadline, dcgan.log[-3000:]
        time.sleep(0.002)
    dcgan.signal(signal.SIGKILL)
    dcgan.wait()
    leftovers = sorted(p.name for p in (run / "ckpt").glob("ckpt-*_temp"))
    assert leftovers and (run / ".lock").exists()
    code, _, err = run_cli(tiny_train(tiny_images, run, *args, "--resume", "--max-steps", "1"), capsys)
    assert code == 0, err
    assert f"removed a stale lock of pid {dcgan.pid}" in err and "(that process has ended)" in err
    removed = [line for line in err.splitlines() if line.startswith("removed ck")]
    assert len(removed) == 1 and leftovers[0] in removed[0] and "MB), left by a save that never finished" in removed[0], err
    assert not list((run / "ckpt").glob("*_temp")) and not (run / ".lock").exists()
    assert all(damage(prefix) is None for _, prefix in checkpoints(run / "ckpt"))


def test_a_damaged_best_checkpoint_is_set_aside_without_stopping_the_run(damaged_run, tiny_images, capsys):
    """RUN/best (--eval-every) whose only checkpoint is damaged: moved aside, the resume goes on."""
    best = damaged_run / "best"
    best.mkdir()
    for path in (damaged_run / "ckpt").glob("ckpt-20.*"):
        shutil.copy(path, best)  # the truncated one
    code, _, err = run_cli(tiny_train(tiny_images, damaged_run, "--resume", "--max-steps", "25"), capsys)
    assert code == 0, err
    assert f"no intact checkpoint is left in {best}" in err and "done at step 25" in err
    assert (best / "damaged" / "ckpt-20.index").exists() and not checkpoints(best)
