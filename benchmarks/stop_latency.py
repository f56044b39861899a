"""How long `dcgan train` takes to exit after SIGTERM: to its "stopped ... saved" line (the checkpoint is
whole from there) and to the process's exit (what a scheduler's grace period must cover).

    python benchmarks/stop_latency.py [--after 75] [--core 0] -- mnist --family sgan --labels 100 --out RUN

Starts `dcgan train ARGS` (RUN must not exist; $DCGAN names the command, default `dcgan`), sends
SIGTERM after --after seconds of training, and prints one markdown row: the arguments, the step it
stopped at, and the seconds from the signal to the "stopped" line and to the exit.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import threading
import time


def main():
    parser = argparse.ArgumentParser(description="seconds from SIGTERM to dcgan train's checkpoint and exit")
    parser.add_argument("--after", type=float, default=75.0, help="seconds to train before the signal")
    parser.add_argument("--core", default=None, help="pin the run to this CPU core (taskset -c)")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then `dcgan train`'s arguments")
    args = parser.parse_args()
    train_args = [a for a in args.train_args if a != "--"]
    command = [os.environ.get("DCGAN", "dcgan"), "train", *train_args]
    if args.core is not None:
        command = ["taskset", "-c", args.core, *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stopped = {}

    def read():  # the progress line rewrites itself with \r; the stop message is a line of its own
        for line in process.stdout:
            for part in line.split("\r"):
                if part.startswith("stopped"):
                    stopped.setdefault("at", time.monotonic())
                    stopped["line"] = part.strip()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(args.after)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait()
    exited = time.monotonic()
    reader.join(timeout=5)
    if "at" not in stopped:
        raise SystemExit(f"no 'stopped' line (exit {code}); did training start within {args.after:g} s?")
    step = re.search(r"at step (\d+)", stopped["line"])
    print("| args | step | to 'stopped', s | to exit, s | exit code |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| `{' '.join(train_args)}` | {step.group(1) if step else '?'} | {stopped['at'] - signalled:.1f} "
          f"| {exited - signalled:.1f} | {code} |")


if __name__ == "__main__":
    main()
