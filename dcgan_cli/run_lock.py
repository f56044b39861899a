"""One writer per run directory: RUN/.lock, held by the process that trains the run.

Two `dcgan train` processes pointed at one run (a job submitted twice, a `--resume` while the
first still runs) would interleave two runs' checkpoints, config and logs. The lock is a file
created with O_EXCL, which is atomic on local disks and on NFS (v3 and later) alike, so it needs
no flock() support from a shared filesystem. It names its holder (pid, host, boot, process start
time) and the holder touches it every HEARTBEAT seconds.

A lock left behind by a process that died (kill -9, a crashed machine) is broken, saying so, when
its holder is provably gone: on this host, its pid is not running (or is another process now);
from anywhere, its heartbeat is older than STALE seconds. Otherwise the second process is refused
with one line naming the holder. A holder whose lock was broken while it was stopped (a laptop
asleep, SIGSTOP) finds out at its next heartbeat and stops without writing another file.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

from dcgan_cli.errors import TrainingStopped, UserError

LOCK_FILE = ".lock"
# Older than this, a heartbeat means a dead holder, whatever its host. Shared filesystems and
# hosts' clocks are not perfectly in step, so it is minutes, not seconds. DCGAN_LOCK_STALE_SECONDS
# changes it (the tests shorten it); the heartbeat comes ten times as often.
STALE_SECONDS = float(os.environ.get("DCGAN_LOCK_STALE_SECONDS", "300"))
HEARTBEAT_SECONDS = STALE_SECONDS / 10
LOCK_LOST_EXIT = 7


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _process_start(pid: int) -> str | None:
    """The kernel's start time of pid (clock ticks since boot), which a reused pid does not share."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in parentheses may hold spaces


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def this_process() -> dict:
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "boot_id": _boot_id(), "process_start": _process_start(pid),
            "started": time.time(), "token": f"{socket.gethostname()}-{pid}-{time.time_ns()}"}


def read_holder(run_dir: Path) -> dict | None:
    """The lock's contents with its heartbeat age, or None when the run is not locked.

    A lock file that is still being written (created, not yet filled) reads as a holder of unknown
    pid and a fresh heartbeat.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        text = path.read_text()
        age = time.time() - path.stat().st_mtime
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        holder = json.loads(text)
        if not isinstance(holder, dict):
            raise ValueError
    except ValueError:
        holder = {}
    return {**holder, "age": max(0.0, age)}


def why_stale(holder: dict) -> str | None:
    """Why the holder is certainly gone, or None if it may be alive."""
    if holder["age"] > STALE_SECONDS:
        return f"its heartbeat is {holder['age']:.0f} s old"
    pid, host = holder.get("pid"), holder.get("host")
    if host != socket.gethostname() or not isinstance(pid, int):
        return None  # another host: only its heartbeat can tell
    if holder.get("boot_id") and holder.get("boot_id") != _boot_id():
        return "this host has restarted since"
    if pid == os.getpid() or not _pid_running(pid):
        return "that process has ended"
    if holder.get("process_start") and holder.get("process_start") != _process_start(pid):
        return "that process has ended (its pid now belongs to another)"
    return None


def describe(holder: dict) -> str:
    started = holder.get("started")
    when = f", started {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}" if isinstance(started, (int, float)) else ""
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}{when}, heartbeat {holder['age']:.0f} s ago"


def check_unlocked(run_dir: Path) -> None:
    """Refuse at once, before anything is built, when a live process holds the run."""
    holder = read_holder(run_dir)
    if holder is not None and why_stale(holder) is None:
        raise _in_use(run_dir, holder)


def _in_use(run_dir: Path, holder: dict) -> UserError:
    return UserError(f"{run_dir} is in use by another dcgan process ({describe(holder)}); wait for it to finish "
                     f"or stop it, or pass --out NEW_DIR")


class RunLock:
    """`with RunLock(run_dir, log):` holds run_dir's lock; `check()` between steps stops a process that lost it."""

    def __init__(self, run_dir: Path, log=print):
        self.run_dir, self.log = Path(run_dir), log
        self.path = self.run_dir / LOCK_FILE
        self.me = this_process()
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_holder(self.run_dir)
                if holder is None:
                    continue  # released in the meantime
                reason = why_stale(holder)
                if reason is None:
                    raise _in_use(self.run_dir, holder) from None
                self._break(holder, reason)
                continue
            except OSError as exc:
                raise UserError(f"cannot write to {self.run_dir} ({exc.strerror}); pass --out a writable directory") from None
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self.me) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._thread = threading.Thread(target=self._beat, name="dcgan-lock-heartbeat", daemon=True)
            self._thread.start()
            return
        raise UserError(f"{self.run_dir}: could not take its lock {self.path} (other processes keep taking it); "
                        f"make sure only one dcgan trains this run")

    def _break(self, holder: dict, reason: str) -> None:
        """Remove a dead holder's lock, unless another process has replaced it since we read it."""
        aside = self.path.with_name(f"{LOCK_FILE}.broken-{self.me['token']}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # someone else broke it first
        moved = read_holder_file(aside)
        if moved.get("token") != holder.get("token"):
            # Not the lock we judged (a new holder took it between our read and the rename): put it back.
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass  # a third process holds it now; the one we moved sees that at its heartbeat and stops
            os.unlink(aside)
            return
        os.unlink(aside)
        self.log(f"{self.run_dir}: removed a stale lock of {describe(holder)} ({reason})")

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            holder = read_holder_file(self.path)
            if holder.get("token") != self.me["token"]:
                self.lost = True
                return
            try:
                os.utime(self.path)
            except OSError:
                pass  # a missed beat; the next one tries again

    def check(self, read: bool = False) -> None:
        """Between steps: stop, writing nothing more, if another process broke this lock.

        The heartbeat finds out within HEARTBEAT_SECONDS; read=True (before a checkpoint) reads the lock now.
        """
        if read and read_holder_file(self.path).get("token") != self.me["token"]:
            self.lost = True
        if self.lost:
            holder = read_holder(self.run_dir)
            now = f"; it is now held by {describe(holder)}" if holder else ""
            raise TrainingStopped(f"another process took over {self.run_dir} while this one was not responding "
                                  f"(its lock went stale{now}); this process stopped without writing anything more",
                                  exit_code=LOCK_LOST_EXIT)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if read_holder_file(self.path).get("token") == self.me["token"]:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def read_holder_file(path: Path) -> dict:
    try:
        holder = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
