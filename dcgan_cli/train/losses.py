"""GAN objectives as small swappable functions (StudioGAN / TF-GAN style); LOSSES is their registry.

Every loss returns *per-example* values; the train step averages them over the global batch, so the
same loss is correct on one device or many. Logits are float32 (D's last layer computes in float32).
The CLI reads LOSSES for --loss's choices, so this module imports TensorFlow only when a loss runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable


# What D's output means, and so what the progress line, TensorBoard and `dcgan plot` show of it:
PROBABILITY = "probability"  # a logit of P(real): mean sigmoid(D) on real and on fake images
SCORE = "score"  # an unbounded score with targets (least squares, hinge): the mean raw scores
CRITIC = "critic"  # a Wasserstein critic: the mean raw scores and their difference, the distance estimate


@dataclass(frozen=True)
class GANLoss:
    name: str
    # (real_logits, fake_logits) -> (per-example loss on real, per-example loss on fake)
    discriminator: Callable
    # fake_logits -> per-example generator loss
    generator: Callable
    output: str = PROBABILITY
    paper: str = ""
    # D's loss has a target for real images, which one-sided label smoothing (--label-smoothing) lowers;
    # its discriminator then takes real_target=.
    targets: bool = False


def _flat(logits):
    import tensorflow as tf

    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def _bce(logits, target):
    import tensorflow as tf

    logits = _flat(logits)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits)


def non_saturating_d(real_logits, fake_logits, real_target=1.0):
    return _bce(real_logits, real_target), _bce(fake_logits, 0.0)


def non_saturating_g(fake_logits):
    """-log D(G(z)): the paper's and carpedm20's generator loss."""
    return _bce(fake_logits, 1.0)


def minimax_g(fake_logits):
    """log(1 - D(G(z))): Goodfellow et al.'s original objective, which saturates early on."""
    return -_bce(fake_logits, 0.0)


def least_squares_d(real_logits, fake_logits, real_target=1.0):
    import tensorflow as tf

    return 0.5 * tf.square(_flat(real_logits) - real_target), 0.5 * tf.square(_flat(fake_logits))


def least_squares_g(fake_logits):
    import tensorflow as tf

    return 0.5 * tf.square(_flat(fake_logits) - 1.0)


def hinge_d(real_logits, fake_logits):
    import tensorflow as tf

    return tf.nn.relu(1.0 - _flat(real_logits)), tf.nn.relu(1.0 + _flat(fake_logits))


def raise_score_g(fake_logits):
    """-D(G(z)): G raises D's score of its images (the hinge GAN's and WGAN's generator loss)."""
    return -_flat(fake_logits)


def wasserstein_d(real_logits, fake_logits):
    """The critic minimises E[D(G(z))] - E[D(x)]: minus the Wasserstein-1 estimate, when D is 1-Lipschitz
    (which --clip or a --gradient-penalty must see to)."""
    return -_flat(real_logits), _flat(fake_logits)


LOSSES = {
    "non_saturating": GANLoss("non_saturating", non_saturating_d, non_saturating_g, PROBABILITY,
                              "Goodfellow et al. 2014, the DCGAN paper's and carpedm20's", targets=True),
    "minimax": GANLoss("minimax", non_saturating_d, minimax_g, PROBABILITY, "Goodfellow et al. 2014, as analysed",
                       targets=True),
    # LSGAN's D regresses its output onto targets (the paper's a-b-c coding, a = 0, b = 1 here), so one-sided
    # smoothing is a real target b = 0.9 there too; G's target c stays 1.
    "least_squares": GANLoss("least_squares", least_squares_d, least_squares_g, SCORE, "LSGAN, Mao et al. 2017",
                             targets=True),
    "hinge": GANLoss("hinge", hinge_d, raise_score_g, SCORE, "Lim & Ye 2017; Miyato et al. 2018"),
    "wasserstein": GANLoss("wasserstein", wasserstein_d, raise_score_g, CRITIC, "WGAN, Arjovsky et al. 2017"),
}


def with_label_smoothing(loss: GANLoss, real_target: float) -> GANLoss:
    """One-sided label smoothing (Salimans et al. 2016): D's target for real images is real_target (0.9)
    instead of 1, fakes' stays 0, G's is unchanged. It keeps D from growing over-confident on real data.
    real_target 1 is the loss itself."""
    import functools

    if real_target == 1.0:
        return loss
    if not loss.targets:
        raise ValueError(f"--loss {loss.name} has no target for real images to smooth")
    return replace(loss, discriminator=functools.partial(loss.discriminator, real_target=real_target))


def get_loss(name: str) -> GANLoss:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None
