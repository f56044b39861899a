"""An exponential moving average of G's weights, for sampling and evaluation (`--ema DECAY`).

A GAN's generator oscillates around the equilibrium from step to step; the average of its recent
weights draws better and steadier samples than any one of them (Yazici et al. 2019; Karras et al.
2018, ProGAN). Training is unchanged: only the copy that samples, evaluates and is kept in
checkpoints as `generator_ema` is averaged.

Early on, the decay is min(decay, (1 + t) / (10 + t)), as tf.train.ExponentialMovingAverage does
with num_updates, so the random initial weights are forgotten within the first few hundred steps.
"""

from __future__ import annotations

import tensorflow as tf


class WeightAverage:
    def __init__(self, source, average, decay: float, fuse: bool = True):
        """fuse: compile the update with XLA, one pass over each weight (see _move). Only for
        variables of one device: under a multi-replica strategy the update takes TensorFlow's path."""
        self.decay = decay
        self.pairs = list(zip(average.weights, source.weights))
        for avg, weight in self.pairs:
            if avg.shape != weight.shape:
                raise ValueError(f"{avg.path} {avg.shape} does not match {weight.path} {weight.shape}")
            avg.assign(weight)  # BatchNorm's moving statistics included: the copy samples like G
        # TensorFlow runs avg - weight, the product and the subtraction as three passes over G's ~7M
        # weights; XLA fuses them into one (benchmarks/README.md, "Train step speed").
        self._move_fn = tf.function(self._move, jit_compile=True) if fuse else self._move

    def update(self, step) -> None:
        """Move the average towards the current weights; step counts the updates done so far."""
        t = tf.cast(step, tf.float32)
        decay = tf.minimum(tf.constant(self.decay, tf.float32), (1.0 + t) / (10.0 + t))
        self._move_fn(decay)

    def _move(self, decay):
        for avg, weight in self.pairs:
            avg.assign_sub((1.0 - decay) * (avg - tf.cast(weight, avg.dtype)))
