"""The MNIST classifier, `dcgan evaluate`, the trainer's evaluator and `dcgan probe`.

The real classifier takes minutes to train on a 2-core machine (benchmarks/README.md), so the
fast tests use a stand-in (1 epoch on 6k images, seconds) cached under the real cache key: they
exercise loading, features, evaluating and the CLI. The slow tests train and check the real one.
"""

import json

import numpy as np
import pytest

from conftest import _restore_cache_dir, _with_cache_dir, run_cli


@pytest.fixture(scope="session")
def full_cache_dir(tmp_path_factory, mnist_dir):
    """A cache holding the real classifier, trained once for the slow tests."""
    from dcgan_cli.eval.classifier import load_or_train_classifier

    folder = tmp_path_factory.mktemp("dcgan-cache-full")
    saved = _with_cache_dir(folder)
    try:
        load_or_train_classifier(mnist_dir)
    finally:
        _restore_cache_dir(saved)
    return folder


# --- fast, no classifier -------------------------------------------------------------------------

def test_max_pool_to_4x4_and_smaller_maps():
    from dcgan_cli.eval.probe import max_pool_to

    maps = np.arange(2 * 14 * 14 * 3, dtype=np.float32).reshape(2, 14, 14, 3)
    pooled = max_pool_to(maps)
    assert pooled.shape == (2, 4 * 4 * 3)
    assert pooled[0, -3:].tolist() == maps[0, -1, -1].tolist()  # the last cell holds the bottom-right corner
    assert max_pool_to(maps[:, :2, :2]).shape == (2, 2 * 2 * 3)  # maps under 4x4 are kept whole


def test_balanced_subset_and_linear_probe():
    from dcgan_cli.eval.probe import balanced_subset, linear_probe

    labels = np.arange(1000) % 10
    pick = balanced_subset(labels, 100, seed=0)
    assert np.bincount(labels[pick]).tolist() == [10] * 10
    assert pick.tolist() == balanced_subset(labels, 100, seed=0).tolist()
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (10, 20))
    x = centres[labels] + rng.normal(size=(1000, 20))
    assert linear_probe(x[pick], labels[pick], x, labels) > 0.95


def test_conditioning_labels_follow_the_class_prior_exactly():
    from dcgan_cli.models.family import labels_like

    prior = np.array([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]) / 60000  # MNIST's training set
    labels = labels_like(prior, 10000, seed=0)
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 10000 and np.all(np.abs(counts - prior * 10000) < 1)
    assert not np.all(np.diff(labels) >= 0), "labels come in a seeded order, not sorted by class"
    assert np.array_equal(labels, labels_like(prior, 10000, seed=0))
    assert np.array_equal(np.bincount(labels_like(np.ones(10), 30, seed=1)), [3] * 10)
    assert len(set(labels_like(prior, 8, seed=0))) == 8, "fewer samples than classes: no class twice"


def test_random_features_are_fixed_and_distinguish_images():
    from dcgan_cli.eval.evaluate import RandomFeatures
    from dcgan_cli.eval import metrics

    images = np.random.default_rng(0).uniform(-1, 1, (40, 32, 32, 3)).astype(np.float32)
    a, b = RandomFeatures(3).features(images), RandomFeatures(3).features(images)
    assert a.shape == (40, 480) and np.array_equal(a, b)
    shifted = RandomFeatures(3).features(np.clip(images * 0.2 + 0.5, -1, 1))
    assert metrics.fid(a[:20], a[20:]) < metrics.fid(a, shifted)


def test_format_report_has_model_and_real_columns():
    from dcgan_cli.eval.evaluate import format_report

    report = format_report({"fid": 12.5, "real_fid": 0.4, "precision": 0.7, "real_precision": 0.75,
                            "label_accuracy": 0.98, "label_accuracy_0": 1.0, "feature_space": "x"})
    lines = report.splitlines()
    assert lines[0].split() == ["metric", "model", "real", "data"]
    assert lines[1].split() == ["fid", "12.5000", "0.4000"]
    assert "label_accuracy" in report and "0: 100.0%" in report and "recall" not in report


