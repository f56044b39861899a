"""ACGAN: conditional G, D with a class head, the class cross-entropy in both players' losses."""

import numpy as np
import pytest

from conftest import run_cli, train_family_on_mnist
from dcgan_cli.models import FAMILIES


@pytest.mark.parametrize("size, channels, classes", [(28, 1, 10), (32, 3, 4), (64, 3, 3)])
def test_acgan_models_and_loss_terms(size, channels, classes):
    import tensorflow as tf

    from dcgan_cli.train.losses import LOSSES

    family = FAMILIES["acgan"](size, channels, num_classes=classes, width=None if size == 28 else 8)
    G, D = family.build()
    assert [tuple(i.shape[1:]) for i in G.inputs] == [(100,), (classes,)] and len(D.inputs) == 1  # D sees no label
    z = family.sample_z(6, seed=0)
    latents = family.latents(z, classes=np.arange(6) % classes)
    fake = G(family.generator_inputs(latents))
    real_labels = tf.one_hot(np.arange(6)[::-1] % classes, classes)
    real = family.discriminate(D, tf.random.uniform((6, size, size, channels), -1, 1), real_labels,
                               features=[family.hidden_layers()[-1][1]])
    fake_out = family.discriminate(D, fake, latents.labels)
    assert real.logits.shape == (6, 1) and real.aux["classes"].shape == (6, classes) and len(real.features) == 1
    d_terms = family.discriminator_loss(LOSSES["hinge"], real, fake_out, real_labels, latents)
    g_terms = family.generator_loss(LOSSES["hinge"], fake_out, latents)
    assert tuple(d_terms) == family.d_terms and tuple(g_terms) == family.g_terms
    # -log softmax(class logits)[c], by hand: real images against their labels, fakes against their classes.
    log_p = tf.nn.log_softmax(real.aux["classes"]).numpy()
    np.testing.assert_allclose(d_terms["d_loss_class_real"], -log_p[np.arange(6), np.arange(6)[::-1] % classes], rtol=1e-5)
    np.testing.assert_allclose(g_terms["g_loss_class"], d_terms["d_loss_class_fake"], rtol=1e-6)
    np.testing.assert_allclose(g_terms["g_loss_adv"], -np.ravel(fake_out.logits), rtol=1e-6)  # hinge's G term


def test_acgan_trains_50_steps_on_mnist_and_its_class_head_learns(mnist_dir, mnist, tmp_path, capsys):
    import keras

    from dcgan_cli.pixels import to_model_range
    from dcgan_cli.restore import load_run

    run = tmp_path / "acgan"
    config, scalars = train_family_on_mnist("acgan", mnist_dir, run, capsys)
    assert (config["family"], config["num_classes"], config["class_names"]) == ("acgan", 10, [str(d) for d in range(10)])
    for term in FAMILIES["acgan"].d_terms + FAMILIES["acgan"].g_terms:
        assert np.all(np.isfinite(scalars[term][1])), term
    real_class_loss = scalars["d_loss_class_real"][1]
    assert real_class_loss[-1] < 0.5 * real_class_loss[0], real_class_loss  # D learns the classes of real digits

    images = np.asarray(to_model_range(mnist.test_images[:1000]), np.float32)
    labels = mnist.test_labels[:1000]
    loaded = load_run(run, generator=False, discriminator=True)

    def accuracy(D):
        return float(np.mean(np.argmax(loaded.family.discriminate(D, images).aux["classes"], axis=1) == labels))

    keras.utils.set_random_seed(0)
    before, after = accuracy(loaded.family.build_discriminator()), accuracy(loaded.discriminator)
    # On held-out test digits: about chance before, well above it after (benchmarks/README.md, "Model families").
    # A fresh D's argmax can favour one class and so reach 0.2 (CI saw 0.205): the margin is what counts.
    assert before < 0.3 and after > max(0.35, before + 0.25), (before, after)
    code, _, err = run_cli(["sample", "--checkpoint", run, "--label", "7", "--num", 3, "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    assert list(np.load(tmp_path / "s.npz")["labels"]) == [7, 7, 7]
