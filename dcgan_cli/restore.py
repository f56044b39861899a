"""Getting a run's models back from its checkpoints: the one restore.

`dcgan sample`, `evaluate`, `probe`, `filters`, the trainer's --resume and the tests all restore
through restore(): a checkpoint that does not fit the models its config.json describes is one line
naming both, never a traceback. load_run() rebuilds the models from config.json alone, in float32
and with no strategy, so a run trained in mixed precision or on many devices loads anywhere.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from dcgan_cli.config import Config
from dcgan_cli.errors import UserError
from dcgan_cli.run_dir import resolve_checkpoint


@dataclass
class Run:
    """A run's models as one of its checkpoints left them."""

    run_dir: Path
    checkpoint: str  # the checkpoint's prefix, RUN/ckpt/ckpt-N
    config: Config
    family: object  # models.Family
    step: int
    generator: object | None  # keras.Model: the averaged weights (generator_ema) when the run kept them
    discriminator: object | None


def restore(checkpoint, prefix: str, *, partial: bool, failure: str) -> None:
    """Restore `checkpoint` (a tf.train.Checkpoint) from `prefix`; every object in it must be there.

    partial: the checkpoint holds more than `checkpoint` asks for (e.g. only G is wanted).
    failure: the one-line error when it does not fit, with `{reason}` for TensorFlow's first line.
    """
    import tensorflow as tf

    try:
        status = checkpoint.restore(prefix)
        if partial:
            status.expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(failure.replace("{reason}", reason)) from None


def load_run(checkpoint, generator: bool = True, averaged: bool = True, discriminator: bool = False,
             config_dir=None, warn=None) -> Run:
    """The models of RUN, RUN/ckpt, RUN/best or one RUN/{ckpt,best}/ckpt-N, rebuilt from RUN/config.json.

    generator: restore G; averaged: G's moving average (`--ema`) when the run kept one, which is what
    samples and evaluates, else G's own weights. discriminator: restore D as well. config_dir: the
    run whose config.json describes the checkpoint, when it was copied out of its run. warn: where
    a kernels warning goes (default stderr).
    """
    import tensorflow as tf

    from dcgan_cli.kernels import resolve_kernels

    run_dir, prefix = resolve_checkpoint(checkpoint)
    run_dir = Path(config_dir) if config_dir is not None else run_dir
    config = Config.load(run_dir)
    try:
        family = config.make_family()
    except UserError as exc:
        raise UserError(f"{run_dir}/config.json describes no buildable model ({exc}); restore the run's config.json") from None
    kernels = resolve_kernels(config.kernels, warn=warn or (lambda message: print(message, file=sys.stderr)))
    step = tf.Variable(0, dtype=tf.int64)
    objects = {"step": step}
    models = {}
    if generator:
        models["generator"] = family.build_generator(kernels)
        objects["generator_ema" if averaged and config.ema else "generator"] = models["generator"]
    if discriminator:
        models["discriminator"] = objects["discriminator"] = family.build_discriminator(kernels)
    restore(tf.train.Checkpoint(**objects), prefix, partial=True,
            failure=f"checkpoint {prefix} does not fit the {config.family} model that {run_dir}/config.json "
                    f"describes ({{reason}}); pass the run directory the checkpoint was written in")
    return Run(run_dir, prefix, config, family, int(step.numpy()), models.get("generator"), models.get("discriminator"))
