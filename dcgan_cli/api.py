"""dcgan's Python API: train a run, load its generator, draw images, measure them.

    from dcgan_cli import api
    from dcgan_cli.config import Config

    result = api.train(Config(dataset="mnist", family="conditional", num_classes=10, max_steps=500), "runs/a")
    generator = api.load_generator("runs/a")
    images = api.generate(generator, 16, labels=[3] * 16, seed=1)   # uint8, 16 x 28 x 28 x 1
    metrics = api.evaluate("runs/a", num=2000)                     # {"fid": ..., "real_fid": ...}

These four functions are the stable surface: they run exactly what the `dcgan` commands run
(`train`, `sample`, `evaluate`), so an image drawn here is the same tile `dcgan sample --seed S`
draws, and a user error is a dcgan_cli.errors.UserError with the command line's one-line message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dcgan_cli.config import Config

__all__ = ["Generator", "train", "load_generator", "generate", "evaluate"]


@dataclass
class Generator:
    """A run's sampling generator (its weight average when the run kept one) and what it takes."""

    model: object  # keras.Model: G, inputs named as its family's Latents fields (z, and labels for labelled families)
    family: object  # models.Family: G's inputs, how z is drawn, the image shape
    config: Config  # the run's config.json
    step: int  # the training step of the checkpoint
    checkpoint: str  # the checkpoint's prefix, RUN/ckpt/ckpt-N

    @property
    def num_classes(self) -> int:
        """Classes G is conditioned on (0: an unconditional family)."""
        return self.family.num_classes if self.family.takes_labels else 0


def train(config: Config, run_dir: str | os.PathLike, resume: bool = False, log=print):
    """Train (or, with resume=True, continue) the run in run_dir as `dcgan train` does; returns a
    TrainResult (run_dir, step, the last metrics, the last checkpoint).

    config: a dcgan_cli.config.Config (its defaults are the command line's). run_dir must be new
    or empty unless resume=True; everything is checked before anything is written. log: where the
    progress lines go (default print).
    """
    import keras

    from dcgan_cli.train.trainer import train as train_run

    keras.utils.set_random_seed(config.seed)  # initial weights; z and data order are seeded by (seed, step)
    return train_run(config, Path(run_dir), resume=resume, log=log, command=["dcgan_cli.api.train"])


def load_generator(checkpoint: str | os.PathLike) -> Generator:
    """The generator of a run directory (its latest checkpoint), RUN/best, RUN/ckpt or RUN/ckpt/ckpt-N,
    rebuilt from the run's config.json alone, in float32."""
    from dcgan_cli.restore import load_run

    run = load_run(checkpoint)
    return Generator(run.generator, run.family, run.config, run.step, run.checkpoint)


def generate(generator: Generator, n: int, labels=None, seed: int = 0, codes: dict | None = None) -> np.ndarray:
    """n images as uint8, n x H x W x C: tiles 0..n-1 of `dcgan sample --seed SEED --num N`.

    labels: for a labelled family, n class ids (default: cycling through every class, as `dcgan
    sample` does); None for an unconditional one.
    codes: for InfoGAN, latent codes held at a value, e.g. {"cat": 3, "cont1": 0.5} (`dcgan sample
    --code cat=3 --code cont1=0.5`); the others are drawn from the seed.
    """
    from dcgan_cli.errors import UserError
    from dcgan_cli.viz.sample import Drawer, cycling_labels

    family = generator.family
    if n < 0:
        raise UserError(f"n must be 0 or more, got {n}")
    if labels is not None and not family.takes_labels:
        raise UserError(f"the {family.name} family takes no class labels; pass labels=None")
    if family.takes_labels:
        classes = cycling_labels(n, family.num_classes) if labels is None else np.asarray(labels, np.int64).reshape(-1)
        if len(classes) != n or np.any((classes < 0) | (classes >= family.num_classes)):
            raise UserError(f"labels must be {n} class ids in 0..{family.num_classes - 1}")
    else:
        classes = None
    if codes and not family.code_names:
        raise UserError(f"the {family.name} family takes no latent codes; pass codes=None")
    fixed = {}
    for name, value in (codes or {}).items():
        try:
            fixed[name] = family.code_value(name, str(value))
        except ValueError as exc:
            raise UserError(f"codes: {exc}") from None
    draw = Drawer(family, generator.model, seed, fixed)  # `dcgan sample`'s own path from z (and classes) to pixels
    return draw(draw.sample_z(n, seed), classes, draw.codes(n))


def evaluate(checkpoint: str | os.PathLike, num: int = 10000, seed: int = 0, features: str = "auto",
             inception_weights=None, data_dir=None, log=print, classifier: str | None = None) -> dict:
    """`dcgan evaluate`'s results as a dict: fid, kid, inception_score, precision, recall (and label
    accuracy for labelled families), mode coverage (duplicate_share, clusters; with a classifier the
    class shares, classes_covered, class_entropy), the same for real data under real_*, and the protocol.

    features: "auto" (the MNIST classifier, or random features for other images) or "inception" (the
    FID Inception network; its weights from `dcgan download inception` or inception_weights).
    classifier: "mnist" measures any unconditional 1-channel run with the MNIST classifier (`--classifier`).
    """
    from dcgan_cli.eval.evaluate import evaluate as evaluate_run

    return evaluate_run(checkpoint, num, data_dir, seed, log=log, features=features, inception_weights=inception_weights,
                        classifier=classifier)
