"""Stopping on a signal: SIGINT (Ctrl-C), SIGTERM (schedulers, `timeout`, `kill`) and SIGHUP (a closed
terminal) end a run with a checkpoint, between two steps, and exit 128 + the signal's number.

The handlers only note the signal. Raising from a handler (Python's KeyboardInterrupt) can land
inside TensorFlow's runtime, which then aborts the process (exit 134) without saving; a noted
signal is acted on where the trainer checks, between steps, where the variables are consistent.
Signals after the first are noted too, never acted on: a save in progress always completes, and
the final line says that they came. (SIGKILL still stops a process at once; a checkpoint it
interrupts is left as a ckpt-N_temp/ folder that the next start removes.)

Under several workers a checkpoint is a collective that needs every worker. Each step the workers
add up who has been signalled: when all have (a scheduler stopping the whole job), they save
together and stop; a worker signalled alone waits GRACE_SECONDS for the others' signals, then
stops without saving, and its peers stop as when a worker is lost (exit 4).
"""

from __future__ import annotations

import signal
import threading
import time

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 10.0


def exit_code(signum: int) -> int:
    return 128 + signum


class StopSignals:
    """`with StopSignals() as stop:` notes SIGINT, SIGTERM and SIGHUP instead of dying of them."""

    def __init__(self):
        self.received: list[int] = []
        self.first_at: float | None = None
        self._previous: dict = {}
        self._agree = None

    def __enter__(self) -> "StopSignals":
        self.install()
        return self

    def install(self) -> None:
        """(Again:) TensorFlow's multi-worker coordination service takes SIGTERM for itself when it starts."""
        if threading.current_thread() is threading.main_thread():  # Python handles signals there only
            for signum in SIGNALS:
                previous = signal.signal(signum, self._note)
                self._previous.setdefault(signum, previous)

    def __exit__(self, *exc) -> None:
        # Once a signal has come, the handlers stay to the end of the process: a late repeat must not
        # kill it while it reports the checkpoint it saved.
        if not self.received:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)

    def _note(self, signum, frame) -> None:
        if not self.received:
            self.first_at = time.monotonic()
        self.received.append(signum)

    @property
    def requested(self) -> bool:
        return bool(self.received)

    @property
    def name(self) -> str:
        return signal.Signals(self.received[0]).name

    @property
    def code(self) -> int:
        return exit_code(self.received[0])

    def repeats(self) -> str:
        """' (a second SIGINT ... ignored ...)' when more signals came after the first, else ''."""
        later = self.received[1:]
        if not later:
            return ""
        names = sorted({signal.Signals(s).name for s in later})
        count = "a second" if len(later) == 1 else f"{len(later)} more"
        return f" ({count} {'/'.join(names)} came and waited for the checkpoint to be complete)"

    def signalled_workers(self, strategy) -> int:
        """How many of the strategy's replicas belong to signalled workers: a collective every worker joins."""
        import tensorflow as tf

        if self._agree is None:
            flag = tf.Variable(0.0, trainable=False)  # local to this worker: not under the strategy's scope

            @tf.function
            def agree():
                def replica_fn():
                    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, flag.read_value())

                return strategy.experimental_local_results(strategy.run(replica_fn))[0]

            self._flag, self._agree = flag, agree
        self._flag.assign(1.0 if self.received else 0.0)
        return int(round(float(self._agree())))

    def alone_too_long(self) -> bool:
        return self.first_at is not None and time.monotonic() - self.first_at > GRACE_SECONDS
