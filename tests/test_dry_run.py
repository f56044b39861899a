"""`dcgan train ... --dry-run`: the checks of a start, each setting's value and source, and nothing written."""

import shutil

from conftest import TINY, run_cli, tiny_train
from test_cli_errors import assert_one_line_error, snapshot


def settings(stdout):
    """{setting: (value, source)} from --dry-run's table."""
    lines = stdout.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("setting")) + 1:]
    return {name: (value, source) for name, value, source in (line.split(None, 2) for line in table)}


def test_a_new_run_is_checked_and_described_and_nothing_is_written(tiny_images, tmp_path, capsys):
    before, images_before = snapshot(tmp_path), snapshot(tiny_images)
    code, stdout, err = run_cli(tiny_train(tiny_images, tmp_path / "run", "--lr", "0.001", "--dry-run"), capsys)
    assert code == 0, err
    assert f"dry run, nothing written: would start a new run in {tmp_path / 'run'}" in stdout
    assert "data: folder, 40 images opened and counted, first records decoded; 5 steps/epoch" in stdout
    table = settings(stdout)
    assert table["lr"] == ("0.001", "typed") and table["image_size"] == ("32", "typed")
    assert table["beta1"] == ("0.5", "default") and table["ema"] == ("0.999", "default")
    assert table["dataset"] == ("folder", "`dcgan train folder`") and table["family"] == ("dcgan", "default")
    assert snapshot(tmp_path) == before and snapshot(tiny_images) == images_before


def test_a_resume_shows_what_comes_from_the_run(tiny_run, tmp_path, capsys):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    before = snapshot(run)
    code, stdout, err = run_cli(["train", "folder", "--out", run, "--resume", "--lr", "0.001", "--max-steps", "30",
                                 "--dry-run"], capsys)
    assert code == 0, err
    assert "would resume" in stdout and "ckpt-20" in stdout and "training to step 30" in stdout
    table = settings(stdout)
    assert table["lr"] == ("0.001", "typed") and table["width"] == ("8", str(run / "config.json"))
    assert snapshot(run) == before  # no lock, no config.json, no history record


def test_what_refuses_a_start_refuses_a_dry_run(tiny_run, tiny_images, tmp_path, capsys):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    before = snapshot(tmp_path)
    cases = [
        (tiny_train(tiny_images, run, "--dry-run"), ["already holds a run", "--resume"]),
        (tiny_train(tiny_images, tmp_path / "new", "--batch-size", "64", "--dry-run"), ["fewer than one batch"]),
        (["train", "folder", "--data-dir", tmp_path / "missing", "--out", tmp_path / "new", *TINY, "--dry-run"],
         ["missing"]),
    ]
    for args, needles in cases:
        code, _, err = run_cli(args, capsys)
        assert_one_line_error(code, err, *needles)
    assert snapshot(tmp_path) == before


def test_a_dataset_that_is_nowhere_is_reported_not_downloaded(tmp_path, monkeypatch, capsys):
    """A real run downloads MNIST or CIFAR-10 into the cache; --dry-run writes nothing, the cache included."""
    monkeypatch.delenv("DCGAN_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    # Were a download tried, it would fail on this closed port with another message.
    for variable in ("DCGAN_MNIST_URL", "DCGAN_CIFAR10_URL"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9/nothing")
    before = snapshot(tmp_path)
    for dataset in ("mnist", "cifar10"):
        code, _, err = run_cli(["train", dataset, "--out", tmp_path / "run", "--dry-run"], capsys)
        assert_one_line_error(code, err, "not found", f"dcgan download {dataset}", "--dry-run downloads nothing")
    assert snapshot(tmp_path) == before and not (tmp_path / "keras").exists()
