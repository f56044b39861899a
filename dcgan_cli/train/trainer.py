"""The training loop: builds everything from a Config, runs the train step, and keeps the run safe.

The loop owns bookkeeping only (checkpoints, samples, TensorBoard, progress); the mathematics of
an update lives in train_step.py. Metrics reach the host once per log interval, never per step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from dcgan_cli.train import distribute
from dcgan_cli import run_dir as runs
from dcgan_cli.train.best_checkpoint import BestCheckpoint
from dcgan_cli.config import Config
from dcgan_cli.datasets import skipped_records, training_data
from dcgan_cli.train.ema import WeightAverage
from dcgan_cli.errors import TrainingStopped, UserError
from dcgan_cli.viz.images import grid, save_png, to_uint8
from dcgan_cli.train.losses import get_loss
from dcgan_cli.train.optimizer import make_optimizer
from dcgan_cli.train.precision import dtype_policy, resolve_jit, resolve_precision
from dcgan_cli.train.progress import Progress
from dcgan_cli.viz.sampling import build_for_config, cycling_labels, generate, one_hot, sample_z
from dcgan_cli.train.step import TrainStep

PROGRESS_EVERY = 10  # steps between progress-line redraws (no host sync involved)
SAMPLE_GRID_SIZE = 64  # unconditional grids are 8x8; conditional ones 10 rows (one per class) x 8
EVAL_SCALARS = ("fid", "kid", "inception_score", "precision", "recall", "label_accuracy")
DATA_FAILED_EXIT = 5


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    metrics: dict
    checkpoint: str | None


class Trainer:
    """Everything one run needs, built under the strategy's scope."""

    def __init__(self, config: Config, run_dir: Path, strategy=None):
        self.config, self.run_dir = config, Path(run_dir)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.precision = resolve_precision(config.precision)
        # XLA cannot compile a replica function that touches mirrored variables on other devices
        # ("Trying to access resource ... located in device CPU:1 from device CPU:0"), so it is off under >1 replica.
        self.jit = resolve_jit(config.jit) and self.strategy.num_replicas_in_sync == 1
        with self.strategy.scope(), dtype_policy(self.precision):
            sync_bn = self.strategy.num_replicas_in_sync > 1 and config.extra.get("sync_bn", True)
            self.generator, self.discriminator = build_for_config(config, synchronized_bn=sync_bn)
            # What samples, evaluates and goes to `dcgan sample`: G itself, or the average of its weights.
            self.weight_average = None
            self.sampler = self.generator
            if config.ema:
                self.sampler, _ = build_for_config(config, synchronized_bn=sync_bn)
                self.weight_average = WeightAverage(self.generator, self.sampler, config.ema,
                                                    fuse=self.strategy.num_replicas_in_sync == 1)
            self.g_optimizer = make_optimizer(config.lr, config.beta1, self.precision)
            self.d_optimizer = make_optimizer(config.lr, config.beta1, self.precision)
            # Create the optimizer slots now, so a restore fills them instead of deferring.
            self.g_optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            averaged = {"generator_ema": self.sampler} if config.ema else {}
            self.checkpoint = tf.train.Checkpoint(
                generator=self.generator, discriminator=self.discriminator,
                g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer, step=self.step, **averaged)
            self.manager = tf.train.CheckpointManager(
                self.checkpoint, str(self.run_dir / runs.CKPT_DIR), max_to_keep=config.keep, checkpoint_name="ckpt")
            self.train_step = TrainStep(
                self.generator, self.discriminator, self.g_optimizer, self.d_optimizer, get_loss(config.loss),
                step=self.step, z_dim=config.z_dim, z_dist=config.z_dist, seed=config.seed,
                global_batch_size=config.batch_size, conditional=config.conditional,
                d_steps=config.d_steps, g_steps=config.g_steps, strategy=self.strategy, jit=self.jit,
                weight_average=self.weight_average, lr=config.lr, lr_decay=config.lr_decay)
        self.fixed_z, self.fixed_labels, self.grid_rows = self._fixed_samples()

    def _fixed_samples(self):
        c = self.config
        if c.conditional:
            per_class = SAMPLE_GRID_SIZE // 8
            labels = np.repeat(np.arange(c.num_classes), per_class)
            return sample_z(c, len(labels), c.seed), one_hot(labels, c.num_classes), c.num_classes
        return sample_z(c, SAMPLE_GRID_SIZE, c.seed), None, 8

    def restore(self, run_dir: Path | None = None) -> str | None:
        """Restore the latest checkpoint of run_dir (default: this trainer's own directory)."""
        latest = tf.train.latest_checkpoint(str(Path(run_dir or self.run_dir) / runs.CKPT_DIR))
        if latest is None:
            return None
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (ValueError, AssertionError, tf.errors.OpError) as exc:
            first = str(exc).strip().splitlines()[0][:200]
            raise UserError(f"cannot resume from {latest}: it does not fit the model in {self.run_dir}/config.json ({first}); "
                            f"start a new run with --out NEW_DIR") from None
        return latest

    def sample_grid(self) -> np.ndarray:
        images = to_uint8(generate(self.sampler, self.config, self.fixed_z, self.fixed_labels))
        return grid(images, rows=self.grid_rows)

    def write_samples(self, step: int, writer) -> None:
        image = self.sample_grid()
        save_png(self.run_dir / runs.SAMPLES_DIR / f"step_{step:06d}.png", image)
        with writer.as_default():
            tf.summary.image("samples", image[None], step=step)


