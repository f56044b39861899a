"""`dcgan evaluate`: sample-quality numbers for a checkpoint, beside the same numbers for real data.

MNIST and Fashion-MNIST (28x28, one channel) are measured in the feature space of the project's own
classifier of that dataset (dcgan_cli.eval.classifier, trained and cached on first use) against the
10k held-out test images. The real-data baseline is a seeded, disjoint set of training images
measured the same way; it never changes, so it is cached beside the classifier. Other 1-channel
runs can be measured with MNIST's (`--classifier mnist`: samples resized to 28x28; the baseline is
the run's own training images). Other image types have no offline pretrained network (see
RandomFeatures), so no label accuracy or class coverage: the report says so (missing_measures).

With a classifier, an InfoGAN run's report adds how well its unsupervised categorical code recovers
the classes (metrics.code_class_matching), from the same samples and their codes.

Beside FID and friends, every evaluation says how the samples cover the data (a collapsed
generator can score a fair FID on a few modes): with a classifier, how they spread over the
classes; in any feature space, the share of near-duplicate samples and the number of clusters of
the reference features they fill. collapse_warning turns those into the trainer's one-line warning.
"""

from __future__ import annotations

import json

import numpy as np

from dcgan_cli.errors import UserError
from dcgan_cli.eval import metrics
from dcgan_cli.eval.classifier import CLASSIFIED
from dcgan_cli.files import check_writable, write_json
from dcgan_cli.pixels import to_model_range, to_uint8

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PR_K = 3
BASELINE_SEED = 0
# k-means clusters of the reference features whose filling `clusters` counts (real images fill most of them).
CLUSTERS = 20
# Bump when measure() gains keys, so cached real-data baselines are recomputed.
METRICS_VERSION = 2
CLASSIFIER_SIZE = 28
CLASSIFIERS = ("mnist",)
# Order of the report's rows; keys absent from a result (e.g. label accuracy of an unconditional model) are skipped.
REPORT_KEYS = ("fid", "kid", "kid_std", "inception_score", "precision", "recall", "label_accuracy",
               "code_class_accuracy", "classes_covered", "class_entropy", "min_class_share", "max_class_share",
               "class_share_tv", "duplicate_share", "clusters")


def measure(features, probs, reference, labels=None, num_classes=10, kid_subsets=KID_SUBSETS,
            class_reference=None, centres=None) -> dict:
    """Every metric of one image set against the reference features; probs/labels may be None.

    class_reference (the real data's class shares) adds class coverage from probs; centres
    (k-means of the reference) add the number of clusters the images fill.
    """
    result = {"fid": metrics.fid(features, reference)}
    result["kid"], result["kid_std"] = metrics.kid(features, reference, subsets=kid_subsets,
                                                   subset_size=KID_SUBSET_SIZE)
    if probs is not None:
        result["inception_score"], result["inception_score_std"] = metrics.inception_score(probs)
    result["precision"], result["recall"] = metrics.precision_recall(reference, features, k=PR_K)
    result["duplicate_share"] = metrics.duplicate_share(features, reference)
    if centres is not None:
        result["clusters"] = metrics.effective_clusters(features, centres)
    if probs is not None and class_reference is not None:
        result.update(metrics.class_coverage(np.argmax(probs, axis=1), class_reference))
    if labels is not None and probs is not None:
        overall, per_class = metrics.label_accuracy(np.argmax(probs, axis=1), labels, num_classes)
        result["label_accuracy"] = overall
        result.update({f"label_accuracy_{k}": float(v) for k, v in enumerate(per_class) if np.isfinite(v)})
    return result


# --- feature spaces ------------------------------------------------------------------------------

def is_mnist(config) -> bool:
    return config.dataset == "mnist" and config.image_size == 28 and config.channels == 1


def classifier_dataset(config) -> str | None:
    """The dataset whose classifier measures this run without --classifier (MNIST's format only), or None."""
    fits = config.dataset in CLASSIFIED and config.image_size == 28 and config.channels == 1
    return config.dataset if fits else None


