"""Running a generator written by `dcgan export` with nothing but its format's own runtime.

This is the code a user writes in a web service, on a phone or in another framework, so it imports
nothing from dcgan: `dcgan export` checks each artefact with it, and the tests run this file where
dcgan cannot be imported. Every format has one signature: inputs `z` (float32, N x z_dim) and, for
conditional models, `labels` (float32 one-hot, N x classes), for InfoGAN models `codes` (float32,
N x 12: the categorical code one-hot in columns 0-9, the continuous codes in 10 and 11; the
artefact's .config.json says so); output `images` (float32 in [-1, 1], N x H x W x C).
"""

import numpy as np

FORMATS = ("keras", "saved_model", "tflite", "onnx")
SIGNATURE = "serving_default"
OUTPUT = "images"


def load(fmt: str, path):
    """A function {input name: array} -> images for the artefact at `path`, loaded once."""
    path = str(path)
    if fmt == "keras":
        import keras

        model = keras.saving.load_model(path, compile=False)
        names = [tensor.name for tensor in model.inputs]
        return lambda inputs: np.asarray(model([inputs[name] for name in names] if len(names) > 1
                                               else inputs[names[0]], training=False))
    if fmt == "saved_model":
        import tensorflow as tf

        serve = tf.saved_model.load(path).signatures[SIGNATURE]
        return lambda inputs: serve(**{k: tf.constant(v) for k, v in inputs.items()})[OUTPUT].numpy()
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_path=path).get_signature_runner(SIGNATURE)
        return lambda inputs: runner(**inputs)[OUTPUT]
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return lambda inputs: session.run([OUTPUT], inputs)[0]
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")

