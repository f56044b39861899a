"""The paper's pictures from a real short MNIST run: walks, sweeps, arithmetic, morphs, plots, movies, filters."""

import shutil

import numpy as np
import pytest

from conftest import run_cli
from test_cli_errors import assert_one_line_error


def train(out, mnist_dir, *extra):
    from dcgan_cli.cli import main

    try:
        main(["train", "mnist", *extra, "--data-dir", str(mnist_dir), "--out", str(out)])
    except SystemExit as exc:
        assert exc.code == 0, f"training exited with {exc.code}"
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory, mnist_dir):
    """60 steps of the conditional model: grids at 0, 20, 40, 60 and scalars every 10 steps."""
    return train(tmp_path_factory.mktemp("vis") / "cond", mnist_dir, "--conditional", "--max-steps", "60",
                 "--batch-size", "16", "--sample-every", "20", "--checkpoint-every", "20", "--log-every", "10")


@pytest.fixture(scope="module")
def unconditional_run(tmp_path_factory, mnist_dir):
    return train(tmp_path_factory.mktemp("vis") / "uncond", mnist_dir, "--max-steps", "1", "--batch-size", "8",
                 "--sample-every", "1", "--checkpoint-every", "1")


def sample(run, capsys, *args):
    code, out, err = run_cli(["sample", "--checkpoint", run, *args], capsys)
    assert code == 0, err
    return out


def gif_frames(path):
    from PIL import Image

    with Image.open(path) as gif:
        assert gif.format == "GIF"
        return gif.n_frames


def test_interpolation_endpoints_are_the_grid_images_of_the_same_z(run, tmp_path, capsys):
    sample(run, capsys, "--num", 8, "--label", 3, "--out", tmp_path / "g.npz")
    grid = np.load(tmp_path / "g.npz")
    sample(run, capsys, "--mode", "interpolate", "--num", 4, "--steps", 5, "--label", 3, "--out", tmp_path / "i.npz")
    walk = np.load(tmp_path / "i.npz")
    assert walk["images"].shape == (4, 5, 28, 28, 1)
    # Row i walks from grid tile 2i to grid tile 2i + 1.
    assert np.array_equal(walk["images"][:, 0], grid["images"][0::2])
    assert np.array_equal(walk["images"][:, -1], grid["images"][1::2])
    assert not np.array_equal(walk["images"][:, 2], walk["images"][:, 0])
    # Spherical: the middle of the walk keeps the ends' norm, unlike the straight line.
    norms = np.linalg.norm(walk["z"], axis=-1)
    assert np.allclose(norms[:, 2], (norms[:, 0] + norms[:, -1]) / 2, rtol=0.05)

    # Walks between tiles chosen by id, in straight lines.
    sample(run, capsys, "--mode", "interpolate", "--linear", "--from", tmp_path / "g.npz", "--a", "0,2", "--b", "5,7",
           "--steps", 3, "--out", tmp_path / "l.npz")
    line = np.load(tmp_path / "l.npz")
    assert np.array_equal(line["images"][:, 0], grid["images"][[0, 2]])
    assert np.array_equal(line["images"][:, -1], grid["images"][[5, 7]])
    assert np.allclose(line["z"][:, 1], (grid["z"][[0, 2]] + grid["z"][[5, 7]]) / 2, atol=1e-6)


