"""dcgan_cli.api: its four functions, and examples/ run as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]


def test_the_public_surface():
    from dcgan_cli import api

    assert set(api.__all__) == {"Generator", "train", "load_generator", "generate", "evaluate"}
    for name in api.__all__:
        assert getattr(api, name).__doc__, name


def test_train_load_generate_evaluate(tiny_images, tmp_path, capsys):
    from dcgan_cli import api
    from dcgan_cli.config import Config
    from dcgan_cli.errors import UserError

    config = Config(dataset="folder", data_dir=str(tiny_images), family="dcgan", num_classes=0, image_size=32,
                    channels=3, width=8, crop=0, batch_size=8, max_steps=4, checkpoint_every=4, sample_every=100)
    result = api.train(config, tmp_path / "run", log=lambda message: None)
    assert result.step == 4 and result.checkpoint.endswith("ckpt-4")
    assert json.loads((tmp_path / "run" / "history.jsonl").read_text().splitlines()[0])["event"] == "start"

    generator = api.load_generator(tmp_path / "run")
    assert generator.step == 4 and generator.num_classes == 0
    images = api.generate(generator, 6, seed=2)
    assert images.dtype == np.uint8 and images.shape == (6, 32, 32, 3)
    assert np.array_equal(api.generate(generator, 6, seed=2), images) and not np.array_equal(api.generate(generator, 6), images)
    # The tiles `dcgan sample` draws for the same seed.
    code, _, err = run_cli(["sample", "--checkpoint", tmp_path / "run", "--num", 6, "--seed", 2,
                            "--out", tmp_path / "g.npz"], capsys)
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "g.npz")["images"], images)
    with pytest.raises(UserError, match="takes no class labels"):
        api.generate(generator, 2, labels=[1, 2])

    metrics = api.evaluate(tmp_path / "run", num=8, log=lambda message: None)
    assert np.isfinite(metrics["fid"]) and np.isfinite(metrics["real_fid"]) and metrics["protocol"]["num"] == 8
    with pytest.raises(UserError, match="already holds a run"):
        api.train(config, tmp_path / "run", log=lambda message: None)


def test_labels_of_a_labelled_family(trained_run):
    from dcgan_cli import api
    from dcgan_cli.errors import UserError

    generator = api.load_generator(trained_run)
    assert generator.num_classes == 10
    threes = api.generate(generator, 4, labels=[3, 3, 3, 3], seed=1)
    cycled = api.generate(generator, 4, seed=1)  # classes 0, 1, 2, 3
    assert np.array_equal(threes[3], cycled[3]) and not np.array_equal(threes[0], cycled[0])
    with pytest.raises(UserError, match="4 class ids in 0..9"):
        api.generate(generator, 4, labels=[1, 2, 3, 10])


def test_the_example_script_runs_against_a_tiny_run(tiny_run, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "generate_and_evaluate.py"), str(tiny_run),
                             str(tmp_path / "images"), "--num", "5", "--eval-num", "8"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the dcgan family at step 20" in result.stdout and "wrote 5 images" in result.stdout
    metrics = json.loads(result.stdout[result.stdout.index("{"):])
    assert set(metrics) == {"fid", "real_fid", "kid", "real_kid"}
    assert len(list((tmp_path / "images").glob("*.png"))) == 5