def to_classifier_size(images, size: int = CLASSIFIER_SIZE) -> np.ndarray:
    """Images in [-1, 1] resized to size x size for the MNIST classifier.

    Shrinking averages areas (the box filter, as the training pipeline shrinks): every pixel of a
    32- or 64-pixel sample counts, so no stroke falls between sample points. Of the filters
    measured, it kept the classifier's accuracy on resized real digits highest (benchmarks/README.md).
    Growing (smaller images) is bilinear.
    """
    images = np.asarray(images, np.float32)
    if images.shape[1:3] == (size, size):
        return images
    import tensorflow as tf

    method = "area" if images.shape[1] >= size else "bilinear"
    out = [tf.image.resize(images[start:start + 1000], (size, size), method=method).numpy()
           for start in range(0, len(images), 1000)]
    return np.clip(np.concatenate(out), -1.0, 1.0)


class MnistSpace:
    """The cached classifier of MNIST (or of another dataset in its format, `dataset`): penultimate
    features for FID/KID/PR, softmax for IS, labels and classes.

    run_config: a non-MNIST 1-channel run measured with MNIST's classifier (`--classifier mnist`): its
    images are resized to 28x28 and its real baseline is its own training images, resized alike, so
    the baseline shows what the resizing alone costs.
    """

    def __init__(self, data_dir=None, log=print, run_config=None, dataset: str = "mnist"):
        from dcgan_cli.datasets import load
        from dcgan_cli.eval.classifier import load_or_train_classifier

        self.data_dir = data_dir
        self.run_config = run_config
        self.dataset = dataset
        name = CLASSIFIED[dataset]
        self.classifier = load_or_train_classifier(data_dir, log=log, dataset=dataset)
        self.mnist = load(dataset, data_dir)
        self.reference, _ = self.classifier.features_and_probs(to_model_range(self.mnist.test_images))
        self.centres = metrics.kmeans(self.reference, CLUSTERS)
        self.class_prior = np.bincount(self.mnist.train_labels, minlength=10) / len(self.mnist.train_labels)
        self.test_shares = np.bincount(self.mnist.test_labels, minlength=10) / len(self.mnist.test_labels)
        self.description = (f"the project's {name} classifier's 128-d penultimate layer "
                            f"({self.classifier.accuracy:.2%} test accuracy); reference: the 10k {name} test images")
        self.protocol = {"network": f"the project's {name} classifier, 128-d penultimate layer", "resize": "none (28x28)",
                         "reference": f"the 10k {name} test images"}
        if run_config is not None:
            self.class_prior = None  # the run is unconditional: no labels to draw
            size = run_config.image_size
            self.description += f"; samples and the run's own training images resized from {size}x{size} to 28x28 by area averaging"
            self.protocol["resize"] = f"area averaging from {size}x{size} to 28x28"

    def score(self, images, labels=None, kid_subsets=KID_SUBSETS) -> dict:
        features, probs = self.classifier.features_and_probs(to_classifier_size(images))
        return measure(features, probs, self.reference, labels, kid_subsets=kid_subsets,
                       class_reference=self.test_shares, centres=self.centres)

    def predict(self, images) -> np.ndarray:
        """The classifier's class of each image."""
        return self.classifier.predict(to_classifier_size(images))

    def real_baseline(self, num: int, log=print) -> dict:
        """`num` training images (seeded) measured like a model's samples; cached, as it never changes."""
        from dcgan_cli.eval.classifier import VERSION, classifier_dir

        if self.run_config is not None:
            log(f"computing the real-data baseline ({num} of the run's training images vs the 10k MNIST test images)")
            return self.score(training_images(self.run_config, num))
        path = classifier_dir(self.dataset) / f"real_baseline_n{num}.json"
        key = {"classifier_version": VERSION, "mnist_sha256": self.classifier.info["mnist_sha256"],
               "num": num, "seed": BASELINE_SEED, "kid_subsets": KID_SUBSETS, "metrics_version": METRICS_VERSION}
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return cached["metrics"]
        except (OSError, ValueError, AttributeError):
            pass
        log(f"computing the real-data baseline ({num} training images vs the 10k test images)")
        pick = np.random.default_rng(BASELINE_SEED).choice(len(self.mnist.train_images), num, replace=False)
        result = self.score(to_model_range(self.mnist.train_images[pick]), self.mnist.train_labels[pick])
        write_json(path, {"key": key, "metrics": result}, fix="set DCGAN_CACHE_DIR to a writable folder")
        return result


