"""`dcgan probe`: the DCGAN paper's representation-learning check, on MNIST.

As the paper did (section 5.1): every convolutional layer of D (after its BatchNorm and
LeakyReLU; which layers those are, the run's family says) is max-pooled to a 4x4 grid, flattened
and concatenated; a linear classifier is fitted
on those features of a few labelled training images and scored on the 10k test images, beside the
same linear classifier on raw pixels with the same labels. The linear classifier is ridge
regression onto one-hot targets (closed form, deterministic), its penalty picked by
leave-one-out accuracy on the labelled images.
"""

from __future__ import annotations

import numpy as np

from dcgan_cli.datasets.pipeline import balanced_subset  # the one pick of labelled images, as sgan's --labels
from dcgan_cli.errors import UserError

POOLED = 4
# Ridge penalties tried, in units of the feature dimension; leave-one-out picks one.
RIDGE_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
LABEL_CHOICES = (100, 1000)


def max_pool_to(maps: np.ndarray, size: int = POOLED) -> np.ndarray:
    """(N, H, W, C) -> (N, min(size, H) * min(size, W) * C): max over a near-even grid of cells."""
    n, height, width, channels = maps.shape
    rows, cols = min(size, height), min(size, width)
    cells = []
    for i in range(rows):
        for j in range(cols):
            r0, r1 = i * height // rows, -(-(i + 1) * height // rows)
            c0, c1 = j * width // cols, -(-(j + 1) * width // cols)
            cells.append(maps[:, r0:r1, c0:c1, :].max(axis=(1, 2)))
    return np.stack(cells, axis=1).reshape(n, -1)


def probe_layers(family, discriminator) -> list[str]:
    """The activations the probe reads: those of D's convolutional layers, as the paper; a D without
    convolutions (mlp) gives its hidden layers."""
    import keras

    layers = family.hidden_layers()
    convs = [activation for weights, activation in layers
             if isinstance(discriminator.get_layer(weights), keras.layers.Conv2D)]
    return convs or [activation for _, activation in layers]


def discriminator_features(family, discriminator, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """The probe's layers' activations, each max-pooled to 4x4 (feature maps) and flattened, concatenated.

    A family that takes labels gets all-zero label vectors (models.Family.features), so no label
    information leaks into features meant to predict the label.
    """
    def pooled(name, maps):
        return max_pool_to(maps) if maps.ndim == 4 else maps

    features = family.features(discriminator, images, names=probe_layers(family, discriminator),
                               batch_size=batch_size, each=pooled)
    return np.concatenate(list(features.values()), axis=1)


def _ridge_leave_one_out(x: np.ndarray, targets: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(strength, dual coefficients) of the ridge penalty whose leave-one-out accuracy is best.

    Leave-one-out predictions of ridge regression have a closed form, (Y - H Y) / (1 - diag H)
    with H = K (K + lam I)^-1, so the penalty is chosen on the labelled images alone, for pixels
    and D's features alike, without touching the test set.
    """
    gram = x @ x.T
    best = None
    for strength in x.shape[1] * np.array(RIDGE_GRID):
        inverse = np.linalg.inv(gram + strength * np.eye(len(x)))
        hat = gram @ inverse
        loo = targets - (targets - hat @ targets) / (1 - np.diag(hat))[:, None]
        accuracy = np.mean(np.argmax(loo, axis=1) == labels)
        if best is None or accuracy > best[0]:
            best = (accuracy, strength, inverse @ targets)
    return best[1], best[2]


def linear_probe(train_x, train_y, test_x, test_y, num_classes: int = 10) -> float:
    """Test accuracy of ridge regression onto one-hot labels.

    Features are centred and divided by one global scale (per-feature scaling would blow up
    pixels that are constant in a small training set).
    """
    mean = train_x.mean(axis=0)
    scale = np.sqrt(np.mean((train_x - mean) ** 2)) + 1e-12
    x = np.hstack([(train_x - mean) / scale, np.ones((len(train_x), 1))])
    test = np.hstack([(test_x - mean) / scale, np.ones((len(test_x), 1))])
    _, dual = _ridge_leave_one_out(x, np.eye(num_classes)[train_y], train_y)
    # Dual form: weights = X^T (X X^T + lam I)^-1 Y, solved in the n x n space of the labelled images.
    return float(np.mean(np.argmax(test @ (x.T @ dual), axis=1) == test_y))


def probe(checkpoint, labels: int = 100, data_dir=None, seed: int = 0) -> dict:
    """Linear-probe test accuracy on D's features and on raw pixels, with `labels` labelled images."""
    from dcgan_cli.datasets.mnist import load_mnist
    from dcgan_cli.pixels import to_model_range
    from dcgan_cli.restore import load_run

    if labels not in LABEL_CHOICES:
        raise UserError(f"--labels must be one of {', '.join(map(str, LABEL_CHOICES))}, got {labels}")
    run = load_run(checkpoint, generator=False, discriminator=True)
    run_dir, config, discriminator, step = run.run_dir, run.config, run.discriminator, run.step
    if config.dataset != "mnist":
        raise UserError(f"{run_dir} was trained on {config.dataset}; `dcgan probe` measures MNIST runs only")
    mnist = load_mnist(data_dir if data_dir is not None else config.data_dir)
    pick = balanced_subset(mnist.train_labels, labels, seed)
    train_images = to_model_range(mnist.train_images[pick])
    test_images = to_model_range(mnist.test_images)
    train_y, test_y = mnist.train_labels[pick].astype(int), mnist.test_labels.astype(int)
    d_train = discriminator_features(run.family, discriminator, train_images)
    d_test = discriminator_features(run.family, discriminator, test_images)
    return {
        "labels": labels, "step": step, "seed": seed, "feature_dim": int(d_train.shape[1]),
        "d_features_accuracy": linear_probe(d_train, train_y, d_test, test_y),
        "pixels_accuracy": linear_probe(train_images.reshape(labels, -1), train_y,
                                        test_images.reshape(len(test_images), -1), test_y),
        "pixel_dim": int(np.prod(train_images.shape[1:])),
        "label_input": "all-zero label vector" if run.family.takes_labels else "none (unconditional D)",
    }


def format_probe(result: dict) -> str:
    return "\n".join([
        f"linear classifier on {result['labels']} labelled training images (balanced, seed {result['seed']}), "
        f"tested on the 10k MNIST test images:",
        f"  D's conv features ({result['feature_dim']}-d, max-pooled to 4x4; D's label input: "
        f"{result['label_input']}): {result['d_features_accuracy']:.2%}",
        f"  raw pixels ({result['pixel_dim']}-d): {result['pixels_accuracy']:.2%}",
        f"checkpoint step {result['step']}; linear classifier: ridge regression onto one-hot labels, "
        f"penalty by leave-one-out",
    ])
