"""InfoGAN: the paper's MNIST setting, codes drawn from (seed, step), Q's information terms in both losses."""

import numpy as np
import pytest

from conftest import run_cli, train_family_on_mnist
from dcgan_cli.models import FAMILIES
from test_cli_errors import assert_one_line_error


def kernels(model):
    return {layer.name: tuple(layer.kernel.shape) for layer in model.layers if hasattr(layer, "kernel")}


def test_the_papers_mnist_networks():
    family = FAMILIES["infogan"](28, 1, z_dim=62)
    G, D = family.build()
    assert kernels(G) == {"g_h0_lin": (74, 1024), "g_h1_lin": (1024, 6272), "g_h2": (4, 4, 64, 128),
                          "g_h3": (4, 4, 1, 64)}
    assert kernels(D) == {"d_h0_conv": (4, 4, 1, 64), "d_h1_conv": (4, 4, 64, 128), "d_h2_lin": (6272, 1024),
                          "d_h3_lin": (1024, 1), "q_h0_lin": (1024, 128), "q_categorical": (128, 10),
                          "q_continuous": (128, 2)}
    assert D.get_layer("d_h0_lrelu").negative_slope == pytest.approx(0.1)
    other = FAMILIES["infogan"](64, 3, z_dim=62, width=8)
    G, D = other.build()
    assert G.output.shape[1:] == (64, 64, 3) and [tuple(o.shape[1:]) for o in D.outputs] == [(1,), (10,), (2,)]


def test_codes_are_a_function_of_seed_and_step_and_the_terms_are_weighted():
    import tensorflow as tf

    from dcgan_cli.train.losses import LOSSES

    family = FAMILIES["infogan"](28, 1, z_dim=62, info_weight=2.0, info_weight_continuous=0.5)
    a = family.training_latents(0, 7, 1000, 1000, None)
    b = family.training_latents(0, 7, 1000, 1000, None)
    c = family.training_latents(0, 8, 1000, 1000, None)
    assert a.z.shape == (1000, 62) and a.codes.shape == (1000, 12)
    assert np.array_equal(a.codes, b.codes) and not np.array_equal(a.codes, c.codes)
    categories = np.argmax(a.codes[:, :10], axis=1)
    assert np.allclose(np.asarray(a.codes[:, :10]).sum(axis=1), 1) and np.bincount(categories, minlength=10).min() > 60
    continuous = np.asarray(a.codes[:, 10:])
    assert continuous.min() >= -1 and continuous.max() <= 1 and abs(continuous.mean()) < 0.1
    G, D = family.build()
    fake = family.discriminate(D, G(family.generator_inputs(a[:6])))
    terms = family.generator_loss(LOSSES["non_saturating"], fake, a[:6])
    log_q = tf.nn.log_softmax(fake.aux["categorical"]).numpy()
    np.testing.assert_allclose(terms["g_info_cat"], -2.0 * log_q[np.arange(6), categories[:6]], rtol=1e-5)
    squared = (np.asarray(a.codes[:6, 10:]) - np.asarray(fake.aux["continuous"])) ** 2
    np.testing.assert_allclose(terms["g_info_cont"], 0.5 * squared.mean(axis=1), rtol=1e-5)


def test_infogan_trains_50_steps_on_mnist_and_q_learns_the_categorical_code(mnist_dir, tmp_path, capsys):
    run = tmp_path / "infogan"
    config, scalars = train_family_on_mnist("infogan", mnist_dir, run, capsys)
    assert (config["family"], config["z_dim"], config["num_classes"]) == ("infogan", 62, 0)
    assert (config["info_weight"], config["info_weight_continuous"]) == (1.0, 0.1)
    for term in FAMILIES["infogan"].d_terms + FAMILIES["infogan"].g_terms:
        assert np.all(np.isfinite(scalars[term][1])), term
    categorical = scalars["d_info_cat"][1]
    assert categorical[0] > 1.8 and categorical[-1] < 0.7 * categorical[0], categorical  # from about ln 10
    code, _, err = run_cli(["sample", "--checkpoint", run, "--num", 6, "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (6, 28, 28, 1) and len({i.tobytes() for i in images}) == 6


@pytest.mark.parametrize("args, needle", [
    (["--info-weight", "2"], "--info-weight"),
    (["--family", "infogan", "--info-weight-continuous", "-1"], "--info-weight"),
    (["--family", "infogan", "--width", "32"], "--width"),
])
def test_infogan_mistakes_are_one_line(args, needle, tmp_path, capsys):
    code, _, err = run_cli(["train", "mnist", *args, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "run").exists()