class RandomFeatures:
    """A fixed, randomly initialised conv net (numpy-seeded, so identical everywhere) for RGB images.

    No pretrained network ships inside a package we can install, and none may be downloaded, so
    its FIDs measure distance in a random-feature space: useful to compare runs of this project
    with each other, NOT comparable with published (Inception) FIDs.
    """

    SEED = 1234
    WIDTHS = (32, 64, 128, 256)

    def __init__(self, channels: int):
        rng = np.random.default_rng(self.SEED)
        self.kernels = []
        fan_in_channels = channels
        for width in self.WIDTHS:
            fan_in = 3 * 3 * fan_in_channels
            self.kernels.append(rng.normal(0, np.sqrt(2 / fan_in), (3, 3, fan_in_channels, width)).astype(np.float32))
            fan_in_channels = width
        self.description = (f"a fixed random conv net (seed {self.SEED}; each of 4 stride-2 ReLU layers "
                            f"average-pooled, 480-d): comparable between runs of this project only, "
                            f"NOT with published Inception FIDs")

    def features(self, images, batch_size: int = 250) -> np.ndarray:
        import tensorflow as tf

        out = []
        for start in range(0, len(images), batch_size):
            h = tf.constant(np.asarray(images[start:start + batch_size], np.float32))
            pooled = []
            for kernel in self.kernels:
                h = tf.nn.relu(tf.nn.conv2d(h, kernel, strides=2, padding="SAME"))
                pooled.append(tf.reduce_mean(h, axis=(1, 2)))
            out.append(tf.concat(pooled, axis=1).numpy())
        return np.concatenate(out)


def training_images(config, num: int) -> np.ndarray:
    """The first num images of the run's first epoch (a permutation: none twice), floats in [-1, 1] as
    its pipeline decodes them; fewer if the data is smaller."""
    from dcgan_cli.datasets import training_data

    data = training_data(config)
    wanted = min(num, data.num_examples)
    images, have = [], 0
    for batch, _ in data.dataset:
        if have >= wanted:
            break
        images.append(batch.numpy())
        have += len(images[-1])
    return np.concatenate(images)[:wanted] if images else np.zeros((0,))


