"""Pictures of a run rather than of a generator: `dcgan plot`, `dcgan movie` and `dcgan filters`.

plot     loss curves and mean D(x) / D(G(z)) from RUN/logs (plus any other scalar: evaluation metrics)
movie    RUN/samples/step_N.png, the fixed-z grids, as one GIF with the step stamped on each frame
filters  D's first-layer filters; for deeper layers, the real images that excite chosen channels most
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from dcgan_cli import run_dir as runs
from dcgan_cli.config import Config
from dcgan_cli.errors import UserError
from dcgan_cli.viz.images import add_row_labels, add_title, grid, save_gif, save_png, to_uint8, upscale

LOSS_TAGS = ("d_loss_real", "d_loss_fake", "d_loss", "g_loss")
D_TAGS = ("d_real", "d_fake")
D_NAMES = {"d_real": "D(x), real", "d_fake": "D(G(z)), fake"}
PLOT_FORMATS = (".png", ".svg", ".pdf")
MOVIE_FRAME_MS = 400
MOVIE_LAST_MS = 2000  # hold the final grid so the loop's end is visible
STEP_FILE = re.compile(r"step_(\d+)\.png$")


def find_run(run) -> Path:
    run = Path(run)
    if not (run / "config.json").exists():
        raise UserError(f"--run {run} is not a run directory (no config.json); pass the --out folder of `dcgan train`")
    return run


def check_out(out: Path, suffixes: tuple[str, ...], flag: str = "--out") -> Path:
    if out.suffix.lower() not in suffixes:
        raise UserError(f"{flag} {out} must end in {' or '.join(suffixes)}")
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: folder {out.parent} does not exist; create it or choose another {flag}")
    if not os.access(out.parent, os.W_OK):
        raise UserError(f"cannot write {out}: folder {out.parent} is not writable; choose another {flag}")
    return out


# --- dcgan plot ---------------------------------------------------------------------------------

def read_scalars(logs: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """tag -> (steps, values) from every event file under logs; subfolders prefix their tags.

    A resumed run logs some steps twice; the value written last wins.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folders = sorted({p.parent for p in logs.rglob("events.out.tfevents.*")})
    series: dict[str, dict[int, tuple[float, float]]] = {}
    for folder in folders:
        prefix = "" if folder == logs else folder.relative_to(logs).as_posix() + "/"
        events = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0, "images": 1})
        events.Reload()
        tags = events.Tags()
        points = [(tag, e.step, e.wall_time, e.value) for tag in tags["scalars"] for e in events.Scalars(tag)]
        for tag in tags["tensors"]:
            for e in events.Tensors(tag):
                if e.tensor_proto.tensor_shape.dim:  # images and other non-scalars
                    break
                points.append((tag, e.step, e.wall_time, float(_tensor_value(e.tensor_proto))))
        for tag, step, wall_time, value in points:
            seen = series.setdefault(prefix + tag, {})
            if step not in seen or seen[step][0] <= wall_time:
                seen[step] = (wall_time, value)
    return {tag: (np.array(sorted(points)), np.array([points[s][1] for s in sorted(points)]))
            for tag, points in series.items() if points}


def _tensor_value(proto):
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(proto)


def plot_run(run, out=None, echo=print) -> Path:
    """`dcgan plot`: losses, mean D outputs and any evaluation metric, one panel each, over steps."""
    run = find_run(run)
    out = check_out(Path(out) if out else run / "losses.png", PLOT_FORMATS)
    scalars = read_scalars(run / runs.LOGS_DIR)
    if not scalars:
        raise UserError(f"{run / runs.LOGS_DIR} holds no logged scalars yet; train past --log-every steps, then plot")
    # time/* (training time beside each evaluation) is the x axis of benchmarks/quality_curve.py, not a metric.
    metrics = sorted(t for t in scalars if t not in LOSS_TAGS + D_TAGS and not t.startswith("time/"))
    panels = [("losses", [t for t in LOSS_TAGS if t in scalars]), ("mean D output", [t for t in D_TAGS if t in scalars])]
    panels = [p for p in panels if p[1]] + [(t, [t]) for t in metrics]

    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.8 * len(panels)), sharex=True, squeeze=False)
    for ax, (title, tags) in zip(axes[:, 0], panels):
        for tag in tags:
            steps, values = scalars[tag]
            ax.plot(steps, values, marker="." if len(steps) < 30 else None, label=D_NAMES.get(tag, tag))
        if title == "mean D output":
            ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")  # where an even game sits
            ax.set_ylim(0, 1)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[-1, 0].set_xlabel("step")
    config = Config.load(run)
    fig.suptitle(f"{run.name}: {config.model}, {config.loss} loss, batch {config.batch_size}")
    fig.tight_layout()
    tmp = out.with_name(out.name + ".tmp")
    fig.savefig(tmp, format=out.suffix[1:].lower(), dpi=100)
    plt.close(fig)
    os.replace(tmp, out)
    echo(f"wrote {out}: {', '.join(t for _, tags in panels for t in tags)} over "
         f"{max(len(s) for s, _ in scalars.values())} logged steps")
    return out


