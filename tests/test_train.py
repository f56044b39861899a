"""A real short run on real MNIST: it learns, it writes what it promises, and `dcgan sample` reads it."""

import numpy as np
import pytest

from conftest import run_cli


def intensity_histogram(images_uint8):
    hist, _ = np.histogram(images_uint8, bins=16, range=(0, 256))
    return hist / hist.sum()


def samples_at(run, prefix, n=512, seed=1):
    from dcgan_cli.pixels import to_uint8
    from dcgan_cli.restore import load_run

    loaded = load_run(prefix)
    family = loaded.family
    latents = family.latents(family.sample_z(n, seed), classes=np.arange(n) % family.num_classes)
    return to_uint8(family.generate(loaded.generator, latents)), loaded.step


def test_training_moves_samples_toward_the_data(trained_run, mnist):
    real = intensity_histogram(mnist.train_images[:5000])
    distances = {}
    for step in (100, 300):
        images, restored = samples_at(trained_run, trained_run / "ckpt" / f"ckpt-{step}")
        assert restored == step
        distances[step] = np.abs(intensity_histogram(images) - real).sum()
    # Step 0 samples are tanh of near-zero activations: all mid-grey, L1 distance ~2 from MNIST's
    # black-and-white histogram. After 300 steps they must be far closer.
    from dcgan_cli.config import Config
    from dcgan_cli.pixels import to_uint8

    family = Config.load(trained_run).make_family()
    fresh = family.build_generator()
    latents = family.latents(family.sample_z(512, 1), classes=np.arange(512) % 10)
    step0 = np.abs(intensity_histogram(to_uint8(family.generate(fresh, latents))) - real).sum()
    assert distances[300] < 0.5 * step0, (step0, distances)
    assert distances[300] < 0.6, distances


def test_run_directory_holds_config_checkpoints_samples_and_events(trained_run):
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = json.loads((trained_run / "config.json").read_text())
    assert config["family"] == "conditional" and config["batch_size"] == 32 and config["num_classes"] == 10
    assert sorted(p.name for p in (trained_run / "ckpt").glob("*.index")) == ["ckpt-100.index", "ckpt-200.index", "ckpt-300.index"]
    assert sorted(p.name for p in (trained_run / "samples").glob("step_*.png")) == \
        ["step_000000.png", "step_000100.png", "step_000200.png", "step_000300.png"]
    events = EventAccumulator(str(trained_run / "logs"), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {"d_loss_real", "d_loss_fake", "d_loss", "g_loss", "d_real", "d_fake", "samples"} <= tags
    losses = [e for e in events.Tensors("g_loss")]
    assert [e.step for e in losses][-1] == 300
    assert all(np.isfinite(float(tf_value(e))) for e in losses)


def tf_value(event):
    import tensorflow as tf

    return tf.make_ndarray(event.tensor_proto)


def test_sample_writes_png_grid_and_npz_with_labels(trained_run, tmp_path, capsys):
    import tensorflow as tf

    code, out, err = run_cli(["sample", "--checkpoint", trained_run, "--per-class", "--out", tmp_path / "g.png"], capsys)
    assert code == 0, err
    png = tf.io.decode_png((tmp_path / "g.png").read_bytes()).numpy()
    # 10 rows x 10 columns of 28-pixel digits with 1-pixel gaps, upscaled 2x.
    assert png.shape == ((10 * 29 - 1) * 2, (10 * 29 - 1) * 2, 1)

    code, out, err = run_cli(["sample", "--checkpoint", trained_run, "--label", 3, "--label", 7, "--num", 6,
                              "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    data = np.load(tmp_path / "s.npz")
    assert data["images"].shape == (6, 28, 28, 1) and data["images"].dtype == np.uint8
    assert data["labels"].tolist() == [3, 7, 3, 7, 3, 7]
    # The labels reach the generator: same z, different label, different image.
    code, _, err = run_cli(["sample", "--checkpoint", trained_run, "--label", 3, "--num", 6, "--out", tmp_path / "t.npz"], capsys)
    other = np.load(tmp_path / "t.npz")
    assert np.array_equal(data["images"][0], other["images"][0])
    assert not np.array_equal(data["images"][1], other["images"][1])


def test_sample_accepts_a_specific_checkpoint_and_reproduces_with_a_seed(trained_run, tmp_path, capsys):
    args = ["sample", "--checkpoint", trained_run / "ckpt" / "ckpt-200", "--num", 8, "--seed", 5]
    assert run_cli(args + ["--out", tmp_path / "a.npz"], capsys)[0] == 0
    assert run_cli(args + ["--out", tmp_path / "b.npz"], capsys)[0] == 0
    assert np.array_equal(np.load(tmp_path / "a.npz")["images"], np.load(tmp_path / "b.npz")["images"])
    assert np.load(tmp_path / "a.npz")["labels"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
