"""`dcgan export`: the sampling generator as a Keras, SavedModel, LiteRT or ONNX file.

The exported G is the one `dcgan sample` draws with (the weight average when the run kept one),
in float32, with BatchNorm in inference mode, rebuilt from stock Keras layers only: our faster
layers are Keras subclasses that a process without dcgan cannot deserialise, and the label
concatenation is our own layer. Each artefact is loaded back with its own runtime
(dcgan_cli/exported.py) and compared with `dcgan sample`'s images for the same z before it is
moved into place, so a file that does not reproduce them is never written.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from dcgan_cli import exported
from dcgan_cli.errors import UserError
from dcgan_cli.files import atomic_folder_path, check_writable, write_json

FORMATS = exported.FORMATS
SUFFIXES = {"keras": ".keras", "saved_model": "", "tflite": ".tflite", "onnx": ".onnx"}
# Modules each format needs beyond TensorFlow and Keras, and the extra that installs them.
EXTRAS = {"tflite": ("ai_edge_litert",), "onnx": ("tf2onnx", "onnxruntime")}
# What each of G's inputs (a models.family.Latents field) means, for the description beside the artefact.
# Latent codes go in as G takes them (InfoGAN: the categorical code one-hot, as the conditional model's
# labels, then the continuous ones), so the artefact is G itself; the family says where each code sits.
MEANINGS = {"labels": "class vectors, one-hot (blends of classes allowed)"}
TOLERANCE = 1e-4
CHECK_SAMPLES = 64
CHECK_SEED = 0
# Opset 17 is read by every onnxruntime since 1.14 and holds every op G uses.
ONNX_OPSET = 17


def export(checkpoint, fmt: str, out=None, overwrite: bool = False, echo=print) -> dict:
    """Write the checkpoint's G as `fmt` to `out` (default RUN/export/generator-stepN.EXT), with
    OUT.config.json beside it; returns what that JSON holds."""
    from dcgan_cli.restore import load_run
    from dcgan_cli.run_dir import resolve_checkpoint

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt} is unknown; choose one of {', '.join(FORMATS)}")
    check_extras(fmt)
    resolve_checkpoint(checkpoint)
    if out is not None:
        check_out(Path(out), fmt, overwrite)
    run = load_run(checkpoint)
    new_folder = None
    if out is None:
        out = run.run_dir / "export" / f"generator-step{run.step}{SUFFIXES[fmt]}"
        new_folder = None if out.parent.exists() else out.parent
        try:
            out.parent.mkdir(exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create {out.parent} ({exc.strerror}); pass --out a writable path") from None
    out = Path(out)
    model = stock_generator(run.generator, run.family.generator_fields())
    try:
        check_out(out, fmt, overwrite)
        difference = write_checked(model, fmt, out, *check_batch(run.family, run.generator))
    except BaseException:
        if new_folder is not None and not any(new_folder.iterdir()):
            new_folder.rmdir()
        raise
    info = describe(run, model, fmt, out, difference)
    write_json(config_path(out), info, fix="choose another --out")
    echo(f"wrote {out} ({fmt}) and {config_path(out).name}: G of {run.run_dir} at step {run.step} "
         f"({info['weights']} weights); max |difference| from `dcgan sample` over {CHECK_SAMPLES} images: {difference:.2g}")
    return info


def write_checked(model, fmt, out: Path, inputs: dict, reference) -> float:
    """Write the artefact beside `out`, run it with its own runtime, and only if it reproduces
    `reference` move it into place (replacing what was there). Returns the largest difference."""
    with atomic_folder_path(out, fix="choose another --out") as (artefact, scratch):
        WRITERS[fmt](model, artefact, scratch)
        difference = float(np.max(np.abs(exported.load(fmt, artefact)(inputs) - reference)))
        if not difference <= TOLERANCE:
            raise UserError(f"the exported {fmt} generator differs from `dcgan sample` by up to {difference:.2g} "
                            f"(more than {TOLERANCE:g}); nothing written: please report this with the run's config.json")
    return difference


# --- Checks: all before anything is written -------------------------------------------------------

def check_extras(fmt: str) -> None:
    missing = []
    for module in EXTRAS.get(fmt, ()):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise UserError(f"--format {fmt} needs {' and '.join(missing)}, which is not installed: pip install 'dcgan[{fmt}]'")


def config_path(out: Path) -> Path:
    """Where an artefact's description (the run's config, the signature, provenance) goes."""
    return out.with_name(out.name + ".config.json")


def check_out(out: Path, fmt: str, overwrite: bool) -> None:
    suffix = SUFFIXES[fmt]
    if suffix and out.suffix.lower() != suffix:
        raise UserError(f"--out {out} must end in {suffix} for --format {fmt}")
    if not suffix and out.suffix.lower() in {s for s in SUFFIXES.values() if s}:
        raise UserError(f"--out {out} names a {out.suffix} file, but --format saved_model writes a folder; drop the suffix")
    check_writable(out)
    for path in (out, config_path(out)):
        if (path.exists() or path.is_symlink()) and not overwrite:
            raise UserError(f"{path} already exists; pass --overwrite to replace it, or choose another --out")


# --- G from stock Keras layers ----------------------------------------------------------------------

def _stock_class(layer):
    """The Keras class a dcgan layer subclasses (Keras's own classes map to themselves)."""
    import keras

    for cls in type(layer).__mro__:
        if cls.__module__.startswith("keras.") and cls is not keras.layers.Layer:
            return cls
    raise TypeError(f"layer {layer.name} ({type(layer).__name__}) has no stock Keras equivalent; add one to export.py")


def _stock_concat_labels(features, labels, name):
    """ConcatLabels from stock layers: y itself beside a vector, y repeated over every pixel of a map."""
    from keras import layers

    if len(features.shape) == 4:
        height, width = features.shape[1], features.shape[2]
        labels = layers.RepeatVector(height * width, name=f"{name}_repeat")(labels)
        labels = layers.Reshape((height, width, labels.shape[-1]), name=f"{name}_tile")(labels)
    return layers.Concatenate(name=name)([features, labels])


def stock_generator(generator, input_names):
    """A copy of G built from stock Keras layers in float32, with G's weights (BatchNorm's moving
    statistics included); its inputs named input_names (the family's Latents fields), in order."""
    import keras

    from dcgan_cli.models.layers import ConcatLabels

    def clone(layer):
        if isinstance(layer, ConcatLabels):
            return layer  # never called: call() below puts stock layers in its place
        config = {**layer.get_config(), "dtype": "float32"}
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = False  # one device at inference
        return _stock_class(layer).from_config(config)

    def call(layer, *args, **kwargs):
        if isinstance(layer, ConcatLabels):
            return _stock_concat_labels(*args, name=layer.name)
        return layer(*args, **kwargs)

    inputs = [keras.Input(tensor.shape[1:], name=name) for tensor, name in zip(generator.inputs, input_names, strict=True)]
    model = keras.models.clone_model(generator, input_tensors=inputs if len(inputs) > 1 else inputs[0],
                                     clone_function=clone, call_function=call)
    model.set_weights(generator.get_weights())
    return model


def check_batch(family, generator) -> tuple[dict, np.ndarray]:
    """The family's evaluation inputs, named as in the signature, and the images `dcgan sample` draws
    from them (the one generate path)."""
    latents = family.evaluation_latents(CHECK_SAMPLES, CHECK_SEED)
    inputs = {name: np.asarray(getattr(latents, name), np.float32) for name in family.generator_fields()}
    return inputs, family.generate(generator, latents)


# --- Writers: model -> artefact at `path`; `scratch` is a folder for intermediate files ---------------

def _serving_archive(model):
    import keras
    import tensorflow as tf

    specs = [tf.TensorSpec((None, *tensor.shape[1:]), tf.float32, name=tensor.name) for tensor in model.inputs]

    def serve(*tensors):
        return {exported.OUTPUT: model(list(tensors) if len(tensors) > 1 else tensors[0], training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=serve, input_signature=specs)  # also written as serving_default
    return archive


def write_keras(model, path: Path, scratch: Path) -> None:
    model.save(path)


def write_saved_model(model, path: Path, scratch: Path) -> None:
    _serving_archive(model).write_out(str(path), verbose=False)


def write_tflite(model, path: Path, scratch: Path) -> None:
    import tensorflow as tf

    saved = scratch / "saved_model"
    write_saved_model(model, saved, scratch)
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())


def write_onnx(model, path: Path, scratch: Path) -> None:
    """tf2onnx's command line on the exported SavedModel (its documented path from TensorFlow 2)."""
    saved = scratch / "saved_model"
    write_saved_model(model, saved, scratch)
    command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved), "--signature_def",
               exported.SIGNATURE, "--opset", str(ONNX_OPSET), "--output", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode != 0 or not path.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise UserError(f"tf2onnx could not convert the generator ({last}); try --format saved_model and convert it yourself")


