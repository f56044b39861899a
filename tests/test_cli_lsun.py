"""`dcgan train lsun|folder`, `dcgan download` and `dcgan bench data` from the command line."""

from __future__ import annotations

import json
import re
import socket

import pytest

from conftest import run_cli
from dcgan_cli.datasets.testdata import write_image_folder, write_lsun_lmdb


def one_line_error(code, err, *needles):
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("Input file read error")]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def lsun_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsun_cli")
    write_lsun_lmdb(root / "bedroom_train_lmdb", 24, short_side=96, corrupt=1)
    return root


def test_train_lsun_three_steps(lsun_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "lsun", "--data-dir", lsun_dir, "--out", out, "--max-steps", 3,
                            "--image-size", 32, "--width", 16, "--batch-size", 8], capsys)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert (config["dataset"], config["family"], config["image_size"], config["channels"], config["num_classes"]) == \
        ("lsun", "dcgan", 32, 3, 0)
    assert config["category"] == "bedroom"
    assert list((out / "ckpt").glob("ckpt-3*"))


def test_train_folder_grayscale_two_steps(tmp_path, capsys):
    folder = write_image_folder(tmp_path / "faces", 16, short_side=128, corrupt=1)
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "folder", "--data-dir", folder, "--channels", 1, "--crop", 108, "--out", out,
                            "--max-steps", 2, "--image-size", 32, "--width", 16, "--batch-size", 8], capsys)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert (config["dataset"], config["channels"], config["crop"], config["image_size"]) == ("folder", 1, 108, 32)
    assert list((out / "ckpt").glob("ckpt-2*"))


def test_train_lsun_wrong_data_dir(tmp_path, capsys):
    code, _, err = run_cli(["train", "lsun", "--data-dir", tmp_path, "--out", tmp_path / "run"], capsys)
    one_line_error(code, err, "no LSUN database", "bedroom_train_lmdb")


def test_train_lsun_unreadable_db(tmp_path, capsys):
    write_lsun_lmdb(tmp_path / "bedroom_train_lmdb", 3, corrupt=0, values=[b"junk"] * 3)
    code, _, err = run_cli(["train", "lsun", "--data-dir", tmp_path, "--out", tmp_path / "run"], capsys)
    one_line_error(code, err, "readable image")


def test_train_folder_errors(tmp_path, capsys):
    code, _, err = run_cli(["train", "folder", "--out", tmp_path / "run"], capsys)
    one_line_error(code, err, "--data-dir")
    code, _, err = run_cli(["train", "folder", "--data-dir", tmp_path, "--pattern", "*.png", "--out", tmp_path / "r"],
                           capsys)
    one_line_error(code, err, "*.png")
    code, _, err = run_cli(["train", "folder", "--data-dir", tmp_path, "--channels", "2"], capsys)
    one_line_error(code, err, "--channels")


def test_bench_data_folder(tmp_path, capsys):
    folder = write_image_folder(tmp_path / "faces", 24, short_side=128, corrupt=1)
    code, out, err = run_cli(["bench", "data", "folder", "--data-dir", folder, "--image-size", 32, "--batch-size", 8,
                              "--seconds", 0.5, "--rounds", 1, "--train-steps", 0], capsys)
    assert code == 0, err
    assert out.strip().splitlines()[-1].endswith(" images/s")
    assert "from memory" in out


def test_download_offline(tmp_path, capsys, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DCGAN_LSUN_URL", f"http://127.0.0.1:{port}/")
    code, _, err = run_cli(["download", "lsun", "--category", "bedroom", "--split", "val", "--dest", tmp_path], capsys)
    one_line_error(code, err, "offline")


def test_train_lsun_reports_skipped_records_each_epoch(lsun_dir, tmp_path, capsys):
    from dcgan_cli.viz.plots import read_scalars

    out = tmp_path / "run"
    # 24 records, batch 8: 3 steps per epoch, so 7 steps cover two epochs and a bit of the third.
    code, _, err = run_cli(["train", "lsun", "--data-dir", lsun_dir, "--out", out, "--max-steps", 7,
                            "--image-size", 32, "--width", 16, "--batch-size", 8], capsys)
    assert code == 0, err
    reports = re.findall(r"epoch (\d+): (\d+) undecodable records skipped \((\d+) since start-up\)", err)
    assert [epoch for epoch, _, _ in reports] == ["1", "2", "3"], err
    assert int(reports[0][1]) >= 1  # the one damaged record
    steps, values = read_scalars(out / "logs")["data/skipped_records"]
    assert list(steps) == [3, 6, 7] and values[-1] >= 2  # damaged once per epoch read


def test_data_source_failing_mid_run_is_one_line_and_saves(lsun_dir, tmp_path, capsys, monkeypatch):
    from dcgan_cli.datasets.lsun import LmdbReader

    out = tmp_path / "run"
    code, _, err = run_cli(["train", "lsun", "--data-dir", lsun_dir, "--out", out, "--max-steps", 3,
                            "--image-size", 32, "--width", 16, "--batch-size", 8], capsys)
    assert code == 0, err

    def disk_gone(self, keys):
        raise OSError("disk gone")

    monkeypatch.setattr(LmdbReader, "values", disk_gone)  # after the start-up probe, every read fails
    code, _, err = run_cli(["train", "lsun", "--data-dir", lsun_dir, "--out", out, "--max-steps", 6, "--resume"],
                           capsys)
    lines = [line for line in err.splitlines() if line.startswith(("stopped:", "Traceback", "error:"))]
    assert code == 5, err
    assert len(lines) == 1 and "training data failed at step 3" in lines[0] and "--resume" in lines[0], err
    assert "Traceback" not in err
    assert list((out / "ckpt").glob("ckpt-3*"))  # the run is intact
