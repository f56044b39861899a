"""`dcgan export`: every format loads where dcgan cannot be imported and reproduces `dcgan sample`."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from dcgan_cli.pixels import to_uint8
from test_cli_errors import assert_one_line_error, snapshot

TOLERANCE = 1e-4
SUFFIX = {"keras": ".keras", "saved_model": "", "tflite": ".tflite", "onnx": ".onnx"}
NEEDS = {"tflite": ["ai_edge_litert"], "onnx": ["tf2onnx", "onnxruntime"]}
INSTALLED = [fmt for fmt in SUFFIX if all(importlib.util.find_spec(m) for m in NEEDS.get(fmt, []))]

# Runs in a fresh interpreter in which importing dcgan_cli fails: it loads each artefact with the code
# of dcgan_cli/exported.py (run from its file, as a user would copy it) and writes the images.
WITHOUT_DCGAN = r"""
import importlib.abc, json, runpy, sys
import numpy as np

class NoDcgan(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "dcgan_cli":
            raise ImportError(f"{name} is blocked in this process")

sys.meta_path.insert(0, NoDcgan())
try:
    import dcgan_cli  # noqa: F401
    sys.exit("dcgan_cli was importable")
except ImportError:
    pass
exported_py, inputs_npz, artefacts_json, out_npz = sys.argv[1:]
load = runpy.run_path(exported_py)["load"]
inputs = dict(np.load(inputs_npz))
images = {fmt: load(fmt, path)(inputs) for fmt, path in json.loads(artefacts_json).items()}
assert "dcgan_cli" not in sys.modules and not any(m.startswith("dcgan_cli.") for m in sys.modules)
np.savez(out_npz, **images)
"""


def export_all(run, folder, formats):
    paths = {}
    for fmt in formats:
        path = folder / f"g{SUFFIX[fmt]}" if SUFFIX[fmt] else folder / "g_saved_model"
        code, stdout, err = run_cli(["export", "--checkpoint", run, "--format", fmt, "--out", path])
        assert code == 0, err
        paths[fmt] = path
    return paths


def images_without_dcgan(paths, inputs, tmp_path):
    import dcgan_cli.exported

    np.savez(tmp_path / "inputs.npz", **inputs)
    artefacts = json.dumps({fmt: str(path) for fmt, path in paths.items()})
    result = subprocess.run([sys.executable, "-c", WITHOUT_DCGAN, dcgan_cli.exported.__file__, tmp_path / "inputs.npz",
                             artefacts, tmp_path / "images.npz"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(tmp_path / "images.npz"))


def sample_images(run, num, seed, codes=None):
    """What `dcgan sample --seed SEED` draws (its z, its classes cycling; InfoGAN: `codes`): G's named inputs
    and float images."""
    from dcgan_cli.restore import load_run
    from dcgan_cli.viz.sample import cycling_labels

    loaded = load_run(run)
    family = loaded.family
    classes = cycling_labels(num, family.num_classes) if family.takes_labels else None
    z = family.sample_z(num, seed).numpy()
    latents = family.latents(z, codes=codes) if family.code_names else family.latents(z, classes=classes)
    inputs = {name: np.asarray(getattr(latents, name), np.float32) for name in family.generator_fields()}
    return inputs, family.generate(loaded.generator, latents)


def test_every_installed_format_reproduces_dcgan_sample_without_dcgan(trained_run, tmp_path):
    """The conditional model (labels concatenated at every layer), in every format that installs here."""
    paths = export_all(trained_run, tmp_path, INSTALLED)
    inputs, reference = sample_images(trained_run, 10, seed=7)  # not export's own check batch, nor its size
    images = images_without_dcgan(paths, inputs, tmp_path)
    differences = {fmt: float(np.max(np.abs(images[fmt] - reference))) for fmt in paths}
    print("max |exported - dcgan sample|:", differences)
    assert all(d < TOLERANCE for d in differences.values()), differences
    for fmt, path in paths.items():
        info = json.loads(Path(f"{path}.config.json").read_text())
        assert info["format"] == fmt and info["weights"] == "generator_ema" and info["config"]["num_classes"] == 10
        assert [i["name"] for i in info["inputs"]] == ["z", "labels"] and info["inputs"][1]["shape"] == [None, 10]
        assert info["check"]["max_abs_difference"] < TOLERANCE
    if "keras" in paths:  # no dcgan class anywhere in the .keras file's description of the model
        import zipfile

        description = zipfile.ZipFile(paths["keras"]).read("config.json").decode()
        assert "dcgan" not in description and "FusedBatchNorm" not in description


def test_unconditional_export_takes_z_and_uses_the_averaged_weights(tiny_run, tmp_path):
    import tensorflow as tf

    from dcgan_cli.restore import load_run

    paths = export_all(tiny_run, tmp_path, ["saved_model"])
    serving = tf.saved_model.load(str(paths["saved_model"])).signatures["serving_default"]
    assert list(serving.structured_input_signature[1]) == ["z"]
    assert serving.structured_outputs["images"].shape.as_list() == [None, 32, 32, 3]
    inputs, reference = sample_images(tiny_run, 5, seed=3)
    exported = serving(z=tf.constant(inputs["z"]))["images"].numpy()
    assert np.max(np.abs(exported - reference)) < TOLERANCE
    # G's own (not averaged) weights draw other images: export took generator_ema.
    raw = load_run(tiny_run, averaged=False)
    assert np.max(np.abs(raw.family.generate(raw.generator, raw.family.latents(inputs["z"])) - exported)) > 1e-3


def test_default_out_and_overwrite(tiny_run, tmp_path, capsys):
    import shutil

    run = shutil.copytree(tiny_run, tmp_path / "run")  # the default --out is inside the run
    export_dir = run / "export"
    code, stdout, err = run_cli(["export", "--checkpoint", run, "--format", "keras"], capsys)
    assert code == 0, err
    path = export_dir / "generator-step20.keras"
    assert f"wrote {path}" in stdout and "max |difference| from `dcgan sample`" in stdout
    before = snapshot(export_dir)
    code, _, err = run_cli(["export", "--checkpoint", run, "--format", "keras"], capsys)
    assert_one_line_error(code, err, str(path), "--overwrite")
    assert snapshot(export_dir) == before
    code, _, err = run_cli(["export", "--checkpoint", run, "--format", "keras", "--overwrite"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in export_dir.iterdir()) == ["generator-step20.keras", "generator-step20.keras.config.json"]


def test_bad_exports_are_one_line_errors_that_write_nothing(tiny_run, tmp_path, capsys, monkeypatch):
    cases = [
        (["--format", "pickle", "--out", tmp_path / "g.pkl"], ["pickle"]),
        (["--format", "keras", "--out", tmp_path / "g.h5"], ["must end in .keras"]),
        (["--format", "saved_model", "--out", tmp_path / "g.onnx"], ["folder"]),
        (["--format", "keras", "--out", tmp_path / "missing" / "g.keras"], ["does not exist"]),
    ]
    for args, needles in cases:
        code, _, err = run_cli(["export", "--checkpoint", tiny_run, *args], capsys)
        assert_one_line_error(code, err, *needles)
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if the onnx extra were not installed
    code, _, err = run_cli(["export", "--checkpoint", tiny_run, "--format", "onnx", "--out", tmp_path / "g.onnx"], capsys)
    assert_one_line_error(code, err, "tf2onnx", "pip install 'dcgan[onnx]'")
    assert list(tmp_path.iterdir()) == []


def test_infogan_export_takes_z_and_the_codes_and_reproduces_dcgan_sample_without_dcgan(infogan_run, tmp_path, capsys):
    """Every installed format; the codes input is G's own: the categorical code one-hot, then the continuous ones,
    fed exactly as `dcgan sample --code cat=K --code cont1=V` feeds them."""
    run = infogan_run[0]
    paths = export_all(run, tmp_path, INSTALLED)
    code, _, err = run_cli(["sample", "--checkpoint", run, "--num", 6, "--seed", 4, "--code", "cat=7", "--code",
                            "cont1=1.5", "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    drawn = np.load(tmp_path / "s.npz")
    inputs = {"z": drawn["z"], "codes": drawn["codes"]}
    assert inputs["codes"].shape == (6, 12) and np.all(inputs["codes"][:, 7] == 1) and np.all(inputs["codes"][:, 10] == 1.5)
    images = images_without_dcgan(paths, inputs, tmp_path)
    _, reference = sample_images(run, 6, seed=4, codes=inputs["codes"])
    assert np.array_equal(to_uint8(reference), drawn["images"])  # the float images behind dcgan sample's pixels
    differences = {fmt: float(np.max(np.abs(images[fmt] - reference))) for fmt in paths}
    print("max |exported - dcgan sample|:", differences)
    assert all(d < TOLERANCE for d in differences.values()), differences
    for fmt, path in paths.items():
        info = json.loads(Path(f"{path}.config.json").read_text())
        assert [(i["name"], i["shape"]) for i in info["inputs"]] == [("z", [None, 62]), ("codes", [None, 12])]
        assert "columns 0-9 the categorical code cat, one-hot" in info["inputs"][1]["meaning"]
