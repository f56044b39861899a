"""The train step: one `tf.function` that updates D (the critic), then G `g_steps` times.

As carpedm20: D sees a real batch and a fake batch (separate BatchNorm passes), then G is updated
twice with the same z so that d_loss does not go to zero. The step is written once for the
replica: the strategy, precision (through the optimizers' loss scaling), the objective and the
model family come in as arguments, and every loss term is averaged over the *global* batch, so one
device or many run the same code. The family (models/family.py) says what G takes, what D returns
and which per-example terms make each player's loss; nothing here knows about labels.

D's updates: `critic_steps` updates (the Wasserstein papers' 5), each on its own real batch and
fresh z, and each of those repeated `d_steps` times on the same batch and z (carpedm20's option).
With critic_steps N > 1 a step's batch holds N real batches (shape (batch, N, ...): each replica
takes its rows of all N, so every update is split across replicas as a single batch would be) and
G draws fresh z too. A step is one round of G's updates: --max-steps counts them, and an epoch is
still one pass over the data (N batches per step). After each D update, --clip clips D's weights.

Salimans et al.'s stabilisers: --label-smoothing comes in as the objective (losses.with_label_smoothing),
minibatch discrimination as a layer of D; feature matching (--g-objective) and historical averaging
(--historical-averaging) are terms of the whole batch or of the weights (train/stabilisers.py) that each
replica adds to its player's loss as its share. The real images' feature mean that G matches is taken
once per step, from D on the step's (last) real batch.

z is a pure function of (seed, stream): no RNG state beyond the step counter, so a resumed run draws
exactly the z an uninterrupted one would have. Step s draws from stream s (D and G alike), or with
N critic updates from streams s(N+1) + k (D's k-th update) and s(N+1) + N (G's).
"""

from __future__ import annotations

import functools
import operator

import tensorflow as tf

from dcgan_cli.train.losses import CRITIC, PROBABILITY, GANLoss
from dcgan_cli.train.lr_schedule import learning_rate_at
from dcgan_cli.train.penalties import Penalty, penalty_terms
from dcgan_cli.train.stabilisers import (ADVERSARIAL, FEATURE_MATCHING, FEATURE_MATCHING_TERM, HISTORICAL_TERMS,
                                         HistoricalAverage, feature_matching, global_mean, replica_share)

PENALTY_TERM = "d_penalty"
G_ADVERSARIAL_TERM = "g_loss_adv"  # G's adversarial term, when it is not G's only one


def generator_terms(family, g_objective: str = ADVERSARIAL, historical: bool = False) -> dict[str, str | None]:
    """G's loss terms as the step names them: {name: the family's term it is, or None for the step's own}.
    --g-objective feature_matching drops the family's adversarial term, and beside other terms the
    family's "g_loss" is called g_loss_adv, so that g_loss is always G's total."""
    terms = {name: name for name in family.g_terms if not (g_objective == FEATURE_MATCHING and name == family.g_adversarial)}
    whole = [*([FEATURE_MATCHING_TERM] if g_objective != ADVERSARIAL else []), *([HISTORICAL_TERMS["g"]] if historical else [])]
    if whole and "g_loss" in terms:
        terms = {(G_ADVERSARIAL_TERM if name == "g_loss" else name): term for name, term in terms.items()}
    return {**terms, **dict.fromkeys(whole)}


def metric_names(family, loss: GANLoss, penalty: Penalty | None = None, g_objective: str = ADVERSARIAL,
                 historical: bool = False) -> tuple[str, ...]:
    """What the step sums for the host: each loss term, both players' totals (a player's only term
    may be named as its total), and what D says of real and fake images in the objective's terms:
    the mean sigmoid (d_real, d_fake) for cross-entropy losses, else the mean raw scores (score_real,
    score_fake), for critics also the Wasserstein estimate; with a penalty, the mean gradient norm."""
    outputs = ["d_real", "d_fake"] if loss.output == PROBABILITY else ["score_real", "score_fake"]
    if loss.output == CRITIC:
        outputs.append("wasserstein")
    d_terms = [*family.d_terms, *([PENALTY_TERM] if penalty else []), *([HISTORICAL_TERMS["d"]] if historical else [])]
    g_terms = generator_terms(family, g_objective, historical)
    extra = ["grad_norm"] if penalty else []
    return tuple(dict.fromkeys([*d_terms, "d_loss", *g_terms, "g_loss", *outputs, *extra]))


