"""Continue a finished run for a few more steps with both learning rates falling linearly to 0, and
measure the averaged and the raw G half-way and at the end (10,000 samples, `dcgan evaluate`'s metrics).

This is the experiment behind `--lr-decay` (benchmarks/README.md, "Closing the FID gap"):

    python benchmarks/anneal_checkpoint.py RUN OUT_DIR --steps 1874

It writes OUT_DIR/ckpt (the annealed checkpoint) and never touches RUN. Post-hoc BatchNorm variants
of the starting checkpoint (recomputed statistics) are measured with --bn-variants.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from dcgan_cli.train import distribute
from dcgan_cli.config import Config
from dcgan_cli.datasets import training_data
from dcgan_cli.eval.evaluate import MnistSpace, draw
from dcgan_cli.train.lr_schedule import learning_rate_at
from dcgan_cli.train.trainer import Trainer

KEYS = ("fid", "precision", "recall", "label_accuracy")


def report(space, config, generator, tag, num=10000):
    images, labels = draw(generator, config, num, seed=0, class_prior=space.class_prior)
    result = space.score(images, labels)
    print(tag, json.dumps({k: round(result[k], 4) for k in KEYS}), flush=True)


def recompute_bn_statistics(generator, config, prior, batches=200, batch_size=64):
    """Population BatchNorm statistics of these weights: the running mean of 200 batches' moments."""
    norms = [layer for layer in generator.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    rng = np.random.default_rng(1)
    for i in range(batches):
        for layer in norms:
            layer.momentum = i / (i + 1.0)
        z = tf.random.stateless_uniform((batch_size, config.z_dim), seed=[7, i], minval=-1, maxval=1)
        y = tf.one_hot(rng.choice(len(prior), batch_size, p=prior), len(prior))
        generator([z, y], training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=1874)
    parser.add_argument("--data-dir", default=None, help="MNIST folder [default: $DCGAN_DATA_DIR/mnist]")
    parser.add_argument("--bn-variants", action="store_true")
    args = parser.parse_args()

    config = dataclasses.replace(Config.load(args.run), precision="float32", lr_decay=0.0)
    args.out.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(config, args.out)
    print("restored", trainer.restore(Path(args.run)), flush=True)
    space = MnistSpace(args.data_dir)
    report(space, config, trainer.sampler, "start, averaged G")
    report(space, config, trainer.generator, "start, raw G")
    if args.bn_variants:
        recompute_bn_statistics(trainer.sampler, config, space.class_prior)
        report(space, config, trainer.sampler, "start, averaged G, recomputed BatchNorm statistics")
        trainer.restore(Path(args.run))

    dataset, _ = training_data(config, int(trainer.step.numpy()))
    batches = iter(distribute.distribute_batches(trainer.strategy, dataset, config.batch_size))
    for i in range(args.steps):
        rate = learning_rate_at(i, config.lr, 1.0, args.steps)  # the whole annealing run decays
        trainer.g_optimizer.learning_rate.assign(rate)
        trainer.d_optimizer.learning_rate.assign(rate)
        trainer.train_step(next(batches))
        if (i + 1) in (args.steps // 2, args.steps):
            report(space, config, trainer.sampler, f"after {i + 1} annealing steps, averaged G")
            report(space, config, trainer.generator, f"after {i + 1} annealing steps, raw G")
    print("saved", trainer.manager.save(checkpoint_number=int(trainer.step.numpy())))


if __name__ == "__main__":
    main()