def test_sweep_changes_only_the_swept_dimension(run, tmp_path, capsys):
    sample(run, capsys, "--num", 3, "--label", 3, "--out", tmp_path / "g.npz")
    grid = np.load(tmp_path / "g.npz")
    sample(run, capsys, "--mode", "sweep", "--dims", "4,40", "--num", 3, "--steps", 5, "--label", 3, "--out", tmp_path / "s.npz")
    sweep = np.load(tmp_path / "s.npz")
    z = sweep["z"]  # dims x rows x steps x z_dim
    assert z.shape == (2, 3, 5, 100) and sweep["dims"].tolist() == [4, 40]
    assert np.array_equal(sweep["base_z"], grid["z"])
    for i, d in enumerate([4, 40]):
        others = np.delete(z[i], d, axis=-1)
        assert np.array_equal(others, np.broadcast_to(np.delete(grid["z"], d, axis=-1)[:, None], others.shape))
        assert np.allclose(z[i, :, :, d], np.linspace(-1, 1, 5)[None])
    # The unswept starting points are the grid's own images; sweeping moves them.
    assert np.array_equal(sweep["base_images"], grid["images"])
    assert not np.array_equal(sweep["images"][0, :, 0], sweep["images"][0, :, -1])

    out = sample(run, capsys, "--mode", "sweep", "--dims", "4,40", "--num", 3, "--steps", 5, "--out", tmp_path / "s.gif")
    # The merged GIF and one per dimension; each plays the 5 values there and back.
    assert [gif_frames(tmp_path / name) for name in ("s.gif", "s_dim004.gif", "s_dim040.gif")] == [8, 8, 8]
    assert "s_dim040.gif" in out


