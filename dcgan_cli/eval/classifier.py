"""The MNIST classifier whose features and softmax stand in for Inception's (no downloads needed).

Trained once on the 60k training images (never the 10k test images, which are the evaluation
set) and cached with its test accuracy in $DCGAN_CACHE_DIR/classifier (default
~/.cache/dcgan/classifier). Inputs are images in [-1, 1], the generator's range. The same recipe
trains one for each dataset in MNIST's format (CLASSIFIED), cached in classifier-DATASET.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from dcgan_cli.errors import UserError
from dcgan_cli.files import atomic_path, write_json
from dcgan_cli.pixels import to_model_range

# Bump when the architecture or training recipe changes: older caches are then retrained.
VERSION = 2
WEIGHTS_FILE = "classifier.weights.h5"
INFO_FILE = "classifier.json"
EPOCHS = 3
BATCH_SIZE = 128
SEED = 0
LEARNING_RATE = 2e-3
MIN_ACCURACY = 0.99  # MNIST's; the other datasets' expected accuracy is not measured here
FEATURE_LAYER = "features"
# The datasets a classifier is trained for (MNIST's 28x28x1 format), with their names in messages.
CLASSIFIED = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def cache_dir(what: str = "classifier") -> Path:
    """$DCGAN_CACHE_DIR/WHAT (default ~/.cache/dcgan/WHAT): where evaluation keeps what it computes or downloads once."""
    root = os.environ.get("DCGAN_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "dcgan") / what


def classifier_dir(dataset: str = "mnist") -> Path:
    """Where the classifier of `dataset` is cached: MNIST's in classifier/, the others' in classifier-DATASET/."""
    return cache_dir("classifier" if dataset == "mnist" else f"classifier-{dataset}")


def mnist_digest(mnist) -> str:
    """A fingerprint of the data, so a cache made from other data is never used silently."""
    digest = hashlib.sha256()
    for array in (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def build_model():
    """Two 3x3 conv + max-pool blocks and a 128-unit layer (its accuracy and training cost:
    benchmarks/README.md, "Sample quality")."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1), name="image")
    h = inputs
    for filters in (32, 64):
        h = layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    features = layers.Dense(128, activation="relu", name=FEATURE_LAYER)(h)
    h = layers.Dropout(0.3)(features)
    probs = layers.Dense(10, activation="softmax", name="probs", dtype="float32")(h)
    return keras.Model(inputs, probs, name="mnist_classifier")


