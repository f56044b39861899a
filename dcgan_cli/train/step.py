"""The train step: one `tf.function` that updates D `d_steps` times, then G `g_steps` times.

As carpedm20: D sees a real batch and a fake batch (separate BatchNorm passes), then G is updated
twice with the same z so that d_loss does not go to zero. The step is written once for the
replica: the strategy, precision (through the optimizers' loss scaling) and loss come in as
arguments, and losses are averaged over the *global* batch, so one device or many run the same code.

z is a pure function of (seed, step): no RNG state beyond the step counter, and a resumed run draws
exactly the z an uninterrupted one would have.
"""

from __future__ import annotations

import tensorflow as tf

from dcgan_cli.train.losses import GANLoss
from dcgan_cli.train.lr_schedule import learning_rate_at

METRIC_NAMES = ("d_loss_real", "d_loss_fake", "d_loss", "g_loss", "d_real", "d_fake")


def sample_z(seed, step, batch_size, z_dim, z_dist):
    """z for one global batch, from a counter-based RNG keyed on (seed, step)."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    if z_dist == "uniform":
        return tf.random.stateless_uniform((batch_size, z_dim), seed=key, minval=-1.0, maxval=1.0)
    return tf.random.stateless_normal((batch_size, z_dim), seed=key)


def model_inputs(first, labels, conditional):
    return [first, labels] if conditional else first


class TrainStep:
    """Holds the models, optimizers and running metric sums; `__call__(batch)` trains one step.

    Call under the strategy's scope so that the metric variables are created there.
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, loss: GANLoss, *, step,
                 z_dim, z_dist, seed, global_batch_size, conditional, d_steps=1, g_steps=2,
                 strategy=None, jit=False, weight_average=None, lr=None, lr_decay=0.0):
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.loss = loss
        self.step = step  # int64 tf.Variable, saved in checkpoints
        self.z_dim, self.z_dist, self.seed = z_dim, z_dist, seed
        self.global_batch_size = global_batch_size
        self.conditional = conditional
        self.d_steps, self.g_steps = d_steps, g_steps
        self.strategy = strategy or tf.distribute.get_strategy()
        self.weight_average = weight_average  # dcgan_cli.train.ema.WeightAverage, or None
        # With lr_decay, both rates follow lr_schedule.learning_rate_at over `schedule_steps`, which
        # the trainer sets once it knows the dataset's size (epochs x steps per epoch).
        self.lr, self.lr_decay = lr, lr_decay
        self.schedule_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="schedule_steps")
        # Sums since the last read, so the host reads metrics every log interval, not every step.
        self.sums = {name: tf.Variable(0.0, trainable=False, name=f"sum_{name}") for name in METRIC_NAMES}
        self.count = tf.Variable(0.0, trainable=False, name="metric_count")
        replica_fn = tf.function(self._replica_step, jit_compile=True) if jit else self._replica_step
        self._replica_fn = replica_fn
        self._step_fn = tf.function(self._step)

    def _average(self, per_example):
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _update(self, optimizer, tape, loss, variables):
        # The loss scaling (mixed_float16) must be recorded on the tape, or no gradient flows.
        with tape:
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
        optimizer.apply(grads, variables)

    def _replica_step(self, images, labels, step):
        G, D = self.generator, self.discriminator
        # Each replica takes its own slice of the global z, so the update does not depend on how
        # many replicas share the batch.
        local = tf.shape(images)[0]
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        z = sample_z(self.seed, step, self.global_batch_size, self.z_dim, self.z_dist)
        z = z[replica * local:(replica + 1) * local]

        for _ in range(self.d_steps):
            with tf.GradientTape() as tape:
                fake = G(model_inputs(z, labels, self.conditional), training=True)
                real_logits = D(model_inputs(images, labels, self.conditional), training=True)
                fake_logits = D(model_inputs(fake, labels, self.conditional), training=True)
                loss_real, loss_fake = self.loss.discriminator(real_logits, fake_logits)
                d_loss_real, d_loss_fake = self._average(loss_real), self._average(loss_fake)
                d_loss = d_loss_real + d_loss_fake
            self._update(self.d_optimizer, tape, d_loss, D.trainable_variables)

        for _ in range(self.g_steps):
            with tf.GradientTape() as tape:
                fake = G(model_inputs(z, labels, self.conditional), training=True)
                g_logits = D(model_inputs(fake, labels, self.conditional), training=True)
                g_loss = self._average(self.loss.generator(g_logits))
            self._update(self.g_optimizer, tape, g_loss, G.trainable_variables)

        return {
            "d_loss_real": d_loss_real, "d_loss_fake": d_loss_fake, "d_loss": d_loss, "g_loss": g_loss,
            "d_real": self._average(tf.reshape(tf.sigmoid(real_logits), [-1])),
            "d_fake": self._average(tf.reshape(tf.sigmoid(fake_logits), [-1])),
        }

    def _step(self, batch):
        images, labels = batch
        if self.lr_decay:
            rate = learning_rate_at(self.step, self.lr, self.lr_decay, self.schedule_steps)
            self.g_optimizer.learning_rate.assign(rate)
            self.d_optimizer.learning_rate.assign(rate)
        per_replica = self.strategy.run(self._replica_fn, args=(images, labels, self.step.read_value()))
        metrics = {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}
        for name, value in metrics.items():
            self.sums[name].assign_add(value)
        self.count.assign_add(1.0)
        if self.weight_average is not None:  # once per step, after G's updates, on every replica alike
            self.weight_average.update(self.step)
        self.step.assign_add(1)

    def __call__(self, batch):
        self._step_fn(batch)

    def read_metrics(self) -> dict:
        """Mean of each metric since the last read (one host sync), then reset the sums."""
        count = float(self.count.numpy())
        means = {name: float(v.numpy()) / count for name, v in self.sums.items()} if count else {}
        for v in self.sums.values():
            v.assign(0.0)
        self.count.assign(0.0)
        return means
