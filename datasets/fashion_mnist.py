"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): MNIST's four IDX files and sizes, ten clothing classes.

Read by MNIST's reader (datasets/mnist.py); this module says only where it lives and how it is
fetched: the four gzipped IDX files from the publisher, each checked against the md5 the
publisher lists, into Keras's cache folder for it (~/.keras/datasets/fashion-mnist).
"""

from __future__ import annotations

import os
from pathlib import Path

from dcgan_cli.datasets.download import download
from dcgan_cli.datasets.mnist import IDX_FILES, IdxSource, LabelledImages, load_idx

URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# The md5s of github.com/zalandoresearch/fashion-mnist's README, file by file.
CHECKSUMS = {
    IDX_FILES["train_images"]: "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    IDX_FILES["train_labels"]: "md5:25c81989df183df01b3e8a0aad5dffbe",
    IDX_FILES["test_images"]: "md5:bef4ecab320f06d8554ea6380940ec79",
    IDX_FILES["test_labels"]: "md5:bb300cfdad3c16e7a12a480ee83cd310",
}


def fetch(folder) -> None:
    """The four .gz files into folder (each one appears only once complete and verified)."""
    base = os.environ.get("DCGAN_FASHION_MNIST_URL", URL).rstrip("/") + "/"
    for stem, checksum in CHECKSUMS.items():
        if not (Path(folder) / (stem + ".gz")).is_file():
            download(base + stem + ".gz", Path(folder) / (stem + ".gz"), checksum=checksum)


SOURCE = IdxSource("Fashion-MNIST", "fashion-mnist", "fashion-mnist", fetch, "fashion-mnist")


def load_fashion_mnist(data_dir=None, download_ok: bool = True) -> LabelledImages:
    return load_idx(SOURCE, data_dir, download_ok)


def cache_folder() -> Path:
    return SOURCE.cache_folder()