def halves_of_training_images(config, num: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sets of up to `num` training images each: a reference, and real images to measure against it."""
    images = training_images(config, 2 * num)
    half = len(images) // 2
    if half < PR_K + 1:
        raise UserError(f"the run's dataset has only {len(images)} images; evaluation needs at least {2 * PR_K + 2}")
    return images[:half], images[half:2 * half]


class RgbSpace:
    """Random features; the reference and the real baseline are two disjoint sets of training images."""

    class_prior = None  # LSUN and folder runs are unconditional

    def __init__(self, config, num: int, log=print):
        self.net = RandomFeatures(config.channels)
        reference, real = halves_of_training_images(config, num)
        self.reference = self.net.features(reference)
        self.centres = metrics.kmeans(self.reference, min(CLUSTERS, len(reference)))
        self._real = self.net.features(real)
        self.description = f"{self.net.description}; reference: {len(reference)} training images"
        self.protocol = {"network": self.net.description, "resize": "none (the run's image size)",
                         "reference": f"{len(reference)} training images"}

    def score(self, images, labels=None, kid_subsets=KID_SUBSETS) -> dict:
        return measure(self.net.features(images), None, self.reference, kid_subsets=kid_subsets, centres=self.centres)

    def real_baseline(self, num: int, log=print) -> dict:
        return measure(self._real, None, self.reference, centres=self.centres)


class InceptionSpace:
    """The FID Inception network (dcgan_cli.eval.inception): FIDs comparable with published ones.

    The reference and real sets are MnistSpace's for MNIST (the 10k test images; `num` seeded
    training images) and RgbSpace's otherwise. Their features never change, so they are cached by
    the images' and weights' digests.
    """

    def __init__(self, config, data_dir=None, num: int = 10000, weights=None, log=print):
        from dcgan_cli.eval.inception import DESCRIPTION, FidInception

        self.net = FidInception(weights)
        self.log = log
        if is_mnist(config):
            from dcgan_cli.datasets.mnist import load_mnist

            mnist = load_mnist(data_dir if data_dir is not None else config.data_dir)
            pick = np.random.default_rng(BASELINE_SEED).choice(len(mnist.train_images), num, replace=False)
            reference, real = mnist.test_images, mnist.train_images[pick]
            where = "the 10k MNIST test images"
            self.class_prior = np.bincount(mnist.train_labels, minlength=10) / len(mnist.train_labels)
        else:
            reference, real = (to_uint8(images) for images in halves_of_training_images(with_data_dir(config, data_dir), num))
            where = f"{len(reference)} training images"
            self.class_prior = None
        self.reference, _ = self.cached_features(reference)
        self._real = self.cached_features(real)
        self.description = f"{DESCRIPTION}; reference: {where}"
        self.protocol = {"network": DESCRIPTION, "weights_sha256": self.net.sha256,
                         "resize": "uint8 pixels (grayscale repeated to RGB), TF1 bilinear to 299x299 (no half-pixel "
                                   "centres, no antialiasing), then (x - 128) / 128",
                         "reference": where}

    def cached_features(self, images_uint8) -> tuple[np.ndarray, np.ndarray]:
        import hashlib

        from dcgan_cli.eval.classifier import cache_dir
        from dcgan_cli.files import atomic_path

        images = np.ascontiguousarray(images_uint8)
        key = hashlib.sha256(self.net.sha256.encode() + str(images.shape).encode() + images.tobytes()).hexdigest()[:20]
        path = cache_dir("inception") / f"features-{key}.npz"
        try:
            with np.load(path) as cached:
                return cached["features"], cached["probs"]
        except (OSError, ValueError, KeyError):
            pass
        self.log(f"Inception features of {len(images)} real images (cached in {path.parent})")
        features, probs = self.net.features_and_probs(images)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                np.savez(tmp, features=features, probs=probs)
        except (OSError, UserError) as exc:  # a cache that cannot be written costs time, not the result
            self.log(f"could not cache them in {path.parent} ({exc}); they will be computed again next time")
        return features, probs

    def score(self, images, labels=None, kid_subsets=KID_SUBSETS) -> dict:
        features, probs = self.net.features_and_probs(to_uint8(images))
        return measure(features, probs, self.reference, kid_subsets=kid_subsets)

    def real_baseline(self, num: int, log=print) -> dict:
        return measure(*self._real, self.reference)


FEATURES = ("auto", "inception")


def with_data_dir(config, data_dir):
    """The run's config reading its images from data_dir (`--data-dir`) when given."""
    import dataclasses

    return config if data_dir is None else dataclasses.replace(config, data_dir=str(data_dir))


