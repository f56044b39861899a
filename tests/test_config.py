"""config.json: typed fields, the resume policy, and the files earlier versions of dcgan wrote.

tests/data/old_configs holds config.json files written by dcgan before model families (commit
43c536a): one per model it had, `mnist-conditional`, `mnist` (with `extra.sync_bn`) and `dcgan`.
"""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from dcgan_cli.config import RESUME_POLICY, Config
from dcgan_cli.errors import UserError

OLD_CONFIGS = Path(__file__).parent / "data" / "old_configs"
# old model -> (family now, sync_bn now, start_size now: carpedm20's, halving 28 and 32 four times)
MIGRATED = {"mnist-conditional": ("conditional", None, None), "mnist": ("dcgan", False, 2), "dcgan": ("dcgan", None, 2)}


def test_every_field_has_one_resume_rule_with_a_reason():
    assert set(RESUME_POLICY) == {f.name for f in dataclasses.fields(Config)}
    assert all(rule.reason for rule in RESUME_POLICY.values())


@pytest.mark.parametrize("model", sorted(MIGRATED))
def test_old_config_files_load_as_families_with_typed_fields(model, tmp_path):
    shutil.copy(OLD_CONFIGS / f"{model}.json", tmp_path / "config.json")
    config = Config.load(tmp_path)
    config.validate()
    family, sync_bn, start_size = MIGRATED[model]
    assert (config.family, config.sync_bn, config.kernels, config.depth) == (family, sync_bn, "fast", None)
    assert config.start_size == start_size
    old = json.loads((OLD_CONFIGS / f"{model}.json").read_text())
    for name, value in old.items():
        if name not in ("model", "extra"):
            assert getattr(config, name) == value, name
    assert "model" not in json.loads(config.to_json()) and "extra" not in json.loads(config.to_json())


def test_runs_older_than_a_setting_keep_the_value_they_trained_with():
    config = Config.from_dict({"model": "mnist"})
    assert (config.family, config.ema, config.lr_decay, config.num_classes) == ("dcgan", 0.0, 0.0, 10)
    # Unconditional runs from before `start_size` (families included) were built with carpedm20's start.
    assert config.start_size == 2
    assert Config.from_dict({"family": "dcgan", "image_size": 64}).start_size == 4
    assert Config.from_dict({"family": "dcgan", "image_size": 32, "start_size": 4}).start_size == 4
    assert Config.from_dict({"family": "mlp"}).start_size is None
    # InfoGAN runs from before --q-with-g trained Q in D's update only, whatever today's default.
    assert Config.from_dict({"family": "infogan", "num_classes": 0, "z_dim": 62}).q_with_g is False


@pytest.mark.parametrize("data, needle", [({"model": "resnet"}, "resnet"), ({"extra": {"colour": 1}}, "colour"),
                                          ({"wings": 2}, "wings")])
def test_config_json_that_no_dcgan_wrote_is_one_clear_error(data, needle):
    with pytest.raises(UserError, match=needle) as error:
        Config.from_dict(data)
    assert "\n" not in str(error.value)


def test_resume_policy_keeps_the_model_and_allows_the_schedule():
    saved = Config(family="dcgan", num_classes=0, epochs=5)
    requested = dataclasses.replace(saved, epochs=9, kernels="keras", width=32, batch_size=8, start_size=2)
    resumed = saved.resume_with(requested, typed={"epochs", "kernels"})
    assert (resumed.epochs, resumed.kernels, resumed.width) == (9, "keras", 64)
    for name, value in (("width", 32), ("batch_size", 8), ("start_size", 2)):
        with pytest.raises(UserError, match=f"--{name.replace('_', '-')} {value} differs"):
            saved.resume_with(requested, typed={name})
    with pytest.raises(UserError, match="mnist-dcgan run, not mnist-mlp"):
        saved.resume_with(dataclasses.replace(saved, family="mlp"), typed=set())


def train_tiny(run, data, model, capsys):
    """A 1-step run of the shape an old config describes, trained by today's code."""
    shape = {"mnist-conditional": ["mnist", "--conditional", "--data-dir", data["mnist"]],
             "mnist": ["mnist", "--data-dir", data["mnist"], "--start-size", "carpedm20"],
             "dcgan": ["folder", "--data-dir", data["folder"], "--image-size", 32, "--width", 8, "--crop", 0,
                       "--start-size", "carpedm20"]}[model]
    code, _, err = run_cli(["train", *shape, "--out", run, "--max-steps", 1, "--batch-size", 8, "--keep", 1,
                            "--sample-every", 100], capsys)
    assert code == 0, err


@pytest.fixture(scope="module")
def data(tmp_path_factory, mnist_dir):
    from dcgan_cli.datasets.testdata import write_image_folder

    return {"mnist": mnist_dir, "folder": write_image_folder(tmp_path_factory.mktemp("faces") / "images", 16,
                                                             short_side=48, corrupt=0)}


@pytest.mark.parametrize("model", sorted(MIGRATED))
def test_a_run_with_an_old_config_samples(model, data, tmp_path, capsys):
    run = tmp_path / "run"
    train_tiny(run, data, model, capsys)
    shutil.copy(OLD_CONFIGS / f"{model}.json", run / "config.json")  # the variables' names are unchanged
    code, out, err = run_cli(["sample", "--checkpoint", run, "--num", 6, "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    images = np.load(tmp_path / "s.npz")["images"]
    size, channels = (32, 3) if model == "dcgan" else (28, 1)
    assert images.shape == (6, size, size, channels) and images.std() > 0
    if model == "dcgan":  # and it resumes, keeping the old run's settings
        code, _, err = run_cli(["train", "folder", "--data-dir", data["folder"], "--out", run, "--resume",
                                "--max-steps", 2], capsys)
        assert code == 0, err
        assert (run / "ckpt" / "ckpt-2.index").exists()
        assert json.loads((run / "config.json").read_text())["family"] == "dcgan"
