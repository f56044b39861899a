"""Bad input: one line on stderr, exit code 2, no traceback, nothing half-written or overwritten."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import run_cli


def assert_one_line_error(code, err, *needles):
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.mark.parametrize("value", ["0", "-4"])
def test_non_positive_batch_size(tmp_path, capsys, value):
    code, _, err = run_cli(["train", "mnist", "--batch-size", value, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "--batch-size")
    assert not (tmp_path / "run").exists()


def test_wrong_data_dir(tmp_path, capsys):
    code, _, err = run_cli(["train", "mnist", "--data-dir", tmp_path / "missing", "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "--data-dir", str(tmp_path / "missing"))


def test_missing_and_truncated_data_files(tmp_path, capsys, mnist_dir):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(mnist_dir / "train-images-idx3-ubyte.gz", data)
    code, _, err = run_cli(["train", "mnist", "--data-dir", data, "--out", tmp_path / "a", "--max-steps", 1], capsys)
    assert_one_line_error(code, err, "train-labels-idx1-ubyte")
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, data)
    raw = (data / "t10k-images-idx3-ubyte.gz").read_bytes()
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(raw[:5000])
    code, _, err = run_cli(["train", "mnist", "--data-dir", data, "--out", tmp_path / "b", "--max-steps", 1], capsys)
    assert_one_line_error(code, err, "t10k-images-idx3-ubyte", "download MNIST again")
    # A failed start leaves no checkpoint behind that a later --resume would trip over.
    assert not list((tmp_path / "b").rglob("ckpt-*"))


def test_unwritable_out(tmp_path, capsys, mnist_dir):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", blocker / "run"], capsys)
    assert_one_line_error(code, err, "--out")


def test_existing_run_is_never_overwritten(trained_run, capsys, mnist_dir):
    before = snapshot(trained_run)
    code, _, err = run_cli(["train", "mnist", "--conditional", "--data-dir", mnist_dir, "--out", trained_run], capsys)
    assert_one_line_error(code, err, "--resume", "--out")
    assert snapshot(trained_run) == before


def test_resume_refuses_a_different_model(trained_run, capsys, mnist_dir):
    before = snapshot(trained_run)
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", trained_run, "--resume"], capsys)
    assert_one_line_error(code, err, "mnist-conditional")
    code, _, err = run_cli(["train", "mnist", "--conditional", "--data-dir", mnist_dir, "--out", trained_run,
                            "--resume", "--batch-size", "8"], capsys)
    assert_one_line_error(code, err, "--batch-size")
    assert snapshot(trained_run) == before


def test_sample_errors(trained_run, tmp_path, capsys):
    code, _, err = run_cli(["sample", "--checkpoint", tmp_path / "nothing"], capsys)
    assert_one_line_error(code, err, "--checkpoint")
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["sample", "--checkpoint", tmp_path / "empty"], capsys)
    assert_one_line_error(code, err, "no checkpoint")
    code, _, err = run_cli(["sample", "--checkpoint", trained_run, "--label", "12"], capsys)
    assert_one_line_error(code, err, "--label 12", "0..9")
    code, _, err = run_cli(["sample", "--checkpoint", trained_run, "--out", tmp_path / "no" / "g.png"], capsys)
    assert_one_line_error(code, err, str(tmp_path / "no"))
    code, _, err = run_cli(["sample", "--checkpoint", trained_run, "--out", tmp_path / "g.jpg"], capsys)
    assert_one_line_error(code, err, ".png")
    assert not list(tmp_path.glob("g.*"))


def test_checkpoint_of_another_shape(trained_run, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(trained_run / "ckpt", other / "ckpt")
    config = json.loads((trained_run / "config.json").read_text())
    config.update(family="dcgan", num_classes=0)  # says unconditional; the weights are conditional
    (other / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(["sample", "--checkpoint", other, "--out", tmp_path / "x.png"], capsys)
    assert_one_line_error(code, err, "does not fit")
    assert not (tmp_path / "x.png").exists()


def test_unknown_option_is_one_line(capsys):
    code, _, err = run_cli(["train", "mnist", "--bogus"], capsys)
    assert_one_line_error(code, err, "--bogus")


def test_ctrl_c_saves_a_checkpoint(tmp_path, mnist_dir):
    """SIGINT mid-run: a checkpoint at the interrupted step, a one-line message, exit code 130."""
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcgan_cli", "train", "mnist", "--conditional", "--data-dir", str(mnist_dir),
         "--out", str(run), "--batch-size", "16", "--checkpoint-every", "1000", "--sample-every", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # A sample grid at step 2 means training is under way; the only checkpoint can come from Ctrl-C.
    deadline = time.time() + 300
    while time.time() < deadline and not (run / "samples" / "step_000002.png").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = [l for l in err.splitlines() if l.strip()][-1]
    assert last.startswith("stopped: interrupted at step") and "--resume" in last
    step = int(last.split("interrupted at step ")[1].split(";")[0])
    assert step >= 2 and (run / "ckpt" / f"ckpt-{step}.index").exists()
    assert len(list((run / "ckpt").glob("*.index"))) == 1


def test_nan_loss_stops_with_last_good_checkpoint(tmp_path, mnist_dir, capsys, monkeypatch):
    """A loss that turns NaN after the first checkpoint: clear message, exit 3, checkpoint intact."""
    import tensorflow as tf

    from dcgan_cli.train import losses, trainer

    poison = tf.Variable(0.0)
    ns = losses.LOSSES["non_saturating"]
    monkeypatch.setitem(losses.LOSSES, "non_saturating",
                        losses.GANLoss("non_saturating", ns.discriminator, lambda logits: ns.generator(logits) + poison))
    save = trainer.tf.train.CheckpointManager.save

    def save_then_poison(self, *args, **kwargs):
        path = save(self, *args, **kwargs)
        poison.assign(float("nan"))
        return path

    monkeypatch.setattr(trainer.tf.train.CheckpointManager, "save", save_then_poison)
    run = tmp_path / "run"
    code, _, err = run_cli(["train", "mnist", "--conditional", "--data-dir", mnist_dir, "--out", run,
                            "--batch-size", "8", "--max-steps", "40", "--checkpoint-every", "10",
                            "--log-every", "5", "--sample-every", "100"], capsys)
    assert code == 3, err
    last = [l for l in err.splitlines() if l.strip()][-1]
    assert "NaN" in last and "ckpt-10" in last, last
    assert sorted(p.name for p in (run / "ckpt").glob("*.index")) == ["ckpt-10.index"]
    assert tf.train.latest_checkpoint(str(run / "ckpt")).endswith("ckpt-10")