def feature_space(config, data_dir=None, num: int = 10000, log=print, features: str = "auto", inception_weights=None,
                  classifier: str | None = None):
    """auto: the dataset's classifier for MNIST and Fashion-MNIST (and MNIST's, with classifier="mnist",
    for any unconditional 1-channel run), random features otherwise; inception: the FID Inception network."""
    check_classifier(config, classifier, features)
    if features == "inception":
        return InceptionSpace(config, data_dir, num, inception_weights, log=log)
    if features != "auto":
        raise UserError(f"--features {features} is unknown; choose one of {', '.join(FEATURES)}")
    if classifier_dataset(config):
        return MnistSpace(data_dir if data_dir is not None else config.data_dir, log=log, dataset=config.dataset)
    if classifier == "mnist":
        return MnistSpace(None, log=log, run_config=with_data_dir(config, data_dir))
    return RgbSpace(with_data_dir(config, data_dir), num, log=log)


def check_classifier(config, classifier, features: str = "auto") -> None:
    """A user error, before any work, when `classifier` cannot measure this run."""
    if classifier is None:
        return
    if classifier not in CLASSIFIERS:
        raise UserError(f"--classifier {classifier} is unknown; the one available is mnist")
    if features != "auto":
        raise UserError(f"--classifier {classifier} and --features {features} each choose the feature space; pass one")
    own = classifier_dataset(config)
    if own and own != classifier:
        raise UserError(f"{config.dataset} runs are measured with the {CLASSIFIED[own]} classifier, not {classifier}'s: "
                        f"drop --classifier")
    if not is_mnist(config) and (config.channels != 1 or config.conditional):
        raise UserError(f"--classifier mnist measures unconditional 1-channel runs; this run has {config.channels} "
                        f"channels{' and labels' if config.conditional else ''}: drop --classifier")


# --- generating and evaluating -------------------------------------------------------------------

def draw(family, generator, num: int, seed: int, class_prior=None):
    """(num images in [-1, 1], G's inputs): the family's evaluation inputs, classes (for a family that
    takes them) in the proportions class_prior (default even)."""
    latents = family.evaluation_latents(num, seed, class_prior)
    return family.generate(generator, latents), latents


def missing_measures(config, family, space) -> str | None:
    """One line naming what this evaluation cannot report for want of a classifier of the run's data, and why."""
    if isinstance(space, MnistSpace):
        return None
    missing = ["label accuracy"] * family.takes_labels + ["class coverage"] + ["code-to-class matching"] * bool(family.code_names)
    what = f"no {', '.join(missing[:-1])}{' or ' if len(missing) > 1 else ''}{missing[-1]}"
    own = classifier_dataset(config)
    if own:
        return f"{what}: --features inception classifies into ImageNet's classes, not {own}'s; drop it for those"
    shape = f"{config.image_size}x{config.image_size}x{config.channels}"
    hint = ("; --classifier mnist measures a folder of digits with MNIST's" if config.channels == 1 and not family.takes_labels
            else "")
    return (f"{what}: dcgan has classifiers only for MNIST and Fashion-MNIST (28x28x1), none for {config.dataset} {shape} "
            f"images{hint}")


