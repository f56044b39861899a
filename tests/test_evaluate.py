"""The MNIST classifier, `dcgan evaluate`, the trainer's evaluator and `dcgan probe`.

The real classifier takes minutes to train on a 2-core machine (benchmarks/README.md), so the
fast tests use a stand-in (1 epoch on 6k images, seconds) cached under the real cache key: they
exercise loading, features, evaluating and the CLI. The slow tests train and check the real one.
"""

import json
import os

import numpy as np
import pytest

from conftest import run_cli


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dcgan-cache")
    saved = _with_cache_dir(folder)
    yield folder
    _restore_cache_dir(saved)


def _with_cache_dir(folder):
    saved = os.environ.get("DCGAN_CACHE_DIR")
    os.environ["DCGAN_CACHE_DIR"] = str(folder)
    return saved


def _restore_cache_dir(saved):
    if saved is None:
        os.environ.pop("DCGAN_CACHE_DIR", None)
    else:
        os.environ["DCGAN_CACHE_DIR"] = saved


@pytest.fixture(scope="session")
def classifier(cache_dir, mnist_dir, mnist):
    """A quick stand-in classifier written into the cache exactly as load_or_train_classifier would."""
    import keras

    from dcgan_cli.eval import classifier as clf

    from dcgan_cli.pixels import to_model_range

    keras.utils.set_random_seed(0)
    model = clf.build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(to_model_range(mnist.train_images[:6000]), mnist.train_labels[:6000].astype(np.int32),
              batch_size=128, epochs=1, verbose=0)
    _, accuracy = model.evaluate(to_model_range(mnist.test_images), mnist.test_labels.astype(np.int32),
                                 batch_size=1000, verbose=0)
    info = {"version": clf.VERSION, "test_accuracy": float(accuracy), "mnist_sha256": clf.mnist_digest(mnist),
            "mnist_source": str(mnist_dir), "note": "test stand-in: 1 epoch on 6k images"}
    clf._write_atomically(clf.cache_dir(), model, info)
    return clf.load_or_train_classifier(mnist_dir)


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
    # Written atomically: no temporary files are left beside the two cache files.
    assert sorted(p.name for p in (cache_dir / "classifier").iterdir()) == ["classifier.json", "classifier.weights.h5"]
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
    assert {"fid", "kid", "kid_std", "precision", "recall"} == set(results)  # no classifier: no IS, no labels
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
