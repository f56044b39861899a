"""What happens between train steps, as small callbacks of Trainer.fit.

A callback implements any of the hooks below; fit calls them in list order. `step` is the number
of steps done so far (the step counter after the last update). None of them changes a weight: a
run with or without them trains bit for bit the same.

    on_train_begin(trainer, step)          before the first step of this fit
    on_step_end(trainer, step)             after every step
    on_metrics(trainer, step, metrics)     after each read of the step's metric sums (the one host sync)
    on_train_end(trainer, step)            when the last step is done
    on_close(trainer)                      always, last: after the end, an error or a stop

A callback stops a run by raising errors.TrainingStopped; Trainer.request_stop and
Trainer.save_and_stop are the way to stop with a checkpoint of the current step.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from dcgan_cli.config import flag
from dcgan_cli.errors import TrainingStopped
from dcgan_cli.train.stop_signals import GRACE_SECONDS

PROGRESS_EVERY = 10  # steps between progress-line redraws (no host sync involved)
EVAL_SCALARS = ("fid", "kid", "inception_score", "precision", "recall", "label_accuracy", "classes_covered",
                "min_class_share", "max_class_share", "class_entropy", "duplicate_share", "clusters")
NAN_EXIT = 3


class Callback:
    def on_train_begin(self, trainer, step: int) -> None:
        pass

    def on_step_end(self, trainer, step: int) -> None:
        pass

    def on_metrics(self, trainer, step: int, metrics: dict) -> None:
        pass

    def on_train_end(self, trainer, step: int) -> None:
        pass

    def on_close(self, trainer) -> None:
        pass


class Periodic(Callback):
    """Acts every `every` steps, and at the end on a last step in between if this fit trained it."""

    def __init__(self, every: int):
        self.every = every
        self.first = None

    def act(self, trainer, step: int) -> None:
        raise NotImplementedError

    def on_train_begin(self, trainer, step):
        self.first = step

    def on_step_end(self, trainer, step):
        if step % self.every == 0:
            self.act(trainer, step)

    def on_train_end(self, trainer, step):
        if step % self.every and step > self.first:
            self.act(trainer, step)


class NanGuard(Callback):
    """Stops the run when a loss turns NaN or infinite, before the next checkpoint can save bad weights."""

    def __init__(self):
        self.since = None

    def on_train_begin(self, trainer, step):
        self.since = step

    def on_metrics(self, trainer, step, metrics):
        if not all(math.isfinite(v) for v in metrics.values()):
            # A player with its own rate ignores --lr, so the advice names the options that set the rates in use.
            own = [flag(name) for name in ("g_lr", "d_lr") if getattr(trainer.config, name) is not None]
            lower = "--lr" if not own else "/".join(own) if len(own) == 2 else f"--lr and {own[0]}"
            raise TrainingStopped(
                f"loss became NaN or infinite between steps {self.since} and {step} "
                f"({', '.join(f'{k} {v:.3g}' for k, v in metrics.items())}); the last good checkpoint is "
                f"{trainer.last_checkpoint or 'none'}; resume from it with a lower {lower}", exit_code=NAN_EXIT)
        self.since = step


class Scalars(Callback):
    """The step's metrics to TensorBoard."""

    def __init__(self, writer):
        self.writer = writer

    def on_metrics(self, trainer, step, metrics):
        import tensorflow as tf

        with self.writer.as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, value, step=step)


class ProgressLine(Callback):
    """train.progress.Progress: redrawn every PROGRESS_EVERY steps, with the losses at each metrics read."""

    def __init__(self, progress):
        self.progress = progress
        self.shown = None

    def on_step_end(self, trainer, step):
        if step % PROGRESS_EVERY == 0 and step != self.shown:
            self.progress.update(step)

    def on_metrics(self, trainer, step, metrics):
        self.progress.update(step, metrics, force=True)
        self.shown = step

    def on_close(self, trainer):
        self.progress.close()


class SkippedRecords(Callback):
    """Undecodable records the pipeline dropped (LSUN, folders): a line at each epoch's end, and TensorBoard."""

    def __init__(self, pipeline, writer, steps_per_epoch: int, note):
        self.pipeline, self.writer, self.steps_per_epoch, self.note = pipeline, writer, steps_per_epoch, note
        self.reported = 0

    def report(self, step):
        import tensorflow as tf

        skipped = self.pipeline.skipped()
        with self.writer.as_default():
            tf.summary.scalar("data/skipped_records", skipped, step=step)
        if skipped > self.reported or step % self.steps_per_epoch == 0:
            self.note(f"epoch {-(-step // self.steps_per_epoch)}: {skipped - self.reported} undecodable records "
                      f"skipped ({skipped} since start-up)")
        self.reported = skipped

    def on_train_begin(self, trainer, step):
        self.reported = self.pipeline.skipped()

    def on_step_end(self, trainer, step):
        if step % self.steps_per_epoch == 0:
            self.report(step)

    def on_train_end(self, trainer, step):
        if step % self.steps_per_epoch:
            self.report(step)


class SampleGrids(Periodic):
    """The same fixed z (and labels) through the sampling G every `every` steps: RUN/samples/step_N.png
    and TensorBoard. A new run gets step 0's grid, and the last step always gets one."""

    def __init__(self, folder: Path, writer, every: int, seed: int):
        super().__init__(every)
        self.folder, self.writer, self.seed = Path(folder), writer, seed
        self.latents = self.rows = None

    def act(self, trainer, step):
        import tensorflow as tf

        from dcgan_cli.pixels import to_uint8
        from dcgan_cli.viz.images import grid, save_png

        image = grid(to_uint8(trainer.family.generate(trainer.sampler, self.latents)), rows=self.rows)
        save_png(self.folder / f"step_{step:06d}.png", image)
        with self.writer.as_default():
            tf.summary.image("samples", image[None], step=step)

    def on_train_begin(self, trainer, step):
        super().on_train_begin(trainer, step)
        self.latents, self.rows = trainer.family.grid_latents(self.seed)
        if step == 0:
            self.act(trainer, step)