def evaluate(checkpoint, num: int = 10000, data_dir=None, seed: int = 0, log=print, features: str = "auto",
             inception_weights=None, classifier=None) -> dict:
    """Flat metrics of the checkpoint's samples, plus the real-data baseline under `real_` keys and the
    protocol (network, resize, N, reference set, real-data floor) under `protocol`. With a classifier,
    the real test set's class shares come under `test_class_share_K`."""
    from dcgan_cli.config import Config
    from dcgan_cli.restore import load_run
    from dcgan_cli.run_dir import run_of_checkpoint

    if num is None or num < 2 * PR_K + 2:
        raise UserError(f"--num must be at least {2 * PR_K + 2} (10000 is standard), got {num}")
    if classifier is not None:  # refused before any checkpoint is read
        check_classifier(Config.load(run_of_checkpoint(checkpoint)), classifier, features)
    if features == "inception":
        from dcgan_cli.eval.inception import check_weights_file

        check_weights_file(inception_weights)  # before the generator is built: a missing file fails at once
    run = load_run(checkpoint, discriminator=run_classifies(checkpoint))
    space = feature_space(run.config, data_dir, num, log=log, features=features, inception_weights=inception_weights,
                          classifier=classifier)
    images, latents = draw(run.family, run.generator, num, seed, space.class_prior)
    results = space.score(images, latents.classes)
    if run.family.code_names and isinstance(space, MnistSpace):
        results.update(metrics.code_class_matching(run.family.categorical_codes(latents.codes), space.predict(images),
                                                   run.family.categories, len(space.test_shares)))
    results.update({f"real_{k}": v for k, v in space.real_baseline(num, log=log).items()
                    if not k.startswith("label_accuracy") or run.family.takes_labels})
    if isinstance(space, MnistSpace):
        results.update({f"test_class_share_{k}": float(v) for k, v in enumerate(space.test_shares)})
    if run.family.classifies:
        results.update(discriminator_accuracy(run, data_dir))
    results.update({"step": run.step, "num": num, "seed": seed, "feature_space": space.description})
    note = missing_measures(run.config, run.family, space)
    if note:
        results["missing"] = note
    results["protocol"] = {**space.protocol, "num": num,
                           "real_floor": f"the real_* keys: {num} real images, disjoint from the reference, measured the same way"}
    return results


def run_classifies(checkpoint) -> bool:
    """Whether the checkpoint's family has a D that classifies (so evaluate scores D too)."""
    from dcgan_cli.config import Config
    from dcgan_cli.models import FAMILIES
    from dcgan_cli.run_dir import run_of_checkpoint

    try:
        family = FAMILIES.get(Config.load(run_of_checkpoint(checkpoint)).family)
    except UserError:  # load_run reports what is wrong with the checkpoint
        return False
    return family is not None and family.classifies


def discriminator_accuracy(run, data_dir=None) -> dict:
    """D's own test-set classification accuracy (argmax over its class logits), for a family whose D
    classifies (sgan, acgan): on the dataset's held-out test split; a dataset without one says so."""
    from dcgan_cli.datasets import DATASETS, load

    config = run.config
    if DATASETS[config.dataset].load is None:
        return {"d_test_split": f"none: a {config.dataset} run has no held-out test split, so D's accuracy is not measured"}
    data = load(config.dataset, data_dir if data_dir is not None else config.data_dir)
    predicted = run.family.classify(run.discriminator, to_model_range(data.test_images))
    return {"d_test_accuracy": float(np.mean(predicted == data.test_labels)),
            "d_test_split": f"{config.dataset}'s {len(data.test_labels)} test images"}


def evaluator(config, data_dir=None, num: int = 2000, seed: int = 0, kid_subsets: int = 10, log=print):
    """For the trainer's --eval-every: build the feature space once, return generator -> metrics dict.

    The same z (and labels) every call, so successive numbers differ only through the generator.
    `run.baseline` holds the real data's figures at the same size and `run.class_reference` the real
    class shares (None without a classifier): what collapse_warning compares with.
    """
    space = feature_space(config, data_dir, num, log=log)
    family = config.make_family()

    def run(generator) -> dict:
        images, latents = draw(family, generator, num, seed, space.class_prior)
        return space.score(images, latents.classes, kid_subsets=kid_subsets)

    run.baseline = space.real_baseline(num, log=log)
    run.class_reference = getattr(space, "test_shares", None)
    return run


# --- collapse warning -----------------------------------------------------------------------------
# Each threshold separates one collapsed and one healthy run (benchmarks/README.md, "Unconditional
# training (issue 16)"), at --eval-samples 2000.
# With a classifier: a class that gets under this fraction of its real share is (nearly) missing.
CLASS_SHARE_FLOOR = 0.5
# Without one: recall below this, more near-duplicates than this, or fewer clusters filled than this
# fraction of the real images'.
RECALL_FLOOR = 0.05
DUPLICATE_CEILING = 0.1
CLUSTER_FRACTION = 0.5


