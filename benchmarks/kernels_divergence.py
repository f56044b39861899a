"""How far --kernels fast and --kernels keras drift apart in training from one start, against a broken kernel.

    python benchmarks/kernels_divergence.py --lr 2e-5 --batch-size 16 [--broken]

Trains the conditional MNIST model 50 steps with each from the same weights (drawn from a seeded
numpy generator, as tests/test_kernels.py does) and prints the relative difference of each loss's
mean over the steps, and of the losses at steps 1, 10, 25 and 50. --broken shifts the fast
transposed convolution's filter gradient by one kernel row: the size of difference a wrong kernel makes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

LOSSES = ("d_loss", "g_loss", "d_loss_real", "d_loss_fake")
SHOWN_STEPS = (1, 10, 25, 50)


def run(kernels: str, args, start):
    from dcgan_cli.config import Config
    from dcgan_cli.datasets import training_data
    from dcgan_cli.train.trainer import Trainer

    config = Config(data_dir=args.data_dir, batch_size=args.batch_size, limit=4000, ema=0, kernels=kernels,
                    precision="float32", jit=False, seed=3, lr=args.lr)
    trainer = Trainer(config)
    if start is None:
        rng = np.random.default_rng(args.seed)
        start = [[rng.normal(0, 0.02, w.shape).astype(w.dtype) if w.ndim > 1 else w for w in model.get_weights()]
                 for model in (trainer.generator, trainer.discriminator)]
    trainer.generator.set_weights(start[0])
    trainer.discriminator.set_weights(start[1])
    batches = trainer.batches(training_data(config).dataset)
    per_step = []
    for step in range(1, args.steps + 1):
        trainer.fit(batches, step)
        per_step.append(trainer.train_step.read_metrics())
    return per_step, start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=3, help="seed of the starting weights")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--broken", action="store_true")
    parser.add_argument("--data-dir", default=None, help="MNIST folder [default: $DCGAN_DATA_DIR/mnist]")
    args = parser.parse_args()
    args.data_dir = args.data_dir or str(Path(os.environ["DCGAN_DATA_DIR"]) / "mnist")

    reference, start = run("keras", args, None)
    if args.broken:
        import tensorflow as tf

        from dcgan_cli.kernels import fast

        correct = fast._deconv_filter_gradient
        fast._deconv_filter_gradient = lambda *a: tf.roll(correct(*a), shift=1, axis=0)
    candidate, _ = run("fast", args, start)
    for name in LOSSES:
        a = np.array([m[name] for m in candidate])
        b = np.array([m[name] for m in reference])
        at = ", ".join(f"{abs(a[s - 1] - b[s - 1]) / abs(b[s - 1]):.1e}" for s in SHOWN_STEPS if s <= args.steps)
        print(f"{name:12s} mean over {args.steps} steps: {abs(a.mean() - b.mean()) / abs(b.mean()):.1e}; "
              f"at steps {', '.join(str(s) for s in SHOWN_STEPS if s <= args.steps)}: {at}")


if __name__ == "__main__":
    main()