def test_evaluate_and_probe_of_a_missing_checkpoint_are_one_line_errors(tmp_path, capsys):
    for command in (["evaluate", "--checkpoint", tmp_path / "nothing"],
                    ["probe", "--checkpoint", tmp_path / "nothing", "--labels", "100"]):
        code, _, err = run_cli(command, capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
        assert str(tmp_path / "nothing") in lines[0]


# --- with the stand-in classifier (fast) ----------------------------------------------------------

def test_cached_classifier_is_loaded_not_retrained(classifier, cache_dir, mnist_dir, mnist):
    from dcgan_cli.eval.classifier import load_or_train_classifier
    from dcgan_cli.pixels import to_model_range

    info = json.loads((cache_dir / "classifier" / "classifier.json").read_text())
    assert info["test_accuracy"] == classifier.accuracy and info["mnist_source"] == str(mnist_dir)
    # Written atomically: no temporary files are left beside the two cache files (other tests of the
    # session may have cached real-data baselines there too).
    from dcgan_cli.files import TMP_PREFIX

    names = {p.name for p in (cache_dir / "classifier").iterdir()}
    assert {"classifier.json", "classifier.weights.h5"} <= names
    assert not [name for name in names if name.startswith(TMP_PREFIX)], names
    messages = []
    again = load_or_train_classifier(mnist_dir, log=messages.append)
    assert messages == []  # loaded, not retrained
    feats, probs = again.features_and_probs(to_model_range(mnist.test_images[:500]))
    assert feats.shape == (500, 128) and probs.shape == (500, 10)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.mean(np.argmax(probs, 1) == mnist.test_labels[:500]) > 0.8  # the stand-in is weaker than the real one


def test_evaluate_cli_writes_the_json_keys(classifier, trained_run, tmp_path, capsys, mnist_dir):
    out = tmp_path / "metrics.json"
    code, stdout, err = run_cli(["evaluate", "--checkpoint", trained_run, "--num", "500", "--json", out,
                                 "--data-dir", mnist_dir], capsys)
    assert code == 0, err
    results = json.loads(out.read_text())
    for key in ("fid", "kid", "kid_std", "inception_score", "precision", "recall", "label_accuracy"):
        assert isinstance(results[key], float) and isinstance(results["real_" + key], float), key
    assert 0 <= results["label_accuracy"] <= 1 and "label_accuracy_9" in results
    assert results["real_label_accuracy"] > 0.8 and results["real_fid"] < results["fid"]
    assert results["real_precision"] > 0.5 and results["real_recall"] > 0.5
    assert "real data" in stdout and "fid" in stdout
    # The conditional D has no class head: nothing about D's own accuracy (sgan's: tests/test_sgan.py).
    assert "D's own" not in stdout and not any(key.startswith("d_test") for key in results)


def test_evaluator_for_the_trainer(classifier, trained_run, mnist_dir):
    from dcgan_cli.eval.evaluate import evaluator
    from dcgan_cli.restore import load_run

    loaded = load_run(trained_run)
    run = evaluator(loaded.config, mnist_dir, num=200)
    first, second = run(loaded.generator), run(loaded.generator)
    assert first == second  # fixed z and labels: the numbers move only when G does
    assert {"fid", "kid", "precision", "recall", "inception_score", "label_accuracy"} <= set(first)


def test_probe_reports_d_and_pixel_accuracy(trained_run, mnist_dir, capsys):
    code, stdout, err = run_cli(["probe", "--checkpoint", trained_run, "--labels", "100", "--data-dir", mnist_dir], capsys)
    assert code == 0, err
    assert "D's conv features" in stdout and "raw pixels" in stdout and "all-zero label vector" in stdout


# --- with the real classifier (slow) ---------------------------------------------------------------

@pytest.mark.slow
def test_classifier_reaches_99_percent(full_cache_dir, mnist_dir, monkeypatch):
    from dcgan_cli.eval.classifier import EPOCHS, load_or_train_classifier

    monkeypatch.setenv("DCGAN_CACHE_DIR", str(full_cache_dir))
    messages = []
    classifier = load_or_train_classifier(mnist_dir, log=messages.append)
    assert messages == []  # the fixture's training was cached
    assert classifier.accuracy >= 0.99 and classifier.info["epochs"] == EPOCHS


@pytest.mark.slow
def test_real_baseline_of_10k_images(full_cache_dir, trained_run, mnist_dir, monkeypatch):
    from dcgan_cli.eval.evaluate import evaluate

    monkeypatch.setenv("DCGAN_CACHE_DIR", str(full_cache_dir))
    results = evaluate(trained_run, num=10000, data_dir=mnist_dir)
    assert results["real_fid"] < 1.0 and results["real_label_accuracy"] > 0.99
    assert results["real_precision"] > 0.7 and results["real_recall"] > 0.7
    assert (full_cache_dir / "classifier" / "real_baseline_n10000.json").is_file()


def test_rgb_runs_are_measured_in_random_features(tmp_path):
    from dcgan_cli.config import Config
    from dcgan_cli.datasets.testdata import write_lsun_lmdb
    from dcgan_cli.eval.evaluate import evaluator
    lmdb_dir = write_lsun_lmdb(tmp_path / "bedroom_train_lmdb", 60, short_side=40, corrupt=0)
    config = Config(dataset="lsun", data_dir=str(lmdb_dir), family="dcgan", image_size=32, channels=3,
                    num_classes=0, width=8, batch_size=16)
    generator = config.make_family().build_generator()
    results = evaluator(config, num=20)(generator)
    # No classifier: no IS, no labels, no classes; the label-free coverage signals.
    assert {"fid", "kid", "kid_std", "precision", "recall", "duplicate_share", "clusters"} == set(results)
    assert results["fid"] > 0


def test_train_with_eval_every_logs_metrics_and_keeps_the_best(classifier, mnist_dir, tmp_path, capsys):
    from dcgan_cli.viz.plots import read_scalars

    run = tmp_path / "run"
    args = ["train", "mnist", "--conditional", "--data-dir", mnist_dir, "--out", run, "--batch-size", 32,
            "--eval-every", 20, "--eval-samples", 200, "--log-every", 10, "--checkpoint-every", 1000]
    code, _, err = run_cli(args + ["--max-steps", 60], capsys)
    assert code == 0, err
    assert err.count("evaluation (200 samples): fid") == 3, err

    steps, fids = read_scalars(run / "logs")["eval/fid"]
    assert list(steps) == [20, 40, 60]
    for name in ("eval/kid", "eval/inception_score", "eval/precision", "eval/recall", "eval/label_accuracy"):
        assert list(read_scalars(run / "logs")[name][0]) == [20, 40, 60], name
    best = json.loads((run / "best" / "metrics.json").read_text())
    assert best["step"] == steps[int(np.argmin(fids))]
    assert np.isclose(best["fid"], fids.min(), rtol=1e-5)
    assert list((run / "best").glob(f"ckpt-{best['step']}.index"))  # only the best one kept
    assert len(list((run / "best").glob("ckpt-*.index"))) == 1

    # RUN/best is a checkpoint like any other.
    code, _, err = run_cli(["sample", "--checkpoint", run / "best", "--out", tmp_path / "best.png"], capsys)
    assert code == 0 and (tmp_path / "best.png").exists(), err

    # Resuming keeps the FID to beat: best/ changes only if a later evaluation is lower.
    code, _, err = run_cli(args + ["--max-steps", 80, "--resume"], capsys)
    assert code == 0, err
    after = json.loads((run / "best" / "metrics.json").read_text())
    new_steps, new_fids = read_scalars(run / "logs")["eval/fid"]
    assert list(new_steps) == [20, 40, 60, 80]
    assert after["step"] == new_steps[int(np.argmin(new_fids))]


# --- mode coverage (issue 16) ----------------------------------------------------------------------

def test_collapse_warning_from_classes_and_from_label_free_signals():
    from dcgan_cli.eval.evaluate import collapse_warning

    reference = np.full(10, 0.1)
    healthy = {f"class_share_{k}": 0.1 for k in range(10)}
    assert collapse_warning(healthy, class_reference=reference) is None
    collapsed = {f"class_share_{k}": share for k, share in enumerate([0.3, 0.3, 0.3, 0.04, 0.06, 0, 0, 0, 0, 0])}
    line = collapse_warning(collapsed, class_reference=reference)
    assert line.startswith("samples are collapsing: 6 of 10 classes") and "3 (4.0%)" in line and "4 (" not in line
    assert "\n" not in line

    real = {"recall": 0.8, "duplicate_share": 0.01, "clusters": 18.0}
    assert collapse_warning({"recall": 0.6, "duplicate_share": 0.02, "clusters": 16.0}, real) is None
    line = collapse_warning({"recall": 0.01, "duplicate_share": 0.3, "clusters": 5.0}, real)
    assert "recall 0.01" in line and "30% of samples are near-duplicates" in line and "5.0 clusters" in line
    assert collapse_warning({"recall": 0.6, "duplicate_share": 0.02, "clusters": 8.0}, real).count(";") == 0  # one sign


def test_classifier_size_resizes_by_area_and_keeps_28_pixel_images():
    from dcgan_cli.eval.evaluate import to_classifier_size

    images = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    assert to_classifier_size(images) is images
    big = np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)  # 56x56, each pixel a 2x2 block
    assert np.allclose(to_classifier_size(big), images, atol=1e-5)  # area averaging undoes it exactly
    assert to_classifier_size(images[:, :16, :16]).shape == (3, 28, 28, 1)


