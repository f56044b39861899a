"""CPU time per image of each stage of the LSUN decode path, single-threaded, inside tf.data.

    python benchmarks/decode_stages.py /tmp/bench/lsunwebp/bedroom_train_lmdb

Each line adds one stage (decode, then crop and one of the resize methods), so the differences
between lines are the stages' costs. Undecodable records are skipped, as in the pipeline.
"""

import sys
import time

import lmdb
import tensorflow as tf

from dcgan_cli.datasets.images import centre_crop, decode

RECORDS = 1024


def cpu_ms_per_image(name, values, fn, repeat=3):
    dataset = (tf.data.Dataset.from_tensor_slices(values).repeat(repeat).map(fn, num_parallel_calls=1)
               .ignore_errors().batch(64, drop_remainder=True))
    for _ in dataset.take(2):  # warm up
        pass
    start, images = time.process_time(), 0
    for batch in dataset:
        images += batch.shape[0]
    print(f"{name:42s} {1000 * (time.process_time() - start) / images:.3f} CPU ms/image")


def main(path):
    env = lmdb.open(path, readonly=True, lock=False)
    with env.begin() as txn:
        values = [bytes(v) for _, v in zip(range(RECORDS), txn.cursor().iternext(keys=False, values=True))]
    # The tiny resize keeps each line's output batchable without adding measurable work.
    cpu_ms_per_image("decode", values, lambda c: tf.image.resize(decode(c, 3)[:1, :1], (1, 1)))
    for method, antialias in (("bilinear", True), ("area", False), ("bilinear", False)):
        cpu_ms_per_image(f"decode + crop + {method}{' antialiased' if antialias else ''} to 64",
                         values, lambda c: tf.image.resize(centre_crop(decode(c, 3)), (64, 64), method=method,
                                                           antialias=antialias))


if __name__ == "__main__":
    main(sys.argv[1])
