"""GAN objectives as small swappable functions (StudioGAN / TF-GAN style); LOSSES is their registry.

Every loss returns *per-example* values; the train step averages them over the global batch, so the
same loss is correct on one device or many. Logits are float32 (D's last layer computes in float32).
The CLI reads LOSSES for --loss's choices, so this module imports TensorFlow only when a loss runs.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _flat(logits):
    import tensorflow as tf

    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def _bce(logits, target):
    import tensorflow as tf

    logits = _flat(logits)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits)


def non_saturating_d(real_logits, fake_logits):
    return _bce(real_logits, 1.0), _bce(fake_logits, 0.0)


def non_saturating_g(fake_logits):
    """-log D(G(z)): the paper's and carpedm20's generator loss."""
    return _bce(fake_logits, 1.0)


def minimax_g(fake_logits):
    """log(1 - D(G(z))): Goodfellow et al.'s original objective, which saturates early on."""
    return -_bce(fake_logits, 0.0)


def least_squares_d(real_logits, fake_logits):
    import tensorflow as tf

    return 0.5 * tf.square(_flat(real_logits) - 1.0), 0.5 * tf.square(_flat(fake_logits))


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
                              "Goodfellow et al. 2014, the DCGAN paper's and carpedm20's"),
    "minimax": GANLoss("minimax", non_saturating_d, minimax_g, PROBABILITY, "Goodfellow et al. 2014, as analysed"),
    "least_squares": GANLoss("least_squares", least_squares_d, least_squares_g, SCORE, "LSGAN, Mao et al. 2017"),
    "hinge": GANLoss("hinge", hinge_d, raise_score_g, SCORE, "Lim & Ye 2017; Miyato et al. 2018"),
    "wasserstein": GANLoss("wasserstein", wasserstein_d, raise_score_g, CRITIC, "WGAN, Arjovsky et al. 2017"),
}


def get_loss(name: str) -> GANLoss:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None
