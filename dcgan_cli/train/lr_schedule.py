"""The learning-rate schedule: carpedm20's constant rate, then a linear fall to zero at the end.

A GAN trained at a constant rate does not settle: G and D keep moving around the equilibrium, and
the sample quality of the last checkpoint is a draw from that wandering. Annealing the rate to
zero over the last part of training lets both networks settle (benchmarks/README.md, "Sample
quality": the FIDs before and after). The schedule is a pure function of the step, so a resumed
run follows it exactly.
"""

from __future__ import annotations

import tensorflow as tf


def learning_rate_at(step, base_lr: float, decay_fraction: float, schedule_steps):
    """base_lr until the last `decay_fraction` of `schedule_steps`, then linearly down to 0 at its end.

    decay_fraction 0, or schedule_steps 0 (not known, e.g. `dcgan bench train`), keeps it constant.
    """
    if decay_fraction <= 0:
        return tf.constant(base_lr, tf.float32)
    total = tf.cast(schedule_steps, tf.float32)
    decay_steps = decay_fraction * total
    remaining = tf.maximum(total - tf.cast(step, tf.float32), 0.0)
    fraction_left = tf.where(decay_steps > 0, tf.minimum(1.0, remaining / tf.maximum(decay_steps, 1.0)), 1.0)
    return base_lr * fraction_left
