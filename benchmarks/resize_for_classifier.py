"""Which resize `--classifier mnist` should use: real digits taken to 32x32 and 64x64 as the folder
runs see them, shrunk back to 28x28 by each method, scored by the MNIST classifier.

    python benchmarks/resize_for_classifier.py [--num 10000]

32x32: the digits as write_mnist_folder writes them (Pillow bilinear from 28x28); 64x64: those
enlarged by the training pipeline (tf bilinear). Prints FID against the 10k test images and label
accuracy for each shrinking method; the unresized 28x28 digits are the floor.
"""

import argparse

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=10000)
    args = parser.parse_args()

    import tensorflow as tf
    from PIL import Image

    from dcgan_cli.eval import metrics
    from dcgan_cli.eval.evaluate import MnistSpace
    from dcgan_cli.pixels import to_model_range

    space = MnistSpace()
    pick = np.random.default_rng(0).choice(60000, args.num, replace=False)
    digits, labels = space.mnist.train_images[pick], space.mnist.train_labels[pick]
    at32 = np.stack([np.asarray(Image.fromarray(d[:, :, 0]).resize((32, 32), Image.BILINEAR)) for d in digits])[..., None]
    at32 = to_model_range(at32)
    at64 = tf.image.resize(at32, (64, 64), method="bilinear").numpy()

    def score(images):
        features, probs = space.classifier.features_and_probs(np.clip(images, -1, 1))
        return metrics.fid(features, space.reference), float(np.mean(np.argmax(probs, 1) == labels))

    fid, accuracy = score(to_model_range(digits))
    print(f"28x28 as they are: FID {fid:.3f}, label accuracy {accuracy:.2%}")
    for name, images in (("32x32", at32), ("64x64", at64)):
        for method, antialias in (("area", False), ("bilinear", False), ("bilinear", True), ("nearest", False)):
            shrunk = tf.image.resize(images, (28, 28), method=method, antialias=antialias).numpy()
            fid, accuracy = score(shrunk)
            print(f"{name} -> 28x28 by {method}{' (antialiased)' if antialias else ''}: FID {fid:.3f}, label accuracy {accuracy:.2%}")


if __name__ == "__main__":
    main()
