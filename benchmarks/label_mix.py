"""How much FID the class mix alone costs: real training images in MNIST's natural class proportions
vs 1,000 per class, each 10,000 against the test set in the classifier's feature space.

    python benchmarks/label_mix.py [--data-dir MNIST_DIR]
"""

import argparse

import numpy as np

from dcgan_cli.eval import metrics
from dcgan_cli.pixels import to_model_range
from dcgan_cli.eval.evaluate import MnistSpace


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST folder [default: $DCGAN_DATA_DIR/mnist]")
    space = MnistSpace(parser.parse_args().data_dir)
    images, labels = space.mnist.train_images, space.mnist.train_labels
    rng = np.random.default_rng(0)
    natural = rng.choice(len(images), 10000, replace=False)
    balanced = np.concatenate([rng.choice(np.where(labels == c)[0], 1000, replace=False) for c in range(10)])
    for name, pick in (("natural proportions", natural), ("1,000 per class", balanced)):
        features, _ = space.classifier.features_and_probs(to_model_range(images[pick]))
        print(f"{name}: FID {metrics.fid(features, space.reference):.3f}")


if __name__ == "__main__":
    main()