@pytest.fixture(scope="session")
def unconditional_run(tmp_path_factory, mnist_dir):
    """A 40-step unconditional MNIST run (collapsed, as every GAN is this early), evaluated during training."""
    run = tmp_path_factory.mktemp("runs") / "mnist"
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", run, "--max-steps", 40,
                            "--batch-size", 16, "--eval-every", 20, "--eval-samples", 200, "--log-every", 10])
    assert code == 0, err
    return run


def test_evaluate_reports_class_coverage_of_an_unconditional_run(classifier, unconditional_run, mnist_dir, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    code, stdout, err = run_cli(["evaluate", "--checkpoint", unconditional_run, "--num", 500, "--json", out,
                                 "--data-dir", mnist_dir], capsys)
    assert code == 0, err
    results = json.loads(out.read_text())
    shares = [results[f"class_share_{k}"] for k in range(10)]
    assert sum(shares) == pytest.approx(1.0) and results["max_class_share"] == max(shares)
    assert [results[f"test_class_share_{k}"] for k in range(10)][1] == pytest.approx(1135 / 10000)
    assert isinstance(results["classes_covered"], int) and 0 < results["class_entropy"] <= np.log2(10)
    # The real baseline (500 training images) covers every class; 40 steps of training do not.
    assert results["real_classes_covered"] == 10 and results["classes_covered"] < 10
    assert results["real_duplicate_share"] < 0.05 < results["duplicate_share"]
    assert results["real_clusters"] > 2 * results["clusters"]
    assert "label_accuracy" not in results
    assert "classes_covered" in stdout and "class shares of the samples (of the real test set): 0:" in stdout


def test_training_logs_coverage_and_warns_when_samples_collapse(classifier, unconditional_run):
    from dcgan_cli.viz.plots import read_scalars

    scalars = read_scalars(unconditional_run / "logs")
    for name in ("eval/classes_covered", "eval/min_class_share", "eval/max_class_share", "eval/class_entropy",
                 "eval/duplicate_share", "eval/clusters"):
        assert list(scalars[name][0]) == [20, 40], name


def test_training_warning_is_one_line_in_the_log(classifier, mnist_dir, tmp_path, capsys):
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", tmp_path / "run", "--max-steps", 10,
                            "--batch-size", 16, "--eval-every", 10, "--eval-samples", 100], capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: step 10: samples are collapsing:")]
    assert len(warnings) == 1 and "classes get under half their real share" in warnings[0], err