def z_stream(step, update: int, critic_steps: int):
    """The z stream of D's `update`-th update of `step` (update == critic_steps: G's updates)."""
    if critic_steps == 1:
        return step
    return step * (critic_steps + 1) + update


class TrainStep:
    """Holds the models, optimizers and running metric sums; `__call__(batch)` trains one step.

    Call under the strategy's scope so that the metric variables are created there.
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, loss: GANLoss, family, *, step,
                 seed, global_batch_size, d_steps=1, g_steps=2, strategy=None, jit=False, weight_average=None,
                 learning_rates=None, lr_decay=0.0, critic_steps=1, penalty: Penalty | None = None, gp_weight=10.0,
                 clip: float | None = None, g_objective: str = ADVERSARIAL, historical_averaging: float = 0.0):
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.loss, self.family = loss, family
        self.step = step  # int64 tf.Variable, saved in checkpoints
        self.seed = seed
        self.global_batch_size = global_batch_size
        self.d_steps, self.g_steps, self.critic_steps = d_steps, g_steps, critic_steps
        self.penalty, self.gp_weight, self.clip = penalty, gp_weight, clip
        self.strategy = strategy or tf.distribute.get_strategy()
        # Feature matching's f: D's last hidden layer (the activation after it), read through the family.
        self.matched = family.hidden_layers()[-1][1] if g_objective != ADVERSARIAL else None
        self.g_terms = generator_terms(family, g_objective, bool(historical_averaging))
        # What G's updates train: G, and any part of D the family trains with it (InfoGAN's Q with --q-with-g).
        self.g_variables = generator.trainable_variables + family.trained_with_g(discriminator)
        # Each player's historical average (None without --historical-averaging); the trainer checkpoints them.
        self.d_history = self.g_history = None
        if historical_averaging:
            self.d_history = HistoricalAverage(discriminator.trainable_variables, historical_averaging, "d_history")
            self.g_history = HistoricalAverage(generator.trainable_variables, historical_averaging, "g_history")
        self.weight_average = weight_average  # dcgan_cli.train.ema.WeightAverage, or None
        # With lr_decay, both rates (G's, D's) follow lr_schedule.learning_rate_at over `schedule_steps`,
        # which the trainer sets once it knows the dataset's size (epochs x steps per epoch).
        self.learning_rates, self.lr_decay = learning_rates, lr_decay
        self.schedule_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="schedule_steps")
        # Sums since the last read, so the host reads metrics every log interval, not every step.
        self.sums = {name: tf.Variable(0.0, trainable=False, name=f"sum_{name}")
                     for name in metric_names(family, loss, penalty, g_objective, bool(historical_averaging))}
        self.count = tf.Variable(0.0, trainable=False, name="metric_count")
        replica_fn = tf.function(self._replica_step, jit_compile=True) if jit else self._replica_step
        self._replica_fn = replica_fn
        self._step_fn = tf.function(self._step)

    def _average(self, per_example):
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _averages(self, terms: dict, whole: dict | None = None) -> tuple[dict, tf.Tensor]:
        """Each per-example term averaged over the global batch, each whole-batch term's replica share,
        and their sum (in the terms' order)."""
        means = {name: self._average(value) for name, value in terms.items()}
        means.update({name: replica_share(value) for name, value in (whole or {}).items()})
        return means, functools.reduce(operator.add, means.values())

    def _update(self, optimizer, tape, loss, variables, history=None):
        # The loss scaling (mixed_float16) must be recorded on the tape, or no gradient flows.
        with tape:
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
        if history is not None:  # the weights this update starts from join the mean of the past ones
            history.fold()
        optimizer.apply(grads, variables)

    def _clip_weights(self, variables):
        """WGAN's weight clipping, every replica's copy alike (an update of mirrored variables is a merge)."""
        clip = self.clip

        def clip_all(strategy):
            for variable in variables:  # Keras variables wrap the tf.Variable (a mirrored one) that updates take
                strategy.extended.update(variable.value, lambda v: v.assign(tf.clip_by_value(v, -clip, clip)),
                                         group=False)

        tf.distribute.get_replica_context().merge_call(clip_all)

    def _discriminator_update(self, images, labels, step, update):
        """D's update(s) on one real batch and fresh z: its loss terms and what D said of real and fake."""
        G, D, family = self.generator, self.discriminator, self.family
        stream = z_stream(step, update, self.critic_steps)
        latents = family.training_latents(self.seed, stream, self.global_batch_size, tf.shape(images)[0], labels)
        for _ in range(self.d_steps):
            with tf.GradientTape() as tape:
                fake = G(family.generator_inputs(latents), training=True)
                real_out = family.discriminate(D, images, labels, training=True)
                fake_out = family.discriminate(D, fake, latents.labels, training=True)
                terms = family.discriminator_loss(self.loss, real_out, fake_out, labels, latents)
                norms = None
                if self.penalty is not None:
                    terms[PENALTY_TERM], norms = penalty_terms(
                        self.penalty, self.gp_weight, family, D, images, fake, labels, seed=self.seed, stream=stream,
                        global_batch=self.global_batch_size)
                whole = {HISTORICAL_TERMS["d"]: self.d_history.penalty()} if self.d_history else {}
                d_terms, d_loss = self._averages(terms, whole)
            self._update(self.d_optimizer, tape, d_loss, D.trainable_variables, self.d_history)
            if self.clip:
                self._clip_weights(D.trainable_variables)
        return d_terms, d_loss, self._outputs(real_out.logits, fake_out.logits, norms)

    def _outputs(self, real_logits, fake_logits, norms) -> dict:
        real, fake = tf.reshape(real_logits, [-1]), tf.reshape(fake_logits, [-1])
        if self.loss.output == PROBABILITY:
            out = {"d_real": self._average(tf.sigmoid(real)), "d_fake": self._average(tf.sigmoid(fake))}
        else:
            out = {"score_real": self._average(real), "score_fake": self._average(fake)}
            if self.loss.output == CRITIC:
                out["wasserstein"] = out["score_real"] - out["score_fake"]
        if norms is not None:
            out["grad_norm"] = self._average(norms)
        return out

    def _replica_step(self, images, labels, step):
        G, family = self.generator, self.family
        if self.critic_steps == 1:
            d_terms, d_loss, outputs = self._discriminator_update(images, labels, step, 0)
        else:  # images (local batch, N, ...): update k takes column k
            for k in range(self.critic_steps):
                d_terms, d_loss, outputs = self._discriminator_update(images[:, k], labels[:, k], step, k)
            images, labels = images[:, -1], labels[:, -1]
        stream = z_stream(step, self.critic_steps, self.critic_steps)
        latents = family.training_latents(self.seed, stream, self.global_batch_size, tf.shape(images)[0], labels)

        features, real_mean = ((self.matched,) if self.matched else ()), None
        if self.matched:  # what G's features are to match: D's, on this step's real images
            real = family.discriminate(self.discriminator, images, labels, training=True, features=features)
            real_mean = global_mean(real.features[self.matched], self.global_batch_size)
        for _ in range(self.g_steps):
            with tf.GradientTape() as tape:
                fake = G(family.generator_inputs(latents), training=True)
                g_out = family.discriminate(self.discriminator, fake, latents.labels, training=True, features=features)
                g_terms, g_loss = self._averages(*self._generator_terms(g_out, latents, real_mean))
            self._update(self.g_optimizer, tape, g_loss, self.g_variables, self.g_history)

        # D's terms and outputs are those of its last update: what the loss of the D that G then faced was.
        return {**d_terms, "d_loss": d_loss, **g_terms, "g_loss": g_loss, **outputs}

    def _generator_terms(self, g_out, latents, real_mean) -> tuple[dict, dict]:
        """G's per-example terms and whole-batch terms, named as generator_terms names them."""
        family_terms = self.family.generator_loss(self.loss, g_out, latents)
        per_example = {name: family_terms[term] for name, term in self.g_terms.items() if term is not None}
        whole = {}
        if real_mean is not None:
            whole[FEATURE_MATCHING_TERM] = feature_matching(real_mean, g_out.features[self.matched], self.global_batch_size)
        if self.g_history is not None:
            whole[HISTORICAL_TERMS["g"]] = self.g_history.penalty()
        return per_example, whole

    def _step(self, batch):
        images, labels = batch
        if self.lr_decay:
            for optimizer, base_lr in zip((self.g_optimizer, self.d_optimizer), self.learning_rates):
                optimizer.learning_rate.assign(learning_rate_at(self.step, base_lr, self.lr_decay, self.schedule_steps))
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