def train(config: Config, run_dir: Path, resume: bool = False, strategy=None, log=print) -> TrainResult:
    """Train (or resume) the run in run_dir until config's epochs or max_steps are done.

    Under a multi-worker strategy every worker calls this; only the chief writes run_dir.
    """
    config.validate()
    run_dir = Path(run_dir)
    strategy = strategy or tf.distribute.get_strategy()
    distribute.check_batch(config.batch_size, strategy)
    out_dir = distribute.output_dir(run_dir, strategy)
    try:
        return _train(config, run_dir, out_dir, resume, strategy, log)
    finally:
        distribute.remove_output_dir(out_dir, run_dir)


def _train(config: Config, run_dir: Path, out_dir: Path, resume: bool, strategy, log) -> TrainResult:
    resuming = distribute.prepare(run_dir, out_dir, resume)
    trainer = Trainer(config, out_dir, strategy)
    restored = trainer.restore(run_dir) if resuming else None
    start_step = int(trainer.step.numpy())
    if out_dir == run_dir:
        config.save(run_dir)

    dataset, num_examples = training_data(config, start_step)
    steps_per_epoch = num_examples // config.batch_size
    if steps_per_epoch == 0:
        raise UserError(f"the dataset has {num_examples} images, fewer than one batch of {config.batch_size}; lower --batch-size")
    total = config.epochs * steps_per_epoch
    # The learning-rate schedule spans --epochs; --max-steps only stops the run early.
    trainer.train_step.schedule_steps.assign(total)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    log(f"{'resuming ' + restored if restored else 'new run in ' + str(run_dir)}: {config.model}, {num_examples} images, "
        f"{steps_per_epoch} steps/epoch, steps {start_step}..{total}, precision {trainer.precision}, "
        f"XLA {'on' if trainer.jit else 'off'}, {distribute.describe(trainer.strategy)}")

    writer = tf.summary.create_file_writer(str(out_dir / runs.LOGS_DIR))
    if start_step == 0:
        trainer.write_samples(0, writer)
    progress = Progress(total, steps_per_epoch, config.batch_size, start_step)
    metrics: dict = {}
    last_saved = restored
    step = start_step
    is_chief = out_dir == run_dir
    best = BestCheckpoint(trainer.checkpoint, run_dir) if config.eval_every and is_chief else None
    evaluator = None
    skipped_reported = skipped_records()
    # Training time without the evaluations, for metric-vs-cost curves (since this process started).
    started = (time.perf_counter(), time.process_time())
    eval_cost = [0.0, 0.0]

    def note(message):
        progress.clear()
        log(message)

    def flush(step):
        """Read the metric sums (the one host sync), check them, log them."""
        nonlocal metrics
        latest = trainer.train_step.read_metrics()
        if not latest:
            return
        if not all(math.isfinite(v) for v in latest.values()):
            raise TrainingStopped(
                f"loss became NaN or infinite between steps {step - config.log_every} and {step} "
                f"({', '.join(f'{k} {v:.3g}' for k, v in latest.items())}); the last good checkpoint is "
                f"{last_saved or 'none'}; resume from it with a lower --lr", exit_code=3)
        metrics = latest
        with writer.as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, value, step=step)
        progress.update(step, metrics, force=True)

    def save(step):
        nonlocal last_saved
        flush(step)  # never save a checkpoint with NaN weights
        last_saved = trainer.manager.save(checkpoint_number=step)

    def report_skipped(step):
        """Undecodable records (LSUN, folders): logged at each epoch's end, and in TensorBoard."""
        nonlocal skipped_reported
        if config.dataset == "mnist":
            return
        skipped = skipped_records()
        with writer.as_default():
            tf.summary.scalar("data/skipped_records", skipped, step=step)
        if skipped > skipped_reported or step % steps_per_epoch == 0:
            note(f"epoch {-(-step // steps_per_epoch)}: {skipped - skipped_reported} undecodable records skipped "
                 f"({skipped} since start-up)")
        skipped_reported = skipped

    def evaluate(step):
        """--eval-every: sample quality in TensorBoard, and RUN/best when FID improves."""
        nonlocal evaluator
        before = (time.perf_counter(), time.process_time())
        if evaluator is None:
            from dcgan_cli.eval.evaluate import evaluator as make_evaluator

            evaluator = make_evaluator(config, config.data_dir, num=config.eval_samples, log=note)
        results = evaluator(trainer.sampler)
        with writer.as_default():
            for name in EVAL_SCALARS:
                if name in results:
                    tf.summary.scalar(f"eval/{name}", results[name], step=step)
            tf.summary.scalar("time/train_wall_s", before[0] - started[0] - eval_cost[0], step=step)
            tf.summary.scalar("time/train_cpu_s", before[1] - started[1] - eval_cost[1], step=step)
        improved = best.offer(step, results)
        shown = ", ".join(f"{name} {results[name]:.4g}" for name in EVAL_SCALARS if name in results)
        note(f"step {step} evaluation ({config.eval_samples} samples): {shown}"
             + (f"; best FID so far, saved to {best.dir}" if improved else f"; best FID remains {best.fid:.4g}"))
        eval_cost[0] += time.perf_counter() - before[0]
        eval_cost[1] += time.process_time() - before[1]

    def next_batch():
        try:
            return next(iterator)
        except tf.errors.OpError as exc:
            # The pipelines drop unreadable records; this is a source that stopped answering at all.
            text = str(exc)
            reason = ("no record of a whole epoch could be read" if "no record of a whole epoch" in text
                      else text.strip().splitlines()[0][:160])
            if step > start_step:
                save(step)
            saved = f"the last checkpoint is {last_saved}" if last_saved else "no checkpoint yet"
            raise TrainingStopped(f"the training data failed at step {step} ({reason}); {saved}; "
                                  f"check --data-dir, then continue with --resume", exit_code=DATA_FAILED_EXIT) from None

    iterator = iter(distribute.distribute_batches(trainer.strategy, dataset, config.batch_size))
    try:
        while step < total:
            trainer.train_step(next_batch())
            step += 1
            if step % config.log_every == 0:
                flush(step)
            elif step % PROGRESS_EVERY == 0:
                progress.update(step)
            if step % steps_per_epoch == 0:
                report_skipped(step)
            if step % config.sample_every == 0:
                trainer.write_samples(step, writer)
            if step % config.checkpoint_every == 0:
                save(step)
            if best and step % config.eval_every == 0:
                evaluate(step)
        if last_saved is None or not last_saved.endswith(f"-{step}"):
            save(step)
            if step % config.sample_every:
                trainer.write_samples(step, writer)
        if step % steps_per_epoch:
            report_skipped(step)
        if best and step % config.eval_every and step > start_step:
            evaluate(step)
    except KeyboardInterrupt:
        # The signal lands between steps (TensorFlow finishes the running op first), so the
        # variables are consistent: save them, unless they are NaN (save() checks).
        progress.close()
        step = int(trainer.step.numpy())
        save(step)
        raise TrainingStopped(f"interrupted at step {step}; saved {last_saved}; continue with --resume", exit_code=130) from None
    finally:
        progress.close()
        writer.flush()
    log(f"done at step {step}: checkpoint {last_saved}; samples in {run_dir / runs.SAMPLES_DIR}")
    return TrainResult(run_dir, step, metrics, last_saved)