class Classifier:
    """A trained classifier; `features_and_probs` gives the penultimate layer and the softmax in one pass."""

    def __init__(self, model, info: dict):
        import keras

        self.model = model
        self.info = info
        self._both = keras.Model(model.input, [model.get_layer(FEATURE_LAYER).output, model.output])

    @property
    def accuracy(self) -> float:
        return self.info["test_accuracy"]

    def features_and_probs(self, images, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """float32 images in [-1, 1], (N, 28, 28, 1) -> (features (N, 128), softmax (N, 10))."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
            raise ValueError(f"the MNIST classifier takes (N, 28, 28, 1) images, got {images.shape}")
        feats, probs = [], []
        for start in range(0, len(images), batch_size):
            f, p = self._both(images[start:start + batch_size], training=False)
            feats.append(np.asarray(f, np.float32))
            probs.append(np.asarray(p, np.float32))
        return np.concatenate(feats), np.concatenate(probs)

    def predict(self, images) -> np.ndarray:
        return np.argmax(self.features_and_probs(images)[1], axis=1)


def full_training_steps(num_images: int) -> int:
    return EPOCHS * -(-num_images // BATCH_SIZE)


def compiled_model(steps: int):
    """The classifier, seeded, with Adam and a cosine decay to 0 over `steps`: the last, small steps buy
    the final few tenths of a percent."""
    import keras

    keras.utils.set_random_seed(SEED)
    model = build_model()
    learning_rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def accuracy_on_test_images(model, mnist) -> float:
    _, accuracy = model.evaluate(to_model_range(mnist.test_images), mnist.test_labels.astype(np.int32),
                                 batch_size=1000, verbose=0)
    return float(accuracy)


def train_classifier(mnist, log=print, name: str = "MNIST"):
    """(model, test accuracy, wall seconds, CPU seconds): train on the 60k training images only."""
    model = compiled_model(full_training_steps(len(mnist.train_images)))
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(to_model_range(mnist.train_images), mnist.train_labels.astype(np.int32),
              batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=0, shuffle=True)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    accuracy = accuracy_on_test_images(model, mnist)
    log(f"trained the {name} classifier in {seconds:.0f} s ({cpu_seconds:.0f} CPU-s): {accuracy:.2%} on the 10k test images")
    return model, accuracy, seconds, cpu_seconds


def train_on_labels(mnist, count: int, seed: int = 0, steps: int | None = None) -> dict:
    """The supervised baseline of a semi-supervised run: the same classifier trained on only the `count`
    labelled images that `dcgan train --family sgan --labels count --seed seed` uses, for as many updates
    as the full classifier gets (default), in batches drawn from those images alone. Nothing is cached:
    `dcgan evaluate` keeps measuring with the classifier trained on every label."""
    import tensorflow as tf

    from dcgan_cli.datasets import pick_labelled

    pick = pick_labelled(mnist.train_labels, count, seed)
    steps = steps or full_training_steps(len(mnist.train_images))
    batches = (tf.data.Dataset.from_tensor_slices((to_model_range(mnist.train_images[pick]),
                                                   mnist.train_labels[pick].astype(np.int32)))
               .shuffle(len(pick), seed=seed).repeat().batch(min(BATCH_SIZE, len(pick))))
    model = compiled_model(steps)
    started = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)  # the dataset shuffles
    return {"labels": count, "seed": seed, "steps": steps, "test_accuracy": accuracy_on_test_images(model, mnist),
            "train_seconds": round(time.perf_counter() - started, 1)}


def _read_info(folder: Path) -> dict | None:
    try:
        info = json.loads((folder / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _write_atomically(folder: Path, model, info: dict) -> None:
    """Weights first, then the JSON that vouches for them, each written atomically."""
    fix = "set DCGAN_CACHE_DIR to a writable folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the classifier cache in {folder} ({exc.strerror}); {fix}") from None
    with atomic_path(folder / WEIGHTS_FILE, fix) as tmp:
        model.save_weights(tmp)
    write_json(folder / INFO_FILE, info, fix)


def load_or_train_classifier(data_dir=None, retrain: bool = False, log=print, dataset: str = "mnist") -> Classifier:
    """The cached classifier if it was made by this recipe from this data; otherwise train and cache one."""
    from dcgan_cli.datasets import load

    name = CLASSIFIED[dataset]
    mnist = load(dataset, data_dir)
    digest = mnist_digest(mnist)  # the data's fingerprint, whichever dataset; the key keeps its first name
    folder = classifier_dir(dataset)
    info = _read_info(folder)
    if (not retrain and info and info.get("version") == VERSION and info.get("mnist_sha256") == digest
            and (folder / WEIGHTS_FILE).is_file()):
        model = build_model()
        try:
            model.load_weights(folder / WEIGHTS_FILE)
            return Classifier(model, info)
        except (OSError, ValueError) as exc:
            log(f"the cached classifier in {folder} is unreadable ({exc}); training a new one")
    log(f"training the {name} classifier ({EPOCHS} epochs on the {len(mnist.train_images)} training images); cached in {folder}")
    model, accuracy, seconds, cpu_seconds = train_classifier(mnist, log, name)
    info = {"version": VERSION, "test_accuracy": accuracy, "train_seconds": round(seconds, 1),
            "train_cpu_seconds": round(cpu_seconds, 1),
            "epochs": EPOCHS, "batch_size": BATCH_SIZE, "seed": SEED, "dataset": dataset,
            "mnist_source": str(data_dir) if data_dir else (os.environ.get("DCGAN_DATA_DIR") or "default search"),
            "mnist_sha256": digest}
    if dataset == "mnist" and accuracy < MIN_ACCURACY:
        log(f"warning: the classifier reached only {accuracy:.2%} (< {MIN_ACCURACY:.0%}); its FIDs are less reliable")
    _write_atomically(folder, model, info)
    return Classifier(model, info)
