"""The trainer: builds everything a run needs from a Config, and the one loop that trains it (Trainer.fit).

The loop owns no bookkeeping: checkpoints, sample grids, TensorBoard, the progress line, the NaN
guard, evaluations and skipped-record reports are callbacks (train/callbacks.py), and `train()`
below picks the ones a real run wants. The mathematics of an update lives in train/step.py; the
models, their inputs and their losses in the run's family (models/). Metrics reach the host once
per `metrics_every` steps, never per step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import tensorflow as tf

from dcgan_cli import checkpoint_files, history, write_failure
from dcgan_cli import run_dir as runs
from dcgan_cli.config import CONFIG_FILE, Config
from dcgan_cli.datasets import training_data
from dcgan_cli.errors import OutOfSpace, TrainingStopped, UserError
from dcgan_cli.kernels import resolve_kernels
from dcgan_cli.restore import restore
from dcgan_cli.run_lock import RunLock
from dcgan_cli.train import distribute
from dcgan_cli.train.best_checkpoint import BestCheckpoint
from dcgan_cli.train.callbacks import (Checkpoints, Evaluation, LockHeld, NanGuard, ProgressLine, SampleGrids, Scalars,
                                       SkippedRecords, StopOnSignal)
from dcgan_cli.train.ema import WeightAverage
from dcgan_cli.train.losses import get_loss, with_label_smoothing
from dcgan_cli.train.optimizer import make_optimizer
from dcgan_cli.train.penalties import PENALTIES
from dcgan_cli.train.precision import dtype_policy, resolve_jit, resolve_precision
from dcgan_cli.train.progress import Progress
from dcgan_cli.train.step import TrainStep
from dcgan_cli.train.stop_signals import StopSignals

INTERRUPTED_EXIT = 130
DATA_FAILED_EXIT = 5


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    metrics: dict
    checkpoint: str | None


class Trainer:
    """The models, optimizers, step function and checkpoint of one run, built under the strategy's scope.

    run_dir: where checkpoints go (None: nowhere, e.g. `dcgan bench train`). log: where the one-line
    kernels warning goes, if any.
    """

    def __init__(self, config: Config, run_dir=None, strategy=None, log=print):
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.family = config.make_family()
        self.strategy = strategy or tf.distribute.get_strategy()
        self.precision = resolve_precision(config.precision)
        # XLA cannot compile a replica function that touches mirrored variables on other devices
        # ("Trying to access resource ... located in device CPU:1 from device CPU:0"), so it is off under >1 replica.
        self.jit = resolve_jit(config.jit) and self.strategy.num_replicas_in_sync == 1
        self.kernels = resolve_kernels(config.kernels, warn=log)
        with self.strategy.scope(), dtype_policy(self.precision):
            sync_bn = self.strategy.num_replicas_in_sync > 1 and config.sync_bn is not False
            self.generator, self.discriminator = self.family.build(self.kernels, sync_bn)
            # What samples, evaluates and goes to `dcgan sample`: G itself, or the average of its weights.
            self.weight_average = None
            self.sampler = self.generator
            if config.ema:
                self.sampler = self.family.build_generator(self.kernels, sync_bn)
                self.weight_average = WeightAverage(self.generator, self.sampler, config.ema,
                                                    fuse=self.strategy.num_replicas_in_sync == 1)
            self.g_optimizer, self.d_optimizer = (
                make_optimizer(lr, config.beta1, self.precision, self.kernels, config.beta2, config.optimizer)
                for lr in config.learning_rates)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.train_step = TrainStep(
                self.generator, self.discriminator, self.g_optimizer, self.d_optimizer,
                with_label_smoothing(get_loss(config.loss), config.label_smoothing),
                self.family, step=self.step, seed=config.seed, global_batch_size=config.batch_size,
                d_steps=config.d_steps, g_steps=config.g_steps, strategy=self.strategy, jit=self.jit,
                weight_average=self.weight_average, learning_rates=config.learning_rates, lr_decay=config.lr_decay,
                critic_steps=config.critic_steps, penalty=PENALTIES.get(config.gradient_penalty),
                gp_weight=config.gp_weight, clip=config.clip, g_objective=config.g_objective,
                historical_averaging=config.historical_averaging)
            # Create the optimizer slots now, so a restore fills them instead of deferring.
            self.g_optimizer.build(self.train_step.g_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)
            averaged = {"generator_ema": self.sampler} if config.ema else {}
            # --historical-averaging's running means of each player's past weights: training state, as Adam's moments.
            histories = {f"{player}_history": tf.train.Checkpoint(**history.variables())
                         for player, history in (("d", self.train_step.d_history), ("g", self.train_step.g_history))
                         if history is not None}
            self.checkpoint = tf.train.Checkpoint(
                generator=self.generator, discriminator=self.discriminator,
                g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer, step=self.step, **averaged, **histories)
            self.manager = None if self.run_dir is None else tf.train.CheckpointManager(
                self.checkpoint, str(self.run_dir / runs.CKPT_DIR), max_to_keep=config.keep, checkpoint_name="ckpt")
        self.last_checkpoint: str | None = None
        self.metrics: dict = {}  # the last metrics read
        self.host_step = self.start_step = 0  # the step counter as the host last saw it, and where fit began
        self.input_seconds = 0.0  # time fit spent waiting for batches
        self._callbacks: list = []
        self._stop: tuple | None = None
        # Where the user finds this run's checkpoints: run_dir, except on a worker that writes a
        # temporary copy (train() sets the chief's). lock: the run's lock, checked before each save.
        self.home = self.run_dir
        self.lock = None
        self.fresh = False  # a new run, which a stop before its first step leaves as it found it (train())

    # --- state ---------------------------------------------------------------------------------

    def restore(self, run_dir: Path | None = None, prefix: str | None = None) -> str | None:
        """Restore checkpoint `prefix`, or the newest intact one of run_dir (default: this trainer's own)."""
        latest = prefix or checkpoint_files.newest_intact(Path(run_dir or self.run_dir) / runs.CKPT_DIR, log=runs.warn,
                                                          may_move=False)
        if latest is None:
            return None
        restore(self.checkpoint, latest, partial=False,
                failure=f"cannot resume from {latest}: it does not fit the model in its run's config.json "
                        f"({{reason}}); start a new run with --out NEW_DIR")
        # The checkpoint holds the learning rates it was saved with; a resume may have set others
        # (--lr-decay then scales these base rates each step). beta1 is not a variable: it is the config's.
        for optimizer, lr in zip((self.g_optimizer, self.d_optimizer), self.config.learning_rates):
            optimizer.learning_rate.assign(lr)
        self.last_checkpoint = latest
        self.host_step = int(self.step.numpy())
        return latest

    def shown(self, prefix: str | None) -> str | None:
        """A checkpoint as the user will find it (in the chief's run directory)."""
        return str(Path(self.home) / runs.CKPT_DIR / Path(prefix).name) if prefix else None

    def checkpoint_bytes(self) -> int:
        """About what one checkpoint takes on disk: every variable it holds."""
        variables = (self.generator.weights + self.discriminator.weights + self.g_optimizer.variables
                     + self.d_optimizer.variables + (self.sampler.weights if self.weight_average else [])
                     + [v for history in (self.train_step.d_history, self.train_step.g_history) if history is not None
                        for v in history.variables().values()])
        return sum(int(np.prod(v.shape)) * tf.as_dtype(v.dtype).size for v in variables)

    def set_schedule(self, steps: int) -> None:
        """The length of the learning-rate schedule (`--lr-decay` anneals over its end)."""
        self.train_step.schedule_steps.assign(steps)

    def holds_checkpoint(self, step: int) -> bool:
        return self.last_checkpoint is not None and self.last_checkpoint.endswith(f"-{step}")

    def read_metrics(self) -> dict:
        """The means of the step's metrics since the last read (a host sync), handed to on_metrics."""
        metrics = self.train_step.read_metrics()
        if metrics:
            self.metrics = metrics
            self._call("on_metrics", self.host_step, metrics)
        return metrics

    def save_checkpoint(self) -> str | None:
        """Save a checkpoint of the current step now. The metrics are read first, so that a NaN guard
        among the callbacks can stop the run before bad weights overwrite a good checkpoint."""
        if self.manager is None:
            return None
        self.read_metrics()
        if self.lock is not None:
            self.lock.check(read=True)
        step = self.host_step
        try:
            saved = self.manager.save(checkpoint_number=step)
            checkpoint_files.make_durable(saved)
        except (OSError, tf.errors.OpError) as exc:
            number = write_failure.failed_write(exc)
            if number is None:
                raise
            checkpoint_files.remove_unfinished(self.run_dir / runs.CKPT_DIR, step)
            last = (f"the last checkpoint, {self.shown(self.last_checkpoint)}, is intact" if self.last_checkpoint
                    else "there is no checkpoint yet")
            raise TrainingStopped(f"{write_failure.describe(number, self.shown(f'ckpt-{step}'), self.checkpoint_bytes())}; "
                                  f"removed its partial files; {last}; make room, then continue with --resume",
                                  exit_code=write_failure.DISK_FULL_EXIT) from None
        self.last_checkpoint = saved
        return saved

    # --- the loop -------------------------------------------------------------------------------

    def batches(self, dataset):
        """An iterator of the global batches of dataset, each replica's part where it should be."""
        return iter(distribute.distribute_batches(self.strategy, dataset, self.config.batch_size))

    def fit(self, batches, until_step: int, callbacks=(), metrics_every: int | None = None) -> int:
        """Train until the step counter reaches until_step; returns the step reached.

        TensorFlow's custom training loop: take a batch, run the step, let the callbacks look.
        `batches` is an iterator of global batches (Trainer.batches). Every `metrics_every` steps
        the step's metric sums are read (its one host sync) and handed to on_metrics. Ctrl-C, a
        data source that stops answering and request_stop all end in save_and_stop.
        """
        self._callbacks, self._stop = list(callbacks), None
        step = self.start_step = self.host_step = int(self.step.numpy())
        try:
            self._call("on_train_begin", step)
            while step < until_step:
                self.train_step(self._next_batch(batches))
                step = self.host_step = step + 1
                if metrics_every and step % metrics_every == 0:
                    self.read_metrics()
                self._call("on_step_end", step)
                if self._stop is not None:
                    self.save_and_stop(*self._stop)
            self._call("on_train_end", step)
        except KeyboardInterrupt:
            # The signal lands between ops (TensorFlow finishes the running one first), and the step's
            # variables are updated inside one function call, so they are consistent: save them.
            self.save_and_stop("interrupted", INTERRUPTED_EXIT)
        finally:
            self._call("on_close")
            self._callbacks = []
        return step

    def _call(self, hook: str, *args) -> None:
        for callback in self._callbacks:
            getattr(callback, hook)(self, *args)

    def _next_batch(self, batches):
        started = time.perf_counter()
        try:
            return next(batches)
        except tf.errors.OpError as exc:
            # The pipelines drop unreadable records; this is a source that stopped answering at all.
            text = str(exc)
            reason = ("no record of a whole epoch could be read" if "no record of a whole epoch" in text
                      else text.strip().splitlines()[0][:160])
            self.save_and_stop("the training data failed", DATA_FAILED_EXIT, detail=reason, fix="check --data-dir")
        finally:
            self.input_seconds += time.perf_counter() - started

    # --- stopping early ---------------------------------------------------------------------------

    def request_stop(self, why: str, exit_code: int) -> None:
        """Ask the loop to save_and_stop(why, exit_code) after the step under way; safe from a signal handler."""
        self._stop = (why, exit_code)

    def save_and_stop(self, why: str, exit_code: int, detail: str | None = None, fix: str | None = None) -> NoReturn:
        """Save a checkpoint of the current step (if this fit trained one not saved yet) and stop the run:
        `WHY at step N (DETAIL); saved CHECKPOINT; FIX, then continue with --resume`, exit code exit_code."""
        step = self.host_step = int(self.step.numpy())
        if step > self.start_step and not self.holds_checkpoint(step):
            self.save_checkpoint()
        again = "continue with --resume"
        if self.holds_checkpoint(step):
            saved = f"saved {self.shown(self.last_checkpoint)}"
        elif self.last_checkpoint:
            saved = f"the last checkpoint is {self.shown(self.last_checkpoint)}"
        elif self.fresh and step == 0:
            saved, again = f"nothing was trained, and {self.home} is left as it was", "start again"
        else:
            saved = "no checkpoint yet"
        advice = f"{fix}, then {again}" if fix else again
        raise TrainingStopped(f"{why} at step {step}{f' ({detail})' if detail else ''}; {saved}; {advice}", exit_code)


def train(config: Config, run_dir: Path, resume: bool = False, strategy=None, log=print, stop=None,
          command: list[str] | None = None) -> TrainResult:
    """Train (or resume) the run in run_dir until config's epochs or max_steps are done.

    Everything that can refuse a start (options, data, run directory, lock) is checked before
    anything is written, and a new run whose start fails all the same (a signal, a full disk, a
    checkpoint that does not fit) is removed again: a failed start leaves run_dir as it found it.
    Under a multi-worker strategy every worker calls this; only the chief writes (and locks) run_dir.
    `stop` is a StopSignals already installed by the caller (the CLI installs it before TensorFlow
    sets up, so that a signal is never lost); without one, train installs its own. `command` is the
    command line that history.jsonl records (default: this process's).
    """
    run_dir = Path(run_dir)
    strategy = strategy or tf.distribute.get_strategy()
    chief = distribute.is_chief(strategy)
    resuming, latest, data = check_start(config, run_dir, resume, strategy, log)

    before = runs.contents(run_dir) if chief and not resuming else None
    out_dir = distribute.output_dir(run_dir, strategy)
    lock = RunLock(run_dir, log) if chief else None
    built: list[Trainer] = []  # the trainer, once built: a new run undone unless it trained a step
    finished = False
    with contextlib.nullcontext(stop) if stop is not None else StopSignals() as stop:
        try:
            result = _train(config, run_dir, out_dir, strategy, log, stop, lock, command, resuming, latest, data, built)
            finished = True
            return result
        except (OSError, OutOfSpace, tf.errors.OpError) as exc:
            # A config, sample grid, event file or RUN/best that could not be written for want of space
            # (a checkpoint's own failure is reported, and its partial files removed, where it is saved).
            number = write_failure.failed_write(exc)
            if number is None:
                raise
            if before is not None and not (built and built[0].host_step):
                last, again = f"{run_dir} is left as it was", "start it again"
            else:
                saved = checkpoint_files.checkpoints(run_dir / runs.CKPT_DIR)
                last = f"the last checkpoint, {saved[0][1]}, is intact" if saved else "there is no checkpoint yet"
                again = "continue with --resume"
            raise TrainingStopped(f"{write_failure.describe(number, write_failure.failed_path(exc) or run_dir)}; "
                                  f"{last}; make room, then {again}", exit_code=write_failure.DISK_FULL_EXIT) from None
        finally:
            undo = before is not None and not finished and not (built and built[0].host_step)
            if undo:
                runs.undo_start(run_dir, before)
            if lock is not None:
                lock.release()
            if undo:
                runs.remove_created_folders(run_dir, before)
            distribute.remove_output_dir(out_dir, run_dir)


def check_start(config: Config, run_dir: Path, resume: bool, strategy, log=print, download_ok: bool = True):
    """Everything that can refuse a start, with nothing written: options, run directory and lock,
    the checkpoint to resume from, and the data (opened, counted, its first records decoded).
    `train` runs this first; `dcgan train --dry-run` runs it alone, with download_ok=False (a dataset
    found nowhere is then reported, not downloaded). Returns (resuming, the checkpoint to resume from
    or None, the opened data)."""
    config.validate()
    distribute.check_batch(config.batch_size, strategy)
    chief = distribute.is_chief(strategy)
    resuming = distribute.check(run_dir, resume, strategy)
    # The step to resume from, read-only (the chief sets damaged checkpoints aside once it holds the lock).
    latest = checkpoint_files.newest_intact(run_dir / runs.CKPT_DIR, (lambda _: None) if chief else log,
                                            may_move=False, why_not_moved="the chief worker moves it") if resuming else None
    data = open_data(config, checkpoint_files.step_of(latest) if latest else 0, download_ok)
    return resuming, latest, data


def open_data(config: Config, start_step: int, download_ok: bool = True):
    """The training data from start_step (datasets.training_data): opened, its first records decoded,
    and every option that depends on its size checked. With --critic-steps N a step takes N batches."""
    data = training_data(config, start_step * config.critic_steps, download_ok)
    if config.limit is not None and data.num_examples < config.limit:
        raise UserError(f"--limit {config.limit} is more than the {data.num_examples} images the data has; "
                        f"lower --limit, or drop it to train on them all")
    if data.num_examples // config.batch_size == 0:
        raise UserError(f"the dataset has {data.num_examples} images, fewer than one batch of {config.batch_size}; "
                        f"lower --batch-size")
    if data.num_examples // config.batch_size < config.critic_steps:
        raise UserError(f"the dataset has {data.num_examples} images, fewer than --critic-steps {config.critic_steps} "
                        f"batches of {config.batch_size}; lower --critic-steps or --batch-size")
    from dcgan_cli.eval.evaluate import classifier_dataset

    if config.eval_every and not classifier_dataset(config) and 2 * config.eval_samples > data.num_examples:
        # The reference set and the real-data baseline are two disjoint sets of training images.
        raise UserError(f"--eval-samples {config.eval_samples} needs {2 * config.eval_samples} training images and the "
                        f"data has {data.num_examples}; pass --eval-samples {data.num_examples // 2} or fewer")
    if config.critic_steps > 1:
        data.dataset = critic_batches(data.dataset, config.critic_steps)
    return data


def critic_batches(dataset, n: int):
    """Groups of n consecutive global batches as one of shape (batch, n, ...): the step's update k takes
    [:, k], and a replica's rows of it are the rows it would take of batch k alone."""
    def columns(*tensors):
        return tuple(tf.transpose(t, [1, 0, *range(2, len(t.shape))]) for t in tensors)

    return dataset.batch(n, drop_remainder=True).map(columns)


def schedule(config: Config, num_examples: int, epoch_rows: int | None = None) -> tuple[int, int]:
    """(steps per epoch, the steps --epochs makes): --epochs passes over the data, each step reading
    --critic-steps batches (so an epoch of 937 MNIST batches is 187.4 steps of 5). epoch_rows: the rows
    of a batch that advance through the data's order, when not all do (Pipeline.epoch_rows)."""
    batches = num_examples // (epoch_rows or config.batch_size)
    return max(1, batches // config.critic_steps), config.epochs * batches // config.critic_steps


def _train(config: Config, run_dir: Path, out_dir: Path, strategy, log, stop, lock, command, resuming, latest, data,
           built) -> TrainResult:
    chief = out_dir == run_dir
    previous = Config.load(run_dir) if resuming and (run_dir / CONFIG_FILE).exists() else None
    distribute.prepare(run_dir, out_dir, lock, log)
    if chief and latest is not None and checkpoint_files.checkpoints(run_dir / runs.CKPT_DIR)[:1] != \
            [(checkpoint_files.step_of(latest), latest)]:
        raise UserError(f"the checkpoints in {run_dir / runs.CKPT_DIR} changed while this process started; start it again")
    if data.labelled is not None:  # the labelled images, fixed for good (resumes read them back)
        config = dataclasses.replace(config, labelled=[int(i) for i in data.labelled])
    trainer = Trainer(config, out_dir, strategy, log)
    built.append(trainer)
    trainer.home, trainer.lock, trainer.fresh = run_dir, lock, not resuming
    restored = trainer.restore(prefix=latest) if latest else None
    start_step = trainer.host_step
    steps_per_epoch, total = schedule(config, data.num_examples, data.epoch_rows)
    # The learning-rate schedule spans --epochs; --max-steps only stops the run early.
    trainer.set_schedule(total)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    if chief:
        config.save(run_dir)
        history.append(run_dir, history.record("resume" if resuming else "start", start_step, command,
                                               changed_settings(previous, config), distribute.describe(strategy)))
    began = (f"resuming {restored}" if restored else
             f"resuming {run_dir} from step 0 (it has no checkpoint yet)" if resuming else f"new run in {run_dir}")
    log(f"{began}: {config.dataset}-{config.family}, "
        f"{data.num_examples} images, {steps_per_epoch} steps/epoch, steps {start_step}..{total}, "
        f"precision {trainer.precision}, XLA {'on' if trainer.jit else 'off'}, {distribute.describe(trainer.strategy)}")

    writer = tf.summary.create_file_writer(str(out_dir / runs.LOGS_DIR))
    progress = Progress(total, steps_per_epoch, config.batch_size * config.critic_steps, start_step)

    def note(message):
        progress.clear()
        log(message)

    def make_evaluator():
        from dcgan_cli.eval.evaluate import evaluator

        return evaluator(config, config.data_dir, num=config.eval_samples, log=note)

    callbacks = [LockHeld(lock)] if lock is not None else []
    callbacks += [NanGuard(), Scalars(writer), ProgressLine(progress)]
    if data.skips is not None:
        callbacks.append(SkippedRecords(data, writer, steps_per_epoch, note))
    callbacks += [SampleGrids(out_dir / runs.SAMPLES_DIR, writer, config.sample_every, config.seed),
                  Checkpoints(config.checkpoint_every)]
    if config.eval_every and chief:
        callbacks.append(Evaluation(config.eval_every, BestCheckpoint(trainer.checkpoint, run_dir), writer, note,
                                    make_evaluator, config.eval_samples))
    callbacks.append(StopOnSignal(stop))  # last: after this step's checkpoint, if it has one
    try:
        step = trainer.fit(trainer.batches(data.dataset), total, callbacks, metrics_every=config.log_every)
    finally:
        writer.flush()
    log(f"done at step {step}: checkpoint {trainer.last_checkpoint}; samples in {run_dir / runs.SAMPLES_DIR}")
    return TrainResult(run_dir, step, trainer.metrics, trainer.last_checkpoint)


def changed_settings(previous: Config | None, config: Config) -> dict:
    """{setting: [old, new]} for every setting a resume changed."""
    if previous is None:
        return {}
    old, new = dataclasses.asdict(previous), dataclasses.asdict(config)
    return {name: [old[name], new[name]] for name in new if old.get(name) != new[name]}