# --- dcgan movie --------------------------------------------------------------------------------

def sample_grids(run: Path) -> list[tuple[int, Path]]:
    grids = []
    for path in (run / runs.SAMPLES_DIR).glob("step_*.png"):
        match = STEP_FILE.search(path.name)
        if match:
            grids.append((int(match.group(1)), path))
    return sorted(grids)


def make_movie(run, out=None, echo=print) -> Path:
    """`dcgan movie`: the fixed-z sample grids in step order, each stamped with its step."""
    import tensorflow as tf

    run = find_run(run)
    out = check_out(Path(out) if out else run / "progress.gif", (".gif",))
    grids = sample_grids(run)
    if not grids:
        raise UserError(f"{run / runs.SAMPLES_DIR} holds no step_N.png sample grids; train past --sample-every steps first")
    config = Config.load(run)
    scale = max(1, 64 // config.image_size)
    pitch = config.image_size + 1  # the trainer's grids: 1-pixel gaps, one row per class when conditional
    frames = []
    for step, path in grids:
        image = upscale(tf.io.decode_png(path.read_bytes()).numpy(), scale)
        if config.conditional and image.shape[0] == (config.num_classes * pitch - 1) * scale:
            image = add_row_labels(image, [str(k) for k in range(config.num_classes)], pitch * scale)
        frames.append(add_title(image, f"step {step}"))
    save_gif(out, frames, MOVIE_FRAME_MS, last_ms=MOVIE_LAST_MS)
    echo(f"wrote {out}: {len(frames)} frames, steps {grids[0][0]}..{grids[-1][0]}")
    return out


# --- dcgan filters ------------------------------------------------------------------------------

def load_discriminator(checkpoint):
    """(run dir, config, D in float32, step) from RUN, RUN/ckpt or RUN/ckpt/ckpt-N."""
    import tensorflow as tf

    from dcgan_cli.viz.sampling import build_for_config

    run_dir, prefix = runs.resolve_checkpoint(checkpoint)
    config = Config.load(run_dir)
    try:
        _, discriminator = build_for_config(config)
    except ValueError as exc:
        raise UserError(f"{run_dir}/config.json describes no buildable model ({exc}); restore the run's config.json") from None
    step = tf.Variable(0, dtype=tf.int64)
    try:
        status = tf.train.Checkpoint(discriminator=discriminator, step=step).restore(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise UserError(f"checkpoint {prefix} does not fit the {config.model} model of {run_dir}/config.json ({first})") from None
    return run_dir, config, discriminator, int(step.numpy())


def feature_layers(discriminator) -> list:
    """D's hidden convolution and linear layers, input side first (the logit layer excluded)."""
    import keras

    layers = [l for l in discriminator.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))]
    return layers[:-1]


def activation_of(discriminator, layer):
    """The layer's output after its BatchNorm and LeakyReLU: what the next layer sees."""
    name = layer.name.rsplit("_", 1)[0] + "_lrelu"  # d_h1_conv -> d_h1_lrelu
    try:
        return discriminator.get_layer(name).output
    except ValueError:
        return layer.output


def first_layer_filters(layer, channels: int) -> np.ndarray:
    """N x k x k x C uint8: each filter's image-channel weights, stretched to black..white on its own."""
    kernel = np.asarray(layer.kernel.numpy(), np.float32)[:, :, :channels, :]  # label planes left out
    filters = np.moveaxis(kernel, -1, 0)
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    high = filters.max(axis=(1, 2, 3), keepdims=True)
    return np.rint((filters - low) / np.maximum(high - low, 1e-12) * 255).astype(np.uint8)