WRITERS = {"keras": write_keras, "saved_model": write_saved_model, "tflite": write_tflite, "onnx": write_onnx}


# --- The description beside the artefact ------------------------------------------------------------

def describe(run, model, fmt, out: Path, difference) -> dict:
    import dataclasses

    import keras
    import tensorflow as tf

    from dcgan_cli import __version__
    from dcgan_cli.models.family import Z_DISTRIBUTIONS

    config = run.config
    meaning = {"z": f"{config.z_dist} noise: {Z_DISTRIBUTIONS[config.z_dist].help}", **MEANINGS}
    if run.family.code_names:
        meaning["codes"] = run.family.code_columns()
    return {
        "format": fmt,
        "file": out.name,
        "inputs": [{"name": t.name, "shape": [None, *t.shape[1:]], "dtype": "float32", "meaning": meaning.get(t.name, "")}
                   for t in model.inputs],  # a list: G's input order (the JSON's keys are sorted)
        "outputs": {exported.OUTPUT: {"shape": [None, *model.output.shape[1:]], "dtype": "float32",
                                      "meaning": "images in [-1, 1]; uint8 pixels = round((x + 1) * 127.5)"}},
        "checkpoint": str(run.checkpoint),
        "step": run.step,
        "weights": "generator_ema" if config.ema else "generator",
        "check": {"samples": CHECK_SAMPLES, "seed": CHECK_SEED, "max_abs_difference": difference, "tolerance": TOLERANCE},
        "versions": {"dcgan": __version__, "tensorflow": tf.__version__, "keras": keras.__version__},
        "config": dataclasses.asdict(config),
    }