class Checkpoints(Periodic):
    """A checkpoint every `every` steps and at the end (Trainer.save_checkpoint: never of NaN weights)."""

    def act(self, trainer, step):
        trainer.save_checkpoint()

    def on_train_end(self, trainer, step):
        if not trainer.holds_checkpoint(step):
            trainer.save_checkpoint()


class Evaluation(Periodic):
    """--eval-every: sample quality and mode coverage in TensorBoard, RUN/best when FID improves, and a
    one-line warning when the samples collapse (eval.evaluate.collapse_warning).

    The evaluator (feature space, real-data features) is built at the first evaluation; the training
    time without evaluations goes to TensorBoard beside each one, for metric-against-cost curves.
    """

    def __init__(self, every: int, best, writer, note, make_evaluator, samples: int):
        super().__init__(every)
        self.best, self.writer, self.note = best, writer, note
        self.make_evaluator, self.samples = make_evaluator, samples
        self.evaluator = None
        self.started = (0.0, 0.0)
        self.cost = [0.0, 0.0]  # wall and CPU seconds spent evaluating

    def on_train_begin(self, trainer, step):
        super().on_train_begin(trainer, step)
        self.started = (time.perf_counter(), time.process_time())

    def act(self, trainer, step):
        import tensorflow as tf

        from dcgan_cli.eval.evaluate import collapse_warning

        before = (time.perf_counter(), time.process_time())
        if self.evaluator is None:
            self.evaluator = self.make_evaluator()
        results = self.evaluator(trainer.sampler)
        with self.writer.as_default():
            for name in EVAL_SCALARS:
                if name in results:
                    tf.summary.scalar(f"eval/{name}", results[name], step=step)
            tf.summary.scalar("time/train_wall_s", before[0] - self.started[0] - self.cost[0], step=step)
            tf.summary.scalar("time/train_cpu_s", before[1] - self.started[1] - self.cost[1], step=step)
        improved = self.best.offer(step, results)
        shown = ", ".join(f"{name} {results[name]:.4g}" for name in EVAL_SCALARS if name in results)
        self.note(f"step {step} evaluation ({self.samples} samples): {shown}"
                  + (f"; best FID so far, saved to {self.best.dir}" if improved else f"; best FID remains {self.best.fid:.4g}"))
        warning = collapse_warning(results, self.evaluator.baseline, self.evaluator.class_reference)
        if warning:
            self.note(f"warning: step {step}: {warning}")
        self.cost[0] += time.perf_counter() - before[0]
        self.cost[1] += time.process_time() - before[1]


class LockHeld(Callback):
    """After every step: the run's lock (run_lock.RunLock) is still this process's; else stop, writing nothing."""

    def __init__(self, lock):
        self.lock = lock

    def on_step_end(self, trainer, step):
        self.lock.check()


class StopOnSignal(Callback):
    """SIGINT, SIGTERM, SIGHUP (noted by train.stop_signals.StopSignals): a checkpoint of the step, then
    a stop with 128 + the signal's number. Under several workers, only once every worker was signalled;
    a worker signalled alone stops without one (see stop_signals). Put it last, after Checkpoints."""

    def __init__(self, stop):
        self.stop = stop
        self.multiworker = False

    def on_train_begin(self, trainer, step):
        import tensorflow as tf

        self.stop.install()  # TensorFlow's multi-worker coordination service takes SIGTERM when it starts
        self.multiworker = isinstance(trainer.strategy, tf.distribute.MultiWorkerMirroredStrategy)
        if self.agreed(trainer, step):  # a signal while the run was being set up
            self.save_and_stop(trainer)

    def on_step_end(self, trainer, step):
        if self.agreed(trainer, step):
            self.save_and_stop(trainer)

    def on_train_end(self, trainer, step):
        if self.stop.requested:  # during the last step or its checkpoint: the run is complete
            raise TrainingStopped(f"{self.stop.name} after the run's last step; saved "
                                  f"{trainer.shown(trainer.last_checkpoint)}{self.stop.repeats()}", self.stop.code)

    def agreed(self, trainer, step) -> bool:
        """Whether every worker (the only one, mostly) has been signalled: a collective under several."""
        if not self.multiworker:
            return self.stop.requested
        if self.stop.signalled_workers(trainer.strategy) == trainer.strategy.num_replicas_in_sync:
            return True
        if self.stop.requested and self.stop.alone_too_long():
            last = (f"the last checkpoint, {trainer.shown(trainer.last_checkpoint)}, is intact" if trainer.last_checkpoint
                    else "there is no checkpoint yet")
            raise TrainingStopped(
                f"{self.stop.name} reached this worker only (no other within {GRACE_SECONDS:.0f} s) and a checkpoint "
                f"needs every worker, so it stopped at step {step} without one ({last}); the others stop as for a "
                f"lost worker; restart every worker with --resume", exit_code=self.stop.code)
        return False

    def save_and_stop(self, trainer):
        try:
            trainer.save_and_stop(self.stop.name, self.stop.code)
        except TrainingStopped as exc:  # signals that came during the save are said too
            raise TrainingStopped(f"{exc}{self.stop.repeats()}", exc.exit_code) from None

