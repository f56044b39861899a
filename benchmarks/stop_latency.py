"""How long `dcgan train` takes to exit after SIGTERM: to its "stopped ... saved" line (the checkpoint is
whole from there) and to the process's exit (what a scheduler's grace period must cover).

    python benchmarks/stop_latency.py [--after 75] [--core 0] [--exit both] -- mnist --family sgan --out RUN

Starts `dcgan train ARGS` with this Python (RUN must not exist; each start uses RUN-prompt or
RUN-python), sends SIGTERM after --after seconds of training, and prints a markdown row per start:
the arguments, the exit, the step it stopped at, and the seconds from the signal to the "stopped"
line and to the exit. --exit prompt is the `dcgan` command's own exit (cli.run), python the ordinary
exit of Python it had before (cli.main alone); both (the default) runs one after the other, to
compare them on one machine at one time.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser(description="seconds from SIGTERM to dcgan train's checkpoint and exit")
    parser.add_argument("--after", type=float, default=75.0, help="seconds to train before the signal")
    parser.add_argument("--core", default=None, help="pin the run to this CPU core (taskset -c)")
    parser.add_argument("--exit", choices=["both", *EXITS], default="both", help="which exit to time")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then `dcgan train`'s arguments")
    args = parser.parse_args()
    train_args = [a for a in args.train_args if a != "--"]
    if "--out" not in train_args:
        raise SystemExit("give `dcgan train` an --out RUN")
    out = train_args.index("--out") + 1
    print("| args | exit | step | to 'stopped', s | to exit, s | exit code |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in EXITS if args.exit == "both" else [args.exit]:
        run_args = [*train_args[:out], f"{train_args[out]}-{name}", *train_args[out + 1:]]
        print(time_stop([*EXITS[name], "train", *run_args], args.core, args.after, " ".join(train_args), name), flush=True)


# The `dcgan` command's own exit, and Python's ordinary one (main() alone, as the command was before).
EXITS = {"prompt": [sys.executable, "-m", "dcgan_cli"],
         "python": [sys.executable, "-c", "import sys; from dcgan_cli.cli import main; main(sys.argv[1:])"]}


def time_stop(command, core, after, shown, name):
    if core is not None:
        command = ["taskset", "-c", core, *command]
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
    time.sleep(after)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait()
    exited = time.monotonic()
    reader.join(timeout=5)
    if "at" not in stopped:
        raise SystemExit(f"no 'stopped' line (exit {code}); did training start within {after:g} s?")
    step = re.search(r"at step (\d+)", stopped["line"])
    return (f"| `{shown}` | {name} | {step.group(1) if step else '?'} | {stopped['at'] - signalled:.1f} "
            f"| {exited - signalled:.1f} | {code} |")


if __name__ == "__main__":
    main()
