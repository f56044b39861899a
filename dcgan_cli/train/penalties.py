"""Gradient penalties on D (`--gradient-penalty`): WGAN-GP, DRAGAN and R1; PENALTIES is their registry.

Each penalty is a per-example value of ||grad_x D(x)|| at points it chooses, like the objectives in
losses.py: the train step adds it to D's loss terms and averages it over the *global* batch. Its
randomness (interpolation weights, DRAGAN's noise) is drawn for the global batch from a counter-based
RNG and sliced per replica, as z is, and DRAGAN's std(x) is the global batch's, so a penalty has the
same value on one device or many. The gradient is taken with a tape nested inside D's update tape
(which differentiates through it: a second-order gradient) and reduced in float32, so mixed precision
changes only how D's layers compute. A per-example penalty needs a D whose examples do not interact:
no BatchNorm (Config.validate refuses `--d-norm batch` with a penalty).

This module is read by the CLI for --gradient-penalty's choices, so it imports TensorFlow only when
a penalty runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# The RNG keys' first element for a penalty's draws: the seed plus a multiple of 2**32 (seeds are below
# 2**32), so that they never coincide with z's keys (seed, stream) or with each other.
_INTERPOLATION, _NOISE = 1, 2
DRAGAN_NOISE = 0.5  # x_p = x + 0.5 std(x) U[0, 1] (Kodali et al. 2017)


@dataclass(frozen=True)
class Penalty:
    name: str
    # (real, fake, draw) -> the images at which D's gradient is taken; draw(what, shape) gives this
    # replica's part of a global-batch draw of U[0, 1] of per-example shape `shape`.
    points: Callable
    # per-example gradient norms (float32) -> per-example penalty, before --gp-weight
    value: Callable
    on: str  # where it is taken, for --help
    paper: str


def _interpolates(real, fake, draw):
    eps = draw(_INTERPOLATION, (1, 1, 1))
    return eps * real + (1.0 - eps) * fake


def _around_data(real, fake, draw):
    perturbed = real + DRAGAN_NOISE * global_std(real) * draw(_NOISE, real.shape[1:])
    alpha = draw(_INTERPOLATION, (1, 1, 1))
    return real + alpha * (perturbed - real)


def _real(real, fake, draw):
    return real


def _unit_norm(norms):
    import tensorflow as tf

    return tf.square(norms - 1.0)


def _half_squared_norm(norms):
    import tensorflow as tf

    return 0.5 * tf.square(norms)


PENALTIES = {
    "wgan-gp": Penalty("wgan-gp", _interpolates, _unit_norm, "(||grad|| - 1)^2 at random interpolates of real and fake",
                       "WGAN-GP, Gulrajani et al. 2017"),
    "dragan": Penalty("dragan", _around_data, _unit_norm, "(||grad|| - 1)^2 around the real data",
                      "DRAGAN, Kodali et al. 2017"),
    "r1": Penalty("r1", _real, _half_squared_norm, "||grad||^2 / 2 on the real data", "R1, Mescheder et al. 2018"),
}


def global_std(x):
    """The standard deviation of every element of the global batch x is this replica's part of."""
    import tensorflow as tf

    x = tf.cast(x, tf.float32)
    context = tf.distribute.get_replica_context()
    count = tf.cast(tf.size(x), tf.float32)
    total, squares, count = context.all_reduce(
        tf.distribute.ReduceOp.SUM, [tf.reduce_sum(x), tf.reduce_sum(tf.square(x)), count])
    mean = total / count
    return tf.sqrt(tf.maximum(squares / count - tf.square(mean), 0.0))


def global_uniform(seed, stream, what: int, global_batch: int, local_batch, shape):
    """This replica's rows of U[0, 1] draws for the global batch, keyed on (seed, stream, what)."""
    import tensorflow as tf

    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    key = tf.stack([tf.cast(seed, tf.int64) + what * 2**32, tf.cast(stream, tf.int64)])
    values = tf.random.stateless_uniform((global_batch, *shape), seed=key)
    return values[replica * local_batch:(replica + 1) * local_batch]


def gradient_norms(family, discriminator, images, labels):
    """||grad_x D(x)||_2 of each example, in float32; D takes `labels` too when the family conditions on them.

    Only the image is differentiated: the label is D's condition, not a point in the space the
    penalty smooths. Call inside D's update tape, which then differentiates through the norms.
    """
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = family.discriminate(discriminator, images, labels, training=True).logits
        total = tf.reduce_sum(tf.cast(logits, tf.float32))
    grads = tf.cast(tape.gradient(total, images), tf.float32)
    grads = tf.reshape(grads, [tf.shape(grads)[0], -1])
    # The tiny constant keeps sqrt's gradient finite where a gradient is exactly zero.
    return tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)


def penalty_terms(penalty: Penalty, weight: float, family, discriminator, real, fake, labels, *, seed, stream,
                  global_batch: int):
    """(per-example weighted penalty, per-example gradient norm) for this replica's part of a batch."""
    import tensorflow as tf

    local = tf.shape(real)[0]

    def draw(what, shape):
        return global_uniform(seed, stream, what, global_batch, local, shape)

    points = penalty.points(tf.cast(real, tf.float32), tf.cast(fake, tf.float32), draw)
    norms = gradient_norms(family, discriminator, points, labels)
    return weight * penalty.value(norms), norms