def test_arithmetic_a_minus_a_plus_c_reproduces_c(run, tmp_path, capsys):
    import tensorflow as tf

    out = sample(run, capsys, "--num", 9, "--out", tmp_path / "g.png")
    assert "--mode arithmetic --from" in out and (tmp_path / "g.z.npz").exists()
    png = tf.io.decode_png((tmp_path / "g.png").read_bytes()).numpy()[::2, ::2]  # undo the 2x upscale

    def same_image(a, b):
        # The same z through G in batches of other sizes: oneDNN may split its sums differently by
        # batch size, so a pixel on a rounding boundary can land one level apart in uint8.
        return a.shape == b.shape and int(np.max(np.abs(a.astype(int) - b.astype(int)))) <= 1

    def tile(i):  # 3 x 3 grid of 28-pixel tiles with 1-pixel gaps
        r, c = divmod(i, 3)
        return png[r * 29:r * 29 + 28, c * 29:c * 29 + 28]

    sample(run, capsys, "--mode", "arithmetic", "--from", tmp_path / "g.png", "--a", "0,1,2", "--b", "0,1,2", "--c", "5",
           "--out", tmp_path / "a.npz")
    result = np.load(tmp_path / "a.npz")
    assert same_image(result["images"][0], tile(5))
    assert result["labels"][0] == 5  # the result keeps c's class

    sample(run, capsys, "--mode", "arithmetic", "--from", tmp_path / "g.png", "--a", "1", "--b", "1", "--c", "6,7,8",
           "--out", tmp_path / "b.npz")
    sheet = np.load(tmp_path / "b.npz")["sheet"]  # rows a, b, c (exemplars, then mean), a-b+c
    assert same_image(sheet[2, :3], np.stack([tile(6), tile(7), tile(8)]))
    assert same_image(sheet[3, 0], sheet[2, -1])
    sample(run, capsys, "--mode", "arithmetic", "--from", tmp_path / "g.png", "--a", "0,1,2", "--b", "3,4,5", "--c", "6,7,8",
           "--out", tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_class_morph_ends_are_the_two_classes(run, tmp_path, capsys):
    sample(run, capsys, "--mode", "class-morph", "--label", 3, "--label", 8, "--num", 4, "--steps", 4, "--out", tmp_path / "m.npz")
    morph = np.load(tmp_path / "m.npz")
    ends = {}
    for k in (3, 8):
        sample(run, capsys, "--num", 4, "--label", k, "--out", tmp_path / f"{k}.npz")
        ends[k] = np.load(tmp_path / f"{k}.npz")["images"]
    assert np.array_equal(morph["images"][:, 0], ends[3]) and np.array_equal(morph["images"][:, -1], ends[8])
    assert np.allclose(morph["label_vectors"][0, 1, [3, 8]], [2 / 3, 1 / 3])
    sample(run, capsys, "--mode", "class-morph", "--num", 2, "--steps", 3, "--out", tmp_path / "m.gif")
    assert gif_frames(tmp_path / "m.gif") == 4


def test_plot_and_movie(run, tmp_path, capsys):
    import tensorflow as tf
    from PIL import Image

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    # An evaluation metric in its own folder of logs joins the plot as its own panel.
    with tf.summary.create_file_writer(str(copy / "logs" / "eval")).as_default():
        tf.summary.scalar("fid", 123.0, step=60)
    with tf.summary.create_file_writer(str(copy / "logs")).as_default():  # --eval-every's clock: not a panel
        tf.summary.scalar("time/train_wall_s", 12.0, step=60)
    code, out, err = run_cli(["plot", "--run", copy, "--out", tmp_path / "losses.png"], capsys)
    assert code == 0, err
    assert "g_loss" in out and "d_real" in out and "eval/fid" in out and "time/" not in out
    with Image.open(tmp_path / "losses.png") as plot:
        assert plot.format == "PNG" and plot.size[0] >= 400

    code, out, err = run_cli(["movie", "--run", run, "--out", tmp_path / "progress.gif"], capsys)
    assert code == 0, err
    assert gif_frames(tmp_path / "progress.gif") == len(list((run / "samples").glob("step_*.png"))) == 4


def test_filters_first_layer_and_top_images(run, tmp_path, capsys):
    from PIL import Image

    for layer in (0, 1):
        code, out, err = run_cli(["filters", "--checkpoint", run, "--layer", layer, "--pool", 300,
                                  "--out", tmp_path / f"f{layer}.png"], capsys)
        assert code == 0, err
        with Image.open(tmp_path / f"f{layer}.png") as image:
            assert image.format == "PNG"
    code, _, err = run_cli(["filters", "--checkpoint", run, "--layer", 9, "--out", tmp_path / "f9.png"], capsys)
    assert_one_line_error(code, err, "--layer 9", "d_h0_conv")


@pytest.mark.parametrize("args", [
    ["--per-class"],
    ["--mode", "per-class"],
    ["--mode", "class-morph"],
    ["--mode", "interpolate", "--label", "3"],
    ["--mode", "sweep", "--dims", "0", "--label", "3"],
])
def test_label_modes_on_an_unconditional_checkpoint(unconditional_run, tmp_path, capsys, args):
    code, _, err = run_cli(["sample", "--checkpoint", unconditional_run, *args, "--out", tmp_path / "x.png"], capsys)
    assert_one_line_error(code, err, "unconditional")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, needle", [
    (["--mode", "arithmetic", "--a", "0", "--b", "1", "--c", "2"], "--from"),
    (["--mode", "sweep", "--dims", "100"], "--dims 100"),
    (["--mode", "grid", "--out", "x.gif"], "x.gif"),
    (["--mode", "arithmetic", "--from", "g.png", "--a", "0", "--b", "1", "--c", "2", "--out", "x.gif"], "no animation"),
    (["--per-class", "--mode", "sweep"], "--per-class"),
    (["--mode", "grid", "--steps", "5"], "--steps"),
    (["--mode", "arithmetic", "--from", "missing.png", "--a", "0", "--b", "1", "--c", "2"], "missing.z.npz"),
])
def test_bad_visualisation_options(run, tmp_path, capsys, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["sample", "--checkpoint", run, *args], capsys)
    assert_one_line_error(code, err, needle)


@pytest.mark.slow
def test_per_class_rows_are_classified_as_their_label(trained_run, mnist_dir, tmp_path, capsys):
    """The session's 300-step run against the project's MNIST classifier (trained and cached on first use)."""
    classifier = pytest.importorskip("dcgan_cli.eval.classifier", reason="the evaluation issue's classifier is not here")
    sample(trained_run, capsys, "--mode", "per-class", "--out", tmp_path / "p.npz")
    rows = np.load(tmp_path / "p.npz")
    assert rows["labels"].tolist() == np.repeat(np.arange(10), 10).tolist()
    from dcgan_cli.pixels import to_model_range

    predicted = classifier.load_or_train_classifier(mnist_dir, log=lambda _: None).predict(
        to_model_range(rows["images"]))
    # Chance is 10%; what a 300-step run reaches is in benchmarks/README.md ("Sample quality").
    assert np.mean(predicted == rows["labels"]) >= 0.5, predicted.reshape(10, 10)
