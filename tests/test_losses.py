"""Each objective of dcgan_cli/train/losses.py against values computed by hand from its paper's formula."""

import math

import numpy as np
import pytest

REAL = np.array([[2.0], [-1.0], [0.0]], np.float32)  # D's logits (or scores) on three real images
FAKE = np.array([[0.5], [-3.0], [1.0]], np.float32)


def softplus(x):
    return math.log1p(math.exp(x))


def values(*tensors):
    return [np.asarray(t, np.float64) for t in tensors]


def check(got, expected):
    np.testing.assert_allclose(got, np.asarray(expected, np.float64), rtol=1e-6, atol=1e-7)


def test_non_saturating_is_cross_entropy_and_g_minimises_minus_log_d():
    from dcgan_cli.train.losses import LOSSES

    loss = LOSSES["non_saturating"]
    on_real, on_fake = values(*loss.discriminator(REAL, FAKE))
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
    check(on_real, [softplus(-2.0), softplus(1.0), math.log(2.0)])
    check(on_fake, [softplus(0.5), softplus(-3.0), softplus(1.0)])
    check(values(loss.generator(FAKE))[0], [-math.log(1 / (1 + math.exp(-f))) for f in (0.5, -3.0, 1.0)])


def test_minimax_shares_d_and_g_minimises_log_one_minus_d():
    from dcgan_cli.train.losses import LOSSES

    loss = LOSSES["minimax"]
    check(values(*loss.discriminator(REAL, FAKE)), values(*LOSSES["non_saturating"].discriminator(REAL, FAKE)))
    check(values(loss.generator(FAKE))[0], [math.log(1 - 1 / (1 + math.exp(-f))) for f in (0.5, -3.0, 1.0)])


def test_least_squares_is_the_zero_one_coding():
    from dcgan_cli.train.losses import LOSSES

    loss = LOSSES["least_squares"]
    on_real, on_fake = values(*loss.discriminator(REAL, FAKE))
    check(on_real, [0.5 * (2 - 1) ** 2, 0.5 * (-1 - 1) ** 2, 0.5])
    check(on_fake, [0.5 * 0.25, 0.5 * 9.0, 0.5])
    check(values(loss.generator(FAKE))[0], [0.5 * (0.5 - 1) ** 2, 0.5 * 16.0, 0.0])


def test_hinge():
    from dcgan_cli.train.losses import LOSSES

    loss = LOSSES["hinge"]
    on_real, on_fake = values(*loss.discriminator(REAL, FAKE))
    check(on_real, [0.0, 2.0, 1.0])  # relu(1 - r)
    check(on_fake, [1.5, 0.0, 2.0])  # relu(1 + f)
    check(values(loss.generator(FAKE))[0], [-0.5, 3.0, -1.0])


def test_losses_take_half_precision_logits_and_return_float32():
    import tensorflow as tf

    from dcgan_cli.train.losses import LOSSES

    for loss in LOSSES.values():
        on_real, on_fake = loss.discriminator(tf.constant(REAL, tf.float16), tf.constant(FAKE, tf.float16))
        assert on_real.dtype == on_fake.dtype == loss.generator(tf.constant(FAKE, tf.float16)).dtype == tf.float32
        assert on_real.shape == on_fake.shape == (3,), loss.name


def test_unknown_loss_names_the_choices():
    from dcgan_cli.train.losses import get_loss

    with pytest.raises(ValueError, match="non_saturating"):
        get_loss("nope")


def test_wasserstein_critic_minimises_fake_minus_real_and_g_raises_fake():
    from dcgan_cli.train.losses import CRITIC, LOSSES

    loss = LOSSES["wasserstein"]
    on_real, on_fake = values(*loss.discriminator(REAL, FAKE))
    check(on_real, [-2.0, 1.0, 0.0])
    check(on_fake, [0.5, -3.0, 1.0])
    # The critic's loss, averaged, is minus the Wasserstein estimate E[D(x)] - E[D(G(z))].
    assert np.isclose(on_real.mean() + on_fake.mean(), -(REAL.mean() - FAKE.mean()))
    check(values(loss.generator(FAKE))[0], [-0.5, 3.0, -1.0])
    assert loss.output == CRITIC