def test_classifier_mnist_measures_a_folder_of_digits(classifier, mnist_dir, tmp_path, capsys):
    from dcgan_cli.datasets.testdata import write_mnist_folder

    folder = write_mnist_folder(tmp_path / "digits", mnist_dir, count=300, size=32)
    files = sorted(folder.rglob("*.png"))
    assert len(files) == 300 and files[0].name == "00000_5.png"  # the label is the name's last digit
    run = tmp_path / "run"
    code, _, err = run_cli(["train", "folder", "--data-dir", folder, "--out", run, "--channels", 1, "--image-size", 32,
                            "--crop", 0, "--width", 8, "--batch-size", 16, "--max-steps", 5], capsys)
    assert code == 0, err
    out = tmp_path / "m.json"
    code, stdout, err = run_cli(["evaluate", "--checkpoint", run, "--classifier", "mnist", "--num", 200, "--json", out], capsys)
    assert code == 0, err
    results = json.loads(out.read_text())
    assert "resized from 32x32 to 28x28" in results["feature_space"]
    # The run's own digits, shrunk back to 28x28, are recognised: the baseline covers every class.
    assert results["real_classes_covered"] == 10 and results["real_fid"] < results["fid"]
    assert {"class_entropy", "min_class_share", "duplicate_share", "clusters", "recall"} <= set(results)

    code, _, err = run_cli(["evaluate", "--checkpoint", run, "--classifier", "imagenet"], capsys)
    assert code == 2 and "invalid value for '--classifier'" in err.lower(), err


def test_classifier_mnist_refuses_rgb_runs_before_any_work(tmp_path, capsys):
    from dcgan_cli.config import Config

    run = tmp_path / "rgb"
    (run / "ckpt").mkdir(parents=True)
    Config(dataset="folder", family="dcgan", image_size=32, channels=3, num_classes=0, width=8).save(run)
    # A checkpoint that names its files but holds no weights: refusing must not need to read them.
    (run / "ckpt" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (run / "ckpt" / "ckpt-1.index").write_bytes(b"")
    code, _, err = run_cli(["evaluate", "--checkpoint", run, "--classifier", "mnist"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "--classifier mnist measures unconditional 1-channel runs" in lines[0], err
    assert (run / "ckpt" / "ckpt-1.index").exists() and not (run / "ckpt" / "damaged").exists()  # nothing touched
    code, _, err = run_cli(["evaluate", "--checkpoint", run, "--classifier", "mnist", "--features", "inception"], capsys)
    assert code == 2 and "--classifier mnist and --features inception each choose the feature space" in err, err