def real_images(config: Config, data_dir, count: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Up to `count` real images in [-1, 1] and their one-hot labels (MNIST: the held-out test set)."""
    if config.dataset == "mnist":
        from dcgan_cli.datasets.mnist import load_mnist, to_model_range

        mnist = load_mnist(data_dir or config.data_dir)
        images = np.asarray(to_model_range(mnist.test_images[:count]), np.float32)
        labels = np.eye(config.num_classes, dtype=np.float32)[mnist.test_labels[:count]] if config.conditional else None
        return images, labels
    from dcgan_cli.datasets import training_data

    if data_dir:
        import dataclasses

        config = dataclasses.replace(config, data_dir=str(data_dir))
    try:
        dataset, _ = training_data(config, 0)
    except ValueError as exc:
        raise UserError(f"cannot read the {config.dataset} images of this run ({exc}); pass --data-dir") from None
    images, labels, have = [], [], 0
    for batch_images, batch_labels in dataset:
        images.append(np.asarray(batch_images, np.float32))
        labels.append(np.asarray(batch_labels, np.float32))
        have += len(images[-1])
        if have >= count:
            break
    labels_all = np.concatenate(labels)[:count]
    return np.concatenate(images)[:count], (labels_all if config.conditional else None)


def top_activating(discriminator, layer, images, labels, channels: list[int], top: int) -> np.ndarray:
    """channels x top indices of the images whose strongest response in each channel is highest."""
    import keras

    probe = keras.Model(discriminator.inputs, activation_of(discriminator, layer))
    acts = []
    for start in range(0, len(images), 256):
        batch = images[start:start + 256]
        inputs = [batch, labels[start:start + 256]] if labels is not None else batch
        acts.append(np.asarray(probe(inputs, training=False), np.float32))
    acts = np.concatenate(acts)
    strongest = acts.reshape(len(acts), -1, acts.shape[-1]).max(axis=1)  # max over positions
    return np.argsort(-strongest[:, channels], axis=0, kind="stable")[:top].T


def parse_channels(text: str | None, available: int, default: int = 8) -> list[int]:
    if not text:
        return list(range(min(default, available)))
    try:
        channels = [int(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise UserError(f"--channels {text!r} is not a list of channel numbers; write e.g. --channels 0,3,7") from None
    bad = [c for c in channels if not 0 <= c < available]
    if bad or not channels:
        raise UserError(f"--channels {bad[0] if bad else text!r} is out of range: this layer has channels 0..{available - 1}")
    return channels


def show_filters(checkpoint, layer_index=0, out=None, channels=None, top=8, pool=2000, data_dir=None, echo=print) -> Path:
    """`dcgan filters`: layer 0's filters as pictures; deeper layers as their top real images per channel."""
    if top <= 0 or pool <= 0:
        raise UserError(f"--top and --pool must be positive, got {top} and {pool}")
    if layer_index == 0 and channels:
        raise UserError("--channels picks channels of deeper layers; layer 0 shows all its filters: add --layer 1 or more")
    if out is not None:
        check_out(Path(out), (".png",))
    run_dir, config, discriminator, step = load_discriminator(checkpoint)
    layers = feature_layers(discriminator)
    if not 0 <= layer_index < len(layers):
        names = ", ".join(f"{i} {l.name}" for i, l in enumerate(layers))
        raise UserError(f"--layer {layer_index} is out of range: D's layers are {names}")
    layer = layers[layer_index]
    out = check_out(Path(out) if out else run_dir / "samples" / f"filters_layer{layer_index}_step{step}.png", (".png",))
    width = layer.kernel.shape[-1]
    if layer_index == 0:
        filters = first_layer_filters(layer, config.channels)
        size = filters.shape[1]
        image = upscale(grid(filters, cols=min(16, len(filters))), max(1, 40 // size))
        title = f"D layer 0 ({layer.name}): {len(filters)} {size}x{size} filters, step {step}"
        picture = add_title(image, title)
        what = f"{len(filters)} filters"
    else:
        chosen = parse_channels(channels, width)
        images, labels = real_images(config, data_dir, pool)
        best = top_activating(discriminator, layer, images, labels, chosen, top)
        tiles = to_uint8(images[best.reshape(-1)])
        scale = max(1, 64 // config.image_size)
        image = upscale(grid(tiles, rows=len(chosen), cols=best.shape[1]), scale)
        image = add_row_labels(image, [f"ch {c}" for c in chosen], (config.image_size + 1) * scale)
        picture = add_title(image, f"D layer {layer_index} ({layer.name}): top {best.shape[1]} of {len(images)} real images per channel")
        what = f"top {best.shape[1]} of {len(images)} real images for channels {','.join(map(str, chosen))}"
    save_png(out, picture)
    echo(f"wrote {out}: D layer {layer_index} ({layer.name}) at step {step}, {what}")
    return out
