"""Labelled image folders (--class-subdirs): labels from the subfolders, class names saved and used by sample."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from test_cli_errors import assert_one_line_error

CLASSES = ["cat", "dog", "zebra"]
SHADES = {"cat": 20, "dog": 128, "zebra": 235}


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory):
    """Three class subfolders of flat grey PNGs, a shade per class, so each image shows its class."""
    root = tmp_path_factory.mktemp("labelled") / "images"
    rng = np.random.default_rng(0)
    for name in CLASSES:
        for i in range(8):
            folder = root / name / ("nested" if i % 3 == 0 else "")
            folder.mkdir(parents=True, exist_ok=True)
            side = int(rng.integers(36, 60))
            Image.fromarray(np.full((side, side + 5, 3), SHADES[name], np.uint8)).save(folder / f"{i}.png")
    return root


def test_the_labels_are_the_class_subfolders(class_folders):
    from dcgan_cli.datasets.folder import folder_batches

    pipeline = folder_batches(class_folders, None, None, 16, 3, 8, seed=0, class_names=CLASSES)
    assert pipeline.num_examples == 24
    shades = np.array([SHADES[name] for name in CLASSES]) / 127.5 - 1
    for images, labels in pipeline.dataset.take(6):
        classes = np.argmax(labels.numpy(), axis=1)
        assert labels.shape == (8, 3)
        np.testing.assert_allclose(images.numpy().mean(axis=(1, 2, 3)), shades[classes], atol=0.02)


def test_conditional_folder_run_saves_its_classes_and_samples_by_name(class_folders, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = run_cli(["train", "folder", "--class-subdirs", "--family", "conditional", "--data-dir", class_folders,
                            "--out", run, "--image-size", 32, "--width", 8, "--crop", 0, "--batch-size", 8,
                            "--max-steps", 6, "--log-every", 3, "--sample-every", 6, "--checkpoint-every", 6], capsys)
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert (config["family"], config["num_classes"], config["class_names"], config["class_subdirs"]) == \
        ("conditional", 3, CLASSES, True)
    code, out, err = run_cli(["sample", "--checkpoint", run, "--label", "zebra", "--label", "0", "--num", 4,
                              "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    saved = np.load(tmp_path / "s.npz")
    assert list(saved["labels"]) == [2, 0, 2, 0] and saved["images"].shape == (4, 32, 32, 3)
    code, _, err = run_cli(["sample", "--checkpoint", run, "--label", "horse", "--out", tmp_path / "t.npz"], capsys)
    assert_one_line_error(code, err, "'horse'", "0 cat, 1 dog, 2 zebra")
    # The classes are the run's: a resume against a folder whose classes changed is refused.
    (class_folders / "zebra").rename(class_folders / "zebras")
    try:
        code, _, err = run_cli(["train", "folder", "--class-subdirs", "--family", "conditional", "--out", run,
                                "--resume", "--max-steps", 8], capsys)
    finally:
        (class_folders / "zebras").rename(class_folders / "zebra")
    assert_one_line_error(code, err, "zebras", "not the run's classes")


@pytest.mark.parametrize("args, needle", [
    (["--family", "conditional"], "--class-subdirs"),
    (["--family", "conditional", "--class-subdirs", "--data-dir", "{one}"], "two or more"),
    (["--family", "sgan", "--data-dir", "{all}"], "--class-subdirs"),
    (["--family", "sgan", "--class-subdirs", "--data-dir", "{all}", "--labels", "3"], "held in memory"),
])
def test_labelled_folder_mistakes_are_one_line(args, needle, class_folders, tmp_path, capsys):
    args = [str(a).replace("{one}", str(class_folders / "cat")).replace("{all}", str(class_folders)) for a in args]
    code, _, err = run_cli(["train", "folder", *args, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("size", [32, 64, 128])
def test_the_conditional_model_at_photo_sizes_concatenates_the_class_everywhere(size):
    from dcgan_cli.models import FAMILIES

    family = FAMILIES["conditional"](size, 3, num_classes=3, width=8)
    G, D = family.build()
    assert G.output.shape[1:] == (size, size, 3) and D.output.shape[1:] == (1,)
    # As carpedm20: y joins z and every layer's input in G; the image, every layer's input and the last linear layer in D.
    # The DCGAN body's stride-2 layers: from the paper's 4x4 start (three at 32 px, four at 64 and 128).
    stages = {32: 3, 64: 4, 128: 4}[size]
    hidden = [f"h{i}" for i in range(stages)]
    assert [l.name for l in G.layers if "concat" in l.name] == [f"g_concat_{w}" for w in ["z", *hidden]]
    assert [l.name for l in D.layers if "concat" in l.name] == [f"d_concat_{w}" for w in ["x", *hidden]]
    z = family.sample_z(2, seed=0)
    images = [family.generate(G, family.latents(z, classes=[k, k])) for k in (0, 2)]
    assert not np.allclose(images[0], images[1])  # the class reaches the image


def test_sgan_trains_on_a_labelled_folder_which_has_no_test_split_for_d(class_folders, tmp_path, capsys):
    from dcgan_cli.eval.evaluate import discriminator_accuracy
    from dcgan_cli.restore import load_run

    run = tmp_path / "sgan"
    code, _, err = run_cli(["train", "folder", "--class-subdirs", "--family", "sgan", "--data-dir", class_folders,
                            "--out", run, "--image-size", "32", "--width", "8", "--crop", "0", "--batch-size", "8",
                            "--max-steps", "3"], capsys)
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert (config["num_classes"], config["class_names"], config["labelled"]) == (3, CLASSES, [])
    result = discriminator_accuracy(load_run(run, generator=False, discriminator=True))
    assert result == {"d_test_split": "none: a folder run has no held-out test split, so D's accuracy is not measured"}
