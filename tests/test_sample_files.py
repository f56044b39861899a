"""`dcgan sample --out DIR/` (one PNG per image), `--index I` alone, and the other-version warning."""

import csv
import json
import shutil

import numpy as np

from conftest import run_cli
from test_cli_errors import assert_one_line_error, snapshot


def read_png(path):
    import tensorflow as tf

    return tf.io.decode_png(path.read_bytes()).numpy()


def test_a_folder_of_labelled_images_and_each_one_again_alone(trained_run, tmp_path, capsys):
    folder = tmp_path / "images"
    code, stdout, err = run_cli(["sample", "--checkpoint", trained_run, "--seed", 5, "--num", 12, "--out", f"{folder}/"],
                                capsys)
    assert code == 0, err
    assert f"wrote 12 images of 28x28x1 to {folder}, labels.csv and manifest.json" in stdout
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:06d}.png" for i in range(12)] + ["labels.csv", "manifest.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["step"] == 300 and manifest["seed"] == 5 and manifest["checkpoint"].endswith("ckpt-300")
    assert [r["index"] for r in manifest["images"]] == list(range(12))
    rows = list(csv.DictReader((folder / "labels.csv").open()))
    assert [int(r["label"]) for r in rows] == [i % 10 for i in range(12)]  # the grid's cycle through the classes
    assert rows[3] == {"file": "000003.png", "index": "3", "label": "3"}

    # The same images as `--mode grid`'s tiles (there drawn in one batch of 12: rounding may differ by a level).
    code, _, err = run_cli(["sample", "--checkpoint", trained_run, "--seed", 5, "--num", 12, "--out", tmp_path / "g.npz"],
                           capsys)
    assert code == 0, err
    tiles = np.load(tmp_path / "g.npz")["images"]
    files = np.stack([read_png(folder / f"{i:06d}.png") for i in range(12)])
    assert np.max(np.abs(files.astype(int) - tiles)) <= 1 and np.mean(files == tiles) > 0.99

    for index in (0, 7, 11):
        alone = tmp_path / f"alone{index}.png"
        code, stdout, err = run_cli(["sample", "--checkpoint", trained_run, "--seed", 5, "--index", index,
                                     "--out", alone], capsys)
        assert code == 0, err
        assert f"image {index}, class {index % 10}" in stdout
        assert alone.read_bytes() == (folder / f"{index:06d}.png").read_bytes(), index


def test_unlabelled_folder_across_batches_and_overwrite(tiny_run, tmp_path, capsys):
    folder = tmp_path / "images"
    code, _, err = run_cli(["sample", "--checkpoint", tiny_run, "--num", 103, "--out", f"{folder}/"], capsys)
    assert code == 0, err
    assert not (folder / "labels.csv").exists() and len(list(folder.glob("*.png"))) == 103
    assert "label" not in json.loads((folder / "manifest.json").read_text())["images"][0]
    alone = tmp_path / "alone.png"
    code, _, err = run_cli(["sample", "--checkpoint", tiny_run, "--index", 101, "--out", alone], capsys)
    assert code == 0, err
    assert alone.read_bytes() == (folder / "000101.png").read_bytes()

    # A folder that is not empty is refused without --overwrite, and left exactly as it was.
    before = snapshot(folder)
    code, _, err = run_cli(["sample", "--checkpoint", tiny_run, "--num", 4, "--out", folder], capsys)
    assert_one_line_error(code, err, "not empty", "--overwrite")
    assert snapshot(folder) == before
    code, _, err = run_cli(["sample", "--checkpoint", tiny_run, "--num", 4, "--seed", 1, "--out", folder, "--overwrite"],
                           capsys)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:06d}.png" for i in range(4)] + ["manifest.json"]
    assert json.loads((folder / "manifest.json").read_text())["seed"] == 1


def test_bad_numbered_requests_are_one_line_errors_that_write_nothing(tiny_run, tmp_path, capsys):
    cases = [
        (["--out", f"{tmp_path}/d/", "--mode", "sweep"], ["--mode sweep", "one per file"]),
        (["--out", f"{tmp_path}/d/", "--steps", "4"], ["--steps"]),
        (["--index", "3", "--num", "5"], ["drop --num"]),
        (["--index", "-1"], ["--index"]),
        (["--index", "3", "--out", tmp_path / "x.npz"], ["FILE.png"]),
        (["--out", f"{tmp_path}/d/", "--label", "3"], ["unconditional"]),
        (["--out", tmp_path / "x.png", "--overwrite"], ["--overwrite"]),
    ]
    for args, needles in cases:
        code, _, err = run_cli(["sample", "--checkpoint", tiny_run, *args], capsys)
        assert_one_line_error(code, err, *needles)
    assert list(tmp_path.iterdir()) == []


def test_sample_warns_when_another_minor_version_trained_the_run(tiny_run, tmp_path, capsys):
    from dcgan_cli import __version__

    run = shutil.copytree(tiny_run, tmp_path / "run")
    history = run / "history.jsonl"
    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert records and all(r["dcgan"] == __version__ for r in records)  # what issue 20's history records
    code, _, err = run_cli(["sample", "--checkpoint", run, "--num", 4, "--out", tmp_path / "a.png"], capsys)
    assert code == 0 and "warning" not in err, err

    major, minor = __version__.split(".")[:2]
    other = f"{major}.{int(minor) + 1}.0"
    history.write_text("".join(json.dumps({**r, "dcgan": other}) + "\n" for r in records))
    for args in (["--out", tmp_path / "b.png"], ["--out", f"{tmp_path}/c/"], ["--index", "2", "--out", tmp_path / "d.png"]):
        code, _, err = run_cli(["sample", "--checkpoint", run, *args], capsys)
        warnings = [line for line in err.splitlines() if line.startswith("warning")]
        assert code == 0 and len(warnings) == 1, err
        assert f"trained by dcgan {other}" in warnings[0] and f"this is {__version__}" in warnings[0]
    # A patch release of the same minor version is not worth a warning.
    history.write_text("".join(json.dumps({**r, "dcgan": f"{major}.{minor}.99"}) + "\n" for r in records))
    code, _, err = run_cli(["sample", "--checkpoint", run, "--num", 4, "--out", tmp_path / "e.png"], capsys)
    assert code == 0 and "warning" not in err, err
