"""Bad input: one line on stderr, exit code 2, no traceback, nothing half-written or overwritten."""

import json
import shutil

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
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # failed starts leave nothing


def test_a_failed_start_leaves_out_as_it_found_it(tmp_path, capsys, tiny_images):
    """Data that turns out unreadable, options the data cannot satisfy: --out untouched, so the same
    command works once the data is fixed."""
    from conftest import tiny_train

    data, out = tmp_path / "faces", tmp_path / "runs" / "faces"
    data.mkdir()
    (tmp_path / "existing").mkdir()
    attempts = [
        ([], "no files with an image extension"),  # an empty folder
        (["--limit", "1000"], "--limit 1000 is more than the 40 images"),
        (["--batch-size", "64"], "fewer than one batch of 64"),
        (["--eval-every", "5", "--eval-samples", "30"], "--eval-samples 30 needs 60 training images"),
        (["--seed", "-1"], "--seed must be in 0.."),
    ]
    for extra, needle in attempts:
        if extra:  # the data is there from the second attempt on
            shutil.copytree(tiny_images, data, dirs_exist_ok=True)
        for where in (out, tmp_path / "existing"):
            code, _, err = run_cli(tiny_train(data, where, "--max-steps", "2", *extra), capsys)
            assert_one_line_error(code, err, needle)
        assert not (tmp_path / "runs").exists() and not list((tmp_path / "existing").iterdir())
    (data / "a" / "000001.jpg").write_bytes(b"garbage")  # unreadable files
    for path in sorted(data.rglob("*.jpg"))[1:]:
        path.unlink()
    code, _, err = run_cli(tiny_train(data, out, "--max-steps", "2"), capsys)
    assert_one_line_error(code, err, "is a readable image")
    assert not (tmp_path / "runs").exists()
    # Fixed: the very same command now starts the run.
    shutil.copytree(tiny_images, data, dirs_exist_ok=True)
    code, _, err = run_cli(tiny_train(data, out, "--max-steps", "2"), capsys)
    assert code == 0, err


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
    config.update(family="dcgan", num_classes=0, class_names=[])  # says unconditional; the weights are conditional
    (other / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(["sample", "--checkpoint", other, "--out", tmp_path / "x.png"], capsys)
    assert_one_line_error(code, err, "does not fit")
    assert not (tmp_path / "x.png").exists()


def test_unknown_option_is_one_line(capsys):
    code, _, err = run_cli(["train", "mnist", "--bogus"], capsys)
    assert_one_line_error(code, err, "--bogus")


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
                            "--log-every", "5", "--sample-every", "100", "--d-lr", "2e-4"], capsys)
    assert code == 3, err
    last = [l for l in err.splitlines() if l.strip()][-1]
    # D has its own rate, which --lr alone would not lower: the advice names both options.
    assert "NaN" in last and "ckpt-10" in last and last.endswith("with a lower --lr and --d-lr"), last
    assert sorted(p.name for p in (run / "ckpt").glob("*.index")) == ["ckpt-10.index"]
    assert tf.train.latest_checkpoint(str(run / "ckpt")).endswith("ckpt-10")


def test_resume_into_a_folder_without_a_run_is_refused(tmp_path, capsys, tiny_images):
    """A typo in --out with --resume must not silently start a new run from step 0."""
    from conftest import tiny_train

    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "typo", tmp_path / "empty"):
        code, _, err = run_cli(tiny_train(tiny_images, out, "--resume", "--max-steps", "5"), capsys)
        assert_one_line_error(code, err, f"{out} holds no run to resume", "--resume-or-start")
    assert not (tmp_path / "typo").exists() and not list((tmp_path / "empty").iterdir())
    code, _, err = run_cli(tiny_train(tiny_images, tmp_path / "x", "--resume", "--resume-or-start"), capsys)
    assert_one_line_error(code, err, "--resume and --resume-or-start")


def test_resume_or_start_starts_then_continues(tmp_path, capsys, tiny_images):
    from conftest import tiny_train

    run = tmp_path / "run"
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume-or-start", "--max-steps", "5"), capsys)
    assert code == 0, err
    assert f"new run in {run}" in err
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume-or-start", "--max-steps", "10"), capsys)
    assert code == 0, err
    assert f"resuming {run}/ckpt/ckpt-5" in err and "done at step 10" in err
    # Each start and resume is on record, with what ran it and what it changed.
    from dcgan_cli import history

    records = history.read(run)
    assert [(r["event"], r["step"]) for r in records] == [("start", 0), ("resume", 5)]
    assert records[1]["changed"] == {"max_steps": [5, 10]}
    for key in ("dcgan", "tensorflow", "keras", "numpy", "cuda_build", "devices", "cpu", "git_commit", "command", "host"):
        assert key in records[0], key
    assert records[1]["command"][-2:] == ["--max-steps", "10"] and records[0]["devices"]


@pytest.mark.parametrize("option, value", [("--lr", "inf"), ("--lr", "nan"), ("--beta1", "nan"), ("--ema", "nan"),
                                           ("--lr-decay", "inf"), ("--lr", "-inf"), ("--g-lr", "nan"), ("--d-lr", "inf")])
def test_non_finite_numbers_are_refused(tmp_path, capsys, option, value):
    code, _, err = run_cli(["train", "mnist", option, value, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, option)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("field, value, needle", [
    ("batch_size", "64", 'batch_size is "64", not int'),
    ("lr", None, "lr is null, not float"),
    ("jit", 1, "jit is 1, not bool or null"),
    ("epochs", 0, "--epochs must be a positive integer"),
    ("lr", float("nan"), "--lr must be a finite number"),
    ("loss", "energy_based", "--loss must be one of"),
    ("loss", "wasserstein", "needs a Lipschitz constraint"),  # a known loss, in a combination that makes no sense
    ("d_norm", "group", "--d-norm must be one of"),
    ("dataset", "imagenet", "--dataset must be one of"),
    ("num_classes", 10, "takes no class labels"),
])
def test_a_hand_edited_config_is_one_line_on_resume(tiny_run, tiny_images, tmp_path, capsys, field, value, needle):
    from conftest import tiny_train

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    config[field] = value
    (run / "config.json").write_text(json.dumps(config))
    before = snapshot(run)
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume"), capsys)
    assert_one_line_error(code, err, f"{run}/config.json", needle)
    assert snapshot(run) == before


def test_tensorflow_defaults_leave_what_the_user_set():
    from dcgan_cli.cli import set_tensorflow_defaults

    environ = {}
    set_tensorflow_defaults(environ)
    assert environ == {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "1"}
    environ = {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLE_ONEDNN_OPTS": "0"}
    set_tensorflow_defaults(environ)
    assert environ == {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLE_ONEDNN_OPTS": "0"}
