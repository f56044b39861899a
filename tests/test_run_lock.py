"""Two processes, one run: the run directory's lock refuses the second with one line naming the holder,
and is broken only when its holder is provably gone. (A lock left by a killed process:
tests/test_checkpoint_files.py; the workers of one multi-worker run: tests/test_distribute.py.)"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import tiny_train
from dcgan_cli import run_lock
from dcgan_cli.errors import TrainingStopped, UserError
from test_cli_errors import assert_one_line_error

FOREVER = ["--epochs", "100000", "--checkpoint-every", "100000", "--sample-every", "100000"]


def test_a_second_process_is_refused_naming_the_holder(tmp_path, tiny_images, processes):
    run = tmp_path / "run"
    first = processes(tiny_train(tiny_images, run, *FOREVER), tmp_path / "first.log")
    first.wait_for("step 5/")
    second = processes(tiny_train(tiny_images, run, "--resume", "--max-steps", "1000"), tmp_path / "second.log")
    code = second.wait()
    assert_one_line_error(code, second.log, f"{run} is in use by another dcgan process",
                          f"pid {first.pid} on {socket.gethostname()}", "--out NEW_DIR")
    assert first.proc.poll() is None  # the first run goes on, untouched
    # Ctrl-C in the first one's terminal saves it and frees the run.
    first.signal(signal.SIGINT)
    assert first.wait() == 130, first.log[-3000:]
    assert first.last_line().startswith("stopped: SIGINT at step "), first.last_line()
    assert not (run / ".lock").exists()


def write_lock(run, age=0.0, **holder):
    run.mkdir(parents=True, exist_ok=True)
    path = run / run_lock.LOCK_FILE
    path.write_text(json.dumps({"token": "theirs", "started": time.time() - age, **holder}))
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_lock_is_broken_only_when_its_holder_is_provably_gone(tmp_path):
    here, alive = socket.gethostname(), os.getppid()
    notes = []

    def take(run):
        lock = run_lock.RunLock(run, log=notes.append)
        lock.acquire()
        lock.release()

    # Alive on this host, or on another host with a recent heartbeat: refused, naming the holder.
    for holder in ({"pid": alive, "host": here, "process_start": run_lock._process_start(alive)},
                   {"pid": 4242, "host": "elsewhere", "boot_id": "other"}):
        run = tmp_path / f"held-{holder['host']}"
        path = write_lock(run, age=5, **holder)
        with pytest.raises(UserError, match=f"pid {holder['pid']} on {holder['host']}.*heartbeat 5 s ago"):
            take(run)
        assert json.loads(path.read_text())["token"] == "theirs"
    # Gone: a pid that has ended here, a pid now running another program, a rebooted host,
    # a heartbeat from anywhere older than STALE_SECONDS.
    gone = {"ended": ({"pid": ended_pid(), "host": here}, 0, "that process has ended"),
            "reused": ({"pid": alive, "host": here, "process_start": "1"}, 0, "its pid now belongs to another"),
            "rebooted": ({"pid": alive, "host": here, "boot_id": "before"}, 0, "this host has restarted since"),
            "silent": ({"pid": 4242, "host": "elsewhere"}, run_lock.STALE_SECONDS + 60, "heartbeat is")}
    for name, (holder, age, reason) in gone.items():
        notes.clear()
        write_lock(tmp_path / name, age=age, **holder)
        take(tmp_path / name)
        assert len(notes) == 1 and "removed a stale lock of pid" in notes[0] and reason in notes[0], (name, notes)
        assert not (tmp_path / name / run_lock.LOCK_FILE).exists()  # released again
        assert not list((tmp_path / name).glob(".lock.*"))


def test_a_lock_taken_by_another_process_stops_its_old_holder(tmp_path):
    """A holder that finds its lock broken (it was stopped longer than STALE_SECONDS) writes nothing more."""
    run = tmp_path / "run"
    run.mkdir()
    lock = run_lock.RunLock(run)
    lock.acquire()
    lock.check(read=True)
    os.unlink(run / run_lock.LOCK_FILE)
    write_lock(run, pid=4242, host="elsewhere")
    with pytest.raises(TrainingStopped, match="another process took over") as stopped:
        lock.check(read=True)
    assert stopped.value.exit_code == run_lock.LOCK_LOST_EXIT
    lock.release()
    assert json.loads((run / run_lock.LOCK_FILE).read_text())["token"] == "theirs"  # not the old holder's to remove


@pytest.mark.slow
def test_a_stopped_process_loses_a_stale_lock_and_stops_without_writing(tmp_path, tiny_images, processes, capsys):
    run = tmp_path / "run"
    env = {"DCGAN_LOCK_STALE_SECONDS": "3"}
    first = processes(tiny_train(tiny_images, run, *FOREVER, "--checkpoint-every", "20"), tmp_path / "first.log", env=env)
    first.wait_for("step 25/")
    first.signal(signal.SIGSTOP)  # a laptop asleep, a job suspended
    time.sleep(4)
    second = processes(tiny_train(tiny_images, run, "--resume", "--max-steps", "100000"), tmp_path / "second.log", env=env)
    second.wait_for("removed a stale lock of pid")
    second.wait_for("step ")
    first.signal(signal.SIGCONT)
    assert first.wait() == run_lock.LOCK_LOST_EXIT, first.log[-3000:]
    assert "another process took over" in first.last_line()
    assert second.proc.poll() is None
    second.signal(signal.SIGTERM)
    assert second.wait() == 143, second.log[-3000:]