def collapse_warning(results: dict, baseline: dict | None = None, class_reference=None) -> str | None:
    """One line saying how the samples collapse, or None when they look healthy.

    Class coverage decides when the results have it (a classifier exists for the data); otherwise
    the label-free signals do, any one of them sufficing.
    """
    if class_reference is not None and "class_share_0" in results:
        shares = np.array([results[f"class_share_{k}"] for k in range(len(class_reference))])
        missing = np.flatnonzero(shares < CLASS_SHARE_FLOOR * np.asarray(class_reference))
        if not len(missing):
            return None
        listed = ", ".join(f"{k} ({shares[k]:.1%})" for k in missing)
        return (f"samples are collapsing: {len(missing)} of {len(shares)} classes get under half their real share: "
                f"{listed}; the largest class has {shares.max():.0%}")
    signs = []
    if results.get("recall", 1.0) < RECALL_FLOOR:
        signs.append(f"recall {results['recall']:.2f} < {RECALL_FLOOR}")
    if results.get("duplicate_share", 0.0) > DUPLICATE_CEILING:
        signs.append(f"{results['duplicate_share']:.0%} of samples are near-duplicates (real data: "
                     f"{(baseline or {}).get('duplicate_share', 0.01):.0%})")
    real_clusters = (baseline or {}).get("clusters")
    if real_clusters and results.get("clusters", real_clusters) < CLUSTER_FRACTION * real_clusters:
        signs.append(f"they fill {results['clusters']:.1f} clusters of the real images' {real_clusters:.1f}")
    return f"samples are collapsing: {'; '.join(signs)}" if signs else None


def format_report(results: dict) -> str:
    """A table: metric, model, real-data baseline; then per-class label accuracy and the feature space."""
    def cell(value):
        if value is None:
            return "-"
        return str(value) if isinstance(value, int) else f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"

    lines = [f"{'metric':<18}{'model':>12}{'real data':>12}"]
    for key in REPORT_KEYS:
        if key in results:
            lines.append(f"{key:<18}{cell(results[key]):>12}{cell(results.get('real_' + key)):>12}")
    per_class = [f"{k}: {results[f'label_accuracy_{k}']:.1%}" for k in range(100) if f"label_accuracy_{k}" in results]
    if per_class:
        lines.append("per-class label accuracy: " + ", ".join(per_class))
    shares = [f"{k}: {results[f'class_share_{k}']:.1%}" + (f" ({results[f'test_class_share_{k}']:.1%})"
                                                           if f"test_class_share_{k}" in results else "")
              for k in range(100) if f"class_share_{k}" in results]
    if shares:
        lines.append("class shares of the samples (of the real test set): " + ", ".join(shares))
    matching = [f"{k}->{results[f'code_class_match_{k}']} {results[f'code_match_share_{k}']:.0%} "
                f"({results[f'code_purity_{k}']:.0%})" for k in range(100) if f"code_purity_{k}" in results]
    if matching:
        lines.append("the categorical code's best one-to-one matching, value -> class: the share of its samples "
                     "there (its purity): " + ", ".join(matching))
    if "missing" in results:
        lines.append(results["missing"])
    if "d_test_accuracy" in results:
        lines.append(f"D's own classification accuracy: {results['d_test_accuracy']:.2%} on {results['d_test_split']} "
                     f"(argmax over its class logits)")
    elif "d_test_split" in results:
        lines.append(f"D's own classification accuracy: {results['d_test_split']}")
    if "feature_space" in results:
        lines.append(f"feature space: {results['feature_space']}")
    if "step" in results:
        lines.append(f"{results.get('num')} samples (seed {results.get('seed')}) at step {results['step']}; "
                     f"lower is better for FID, KID, max_class_share, class_share_tv and duplicate_share, higher for the others")
    return "\n".join(lines)


def write_results(path, results: dict) -> None:
    """`--json`: the flat results."""
    check_writable(path, "--json")
    write_json(path, results, fix="choose another --json")
