"""Model families: the registry the CLI reads, the MLP family as the seam's proof, and the family errors."""

import json
import subprocess
import sys

import click
import numpy as np
import pytest

from conftest import run_cli, weight_change
from dcgan_cli.models import FAMILIES
from test_cli_errors import assert_one_line_error


def test_the_cli_reads_its_choices_from_the_registries_without_starting_tensorflow():
    code = ("import sys, dcgan_cli.cli; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

    from dcgan_cli.bench import PRESETS
    from dcgan_cli.cli import cli
    from dcgan_cli.datasets import DATASETS
    from dcgan_cli.kernels import KERNELS
    from dcgan_cli.train.distribute import STRATEGIES
    from dcgan_cli.train.losses import LOSSES
    from dcgan_cli.train.precision import PRECISIONS

    def choices(*path, option):
        command = cli
        for name in path:
            command = command.commands[name]
        (param,) = [p for p in command.params if p.name == option]
        assert isinstance(param.type, click.Choice)
        return list(param.type.choices)

    assert choices("train", "mnist", option="family") == list(FAMILIES)
    assert choices("train", "lsun", option="family") == [n for n, f in FAMILIES.items() if not f.uses_labels]
    assert choices("train", "folder", option="loss") == list(LOSSES)
    assert choices("train", "mnist", option="precision") == list(PRECISIONS)
    assert choices("train", "mnist", option="strategy") == list(STRATEGIES)
    assert choices("train", "mnist", option="kernels") == list(KERNELS)
    assert choices("bench", "data", option="dataset") == list(DATASETS)
    assert choices("bench", "train", option="models") == list(PRESETS)
    assert {"conditional-28", "dcgan-28", "dcgan-64", "mlp-28"} <= set(PRESETS)


def test_mlp_builders_are_the_tutorials_shapes_and_initialisation():
    G, D = FAMILIES["mlp"](28, 1).build()
    assert [(l.name, l.kernel.shape) for l in G.layers if hasattr(l, "kernel")] == \
        [("g_h0_lin", (100, 400)), ("g_h1_lin", (400, 784))]
    assert [(l.name, l.kernel.shape) for l in D.layers if hasattr(l, "kernel")] == \
        [("d_h0_lin", (784, 400)), ("d_h1_lin", (400, 1))]
    assert G.output.shape[1:] == (28, 28, 1) and D.output.shape[1:] == (1,)
    # N(0, 1/fan_in): 1/fan_in is the variance.
    for layer, fan_in in ((G.get_layer("g_h0_lin"), 100), (D.get_layer("d_h0_lin"), 784)):
        kernel = layer.kernel.numpy()
        assert abs(kernel.std() - np.sqrt(1 / fan_in)) < 0.05 * np.sqrt(1 / fan_in), layer.name
        assert not layer.bias.numpy().any()
    images = G(np.random.default_rng(0).uniform(-1, 1, (5, 100)).astype("float32"))
    assert np.abs(images).max() <= 1 and D(images).shape == (5, 1)
    deep, _ = FAMILIES["mlp"](32, 3, width=16, depth=3).build()
    assert [l.kernel.shape for l in deep.layers if hasattr(l, "kernel")] == [(100, 16), (16, 16), (16, 16), (16, 3072)]


@pytest.mark.parametrize("family, num_classes", [("conditional", 10), ("dcgan", 0), ("mlp", 0)])
def test_d_returns_its_logits_and_asked_for_features_from_one_pass(family, num_classes):
    import tensorflow as tf

    model = FAMILIES[family](28, 1, num_classes=num_classes, width=16 if family == "dcgan" else None)
    _, D = model.build()
    images = tf.random.uniform((4, 28, 28, 1), -1, 1)
    labels = tf.one_hot([0, 1, 2, 3], num_classes) if num_classes else None
    names = [activation for _, activation in model.hidden_layers()]
    out = model.discriminate(D, images, labels, training=True, features=names)
    assert out.logits.shape == (4, 1) and list(out.features) == names and out.aux == {}
    assert all(value.shape[0] == 4 for value in out.features.values())
    plain = model.discriminate(D, images, labels, training=False)
    np.testing.assert_allclose(np.asarray(model.discriminate(D, images, labels, features=names[:1]).logits),
                               np.asarray(plain.logits), rtol=1e-5, atol=1e-6)


def test_mlp_trains_50_steps_on_mnist(mnist_dir, tmp_path, capsys):
    from dcgan_cli.viz.plots import read_scalars

    run = tmp_path / "mlp"
    code, _, err = run_cli(["train", "mnist", "--family", "mlp", "--data-dir", mnist_dir, "--out", run,
                            "--max-steps", 50, "--log-every", 10, "--checkpoint-every", 10, "--sample-every", 50], capsys)
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert (config["family"], config["width"], config["depth"], config["num_classes"]) == ("mlp", 400, 1, 0)
    assert (run / "ckpt" / "ckpt-50.index").exists() and (run / "samples" / "step_000050.png").exists()
    scalars = read_scalars(run / "logs")
    steps, d_loss = scalars["d_loss"]
    assert list(steps) == [10, 20, 30, 40, 50] and np.all(np.isfinite(d_loss))
    assert min(weight_change(run, 30, 50).values()) > 1e-3  # the players learned (3 checkpoints kept)
    code, _, err = run_cli(["sample", "--checkpoint", run, "--num", 8, "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (8, 28, 28, 1) and len({i.tobytes() for i in images}) == 8
    code, _, err = run_cli(["filters", "--checkpoint", run, "--out", tmp_path / "f.png"], capsys)  # units as images
    assert code == 0 and (tmp_path / "f.png").exists(), err


@pytest.mark.parametrize("args, needle", [
    (["train", "mnist", "--family", "conditional", "--width", "32"], "--width"),
    (["train", "mnist", "--depth", "2"], "--depth"),
    (["train", "mnist", "--conditional", "--family", "mlp"], "--conditional"),
    (["train", "mnist", "--family", "mlp", "--depth", "0"], "--depth"),
    (["train", "lsun", "--family", "conditional"], "conditional"),
    (["train", "mnist", "--conditional", "--start-size", "4"], "--start-size does not apply to the conditional family"),
    (["train", "folder", "--family", "mlp", "--start-size", "auto"], "--start-size does not apply to the mlp family"),
    (["train", "mnist", "--start-size", "5"], "--start-size 5 cannot be reached by halving 28; use one of 14, 7, 4, 2"),
    (["train", "folder", "--image-size", "32", "--start-size", "1"], "use one of 16, 8, 4, 2"),
    (["train", "mnist", "--start-size", "big"], "--start-size must be auto, carpedm20 or a size in pixels, got 'big'"),
])
def test_family_mistakes_are_one_line(args, needle, tmp_path, capsys):
    code, _, err = run_cli([*args, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "run").exists()


def test_default_run_directories():
    from dcgan_cli.run_dir import default_run_dir

    assert [str(default_run_dir("mnist", f)) for f in ("conditional", "dcgan", "mlp")] == \
        ["checkpoints/mnist-conditional", "checkpoints/mnist", "checkpoints/mnist-mlp"]
