"""Signals to a real `dcgan train` process: SIGINT, SIGTERM and SIGHUP each save a checkpoint between
steps and exit 130, 143 or 129 with one line; a second signal during the save neither corrupts it
nor goes unreported. (Several workers: tests/test_distribute.py.)"""

import signal
import time

import pytest

from conftest import run_cli, tiny_train
from dcgan_cli.checkpoint_files import checkpoints, damage

FOREVER = ["--epochs", "100000", "--checkpoint-every", "100000", "--sample-every", "100000"]


@pytest.mark.parametrize("signum, code", [
    (signal.SIGHUP, 129),
    # make test sends SIGTERM in the test below and SIGINT in test_run_lock.py
    pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow),
    pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow),
])
def test_a_signal_saves_a_checkpoint_and_exits_with_its_code(tmp_path, tiny_images, processes, capsys, signum, code):
    run = tmp_path / "run"
    dcgan = processes(tiny_train(tiny_images, run, *FOREVER), tmp_path / "train.log")
    dcgan.wait_for("step 10/")  # training under way; the only checkpoint can come from the signal
    dcgan.signal(signum)
    assert dcgan.wait() == code, dcgan.log[-3000:]
    assert "Traceback" not in dcgan.log
    name = signal.Signals(signum).name
    last = dcgan.last_line()
    assert last.startswith(f"stopped: {name} at step ") and "continue with --resume" in last, last
    step = int(last.split(" at step ")[1].split(";")[0])
    assert step >= 10 and f"saved {run}/ckpt/ckpt-{step};" in last
    assert checkpoints(run / "ckpt") == [(step, str(run / "ckpt" / f"ckpt-{step}"))]
    assert damage(run / "ckpt" / f"ckpt-{step}") is None
    assert not (run / ".lock").exists()
    # The run continues from the saved step.
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume", "--max-steps", step + 5), capsys)
    assert code == 0, err
    assert f"resuming {run}/ckpt/ckpt-{step}" in err and f"done at step {step + 5}" in err


def test_a_second_sigterm_during_the_save_waits_for_it(tmp_path, tiny_images, processes):
    """Width 64 makes a 124 MB checkpoint, whose save the second SIGTERM lands in."""
    run = tmp_path / "run"
    dcgan = processes(tiny_train(tiny_images, run, *FOREVER, "--width", "64", "--log-every", "2"), tmp_path / "train.log")
    dcgan.wait_for("step 2/")
    dcgan.signal(signal.SIGTERM)
    deadline = time.time() + 120
    while not list((run / "ckpt").glob("ckpt-*_temp")):  # the save has begun
        assert dcgan.proc.poll() is None and time.time() < deadline, dcgan.log[-3000:]
        time.sleep(0.002)
    dcgan.signal(signal.SIGTERM)
    assert dcgan.wait() == 143, dcgan.log[-3000:]
    last = dcgan.last_line()
    assert last.startswith("stopped: SIGTERM at step ") and "a second SIGTERM came and waited for the checkpoint" in last, last
    assert "Traceback" not in dcgan.log
    ((step, prefix),) = checkpoints(run / "ckpt")
    assert f"saved {prefix};" in last
    assert damage(prefix) is None
    assert not list((run / "ckpt").glob("*_temp"))
