"""Continue a finished run for a few more steps with both learning rates falling linearly to 0, and
measure the averaged and the raw G half-way and at the end (10,000 samples, `dcgan evaluate`'s metrics).
The decay is the trainer's own --lr-decay schedule, stretched so that these steps are its last.

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

from dcgan_cli.config import Config
from dcgan_cli.datasets import training_data
from dcgan_cli.eval.evaluate import MnistSpace, draw
from dcgan_cli.restore import load_run
from dcgan_cli.train.callbacks import Callback
from dcgan_cli.train.trainer import Trainer

KEYS = ("fid", "precision", "recall", "label_accuracy")


def report(space, family, generator, tag, num=10000):
    images, latents = draw(family, generator, num, seed=0, class_prior=space.class_prior)
    result = space.score(images, latents.classes)
    print(tag, json.dumps({k: round(result[k], 4) for k in KEYS}), flush=True)


def recompute_bn_statistics(generator, family, prior, batches=200, batch_size=64):
    """Population BatchNorm statistics of these weights: the running mean of 200 batches' moments."""
    norms = [layer for layer in generator.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    rng = np.random.default_rng(1)
    for i in range(batches):
        for layer in norms:
            layer.momentum = i / (i + 1.0)
        z = tf.random.stateless_uniform((batch_size, family.z_dim), seed=[7, i], minval=-1, maxval=1)
        latents = family.latents(z, classes=rng.choice(len(prior), batch_size, p=prior))
        generator(family.generator_inputs(latents), training=True)
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

    start = load_run(args.run, generator=False).step
    end = start + args.steps
    # The whole annealing run decays: the schedule ends at `end` and its last `steps` steps decay.
    config = dataclasses.replace(Config.load(args.run), precision="float32", lr_decay=args.steps / end)
    args.out.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(config, args.out)
    print("restored", trainer.restore(Path(args.run)), flush=True)
    trainer.set_schedule(end)
    family = trainer.family
    space = MnistSpace(args.data_dir)
    report(space, family, trainer.sampler, "start, averaged G")
    report(space, family, trainer.generator, "start, raw G")
    if args.bn_variants:
        recompute_bn_statistics(trainer.sampler, family, space.class_prior)
        report(space, family, trainer.sampler, "start, averaged G, recomputed BatchNorm statistics")
        trainer.restore(Path(args.run))

    class Report(Callback):
        def on_step_end(self, trainer, step):
            if step - start in (args.steps // 2, args.steps):
                report(space, family, trainer.sampler, f"after {step - start} annealing steps, averaged G")
                report(space, family, trainer.generator, f"after {step - start} annealing steps, raw G")

    trainer.fit(trainer.batches(training_data(config, start).dataset), end, [Report()])
    print("saved", trainer.save_checkpoint())


if __name__ == "__main__":
    main()
