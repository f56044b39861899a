"""Pictures of a run rather than of a generator: `dcgan plot`, `dcgan movie` and `dcgan filters`.

plot     loss curves and mean D(x) / D(G(z)) from RUN/logs (plus any other scalar: evaluation metrics)
movie    RUN/samples/step_N.png, the fixed-z grids, as one GIF with the step stamped on each frame
filters  D's first-layer filters; for deeper layers, the real images that excite chosen channels most
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dcgan_cli import run_dir as runs
from dcgan_cli.config import Config
from dcgan_cli.errors import UserError
from dcgan_cli.files import atomic_path, check_writable
from dcgan_cli.pixels import to_model_range, to_uint8
from dcgan_cli.viz.images import add_row_labels, add_title, grid, save_gif, save_png, upscale

LOSS_TAGS = ("d_loss_real", "d_loss_fake", "d_penalty", "d_loss", "g_loss")
# What D says of real and fake images, by objective (train.step.metric_names): sigmoid(D) for the
# cross-entropy losses, raw scores for the others; a critic's Wasserstein estimate and a penalty's
# mean gradient norm get panels of their own.
D_TAGS = ("d_real", "d_fake")
SCORE_TAGS = ("score_real", "score_fake")
D_NAMES = {"d_real": "D(x), real", "d_fake": "D(G(z)), fake", "score_real": "D(x), real", "score_fake": "D(G(z)), fake",
           "d_penalty": "d_penalty (in d_loss)", "wasserstein": "E[D(x)] - E[D(G(z))]", "grad_norm": "mean ||grad_x D||",
           "g_feature_matching": "||E f(x) - E f(G(z))||^2 (in g_loss)", "d_hist_avg": "D's historical averaging (in d_loss)",
           "g_hist_avg": "G's historical averaging (in g_loss)"}
PANEL_TITLES = {"wasserstein": "Wasserstein estimate", "grad_norm": "gradient norm at the penalty's points",
                "g_feature_matching": "feature matching", "d_hist_avg": "historical averaging, D",
                "g_hist_avg": "historical averaging, G"}
PLOT_FORMATS = (".png", ".svg", ".pdf")
MOVIE_FRAME_MS = 400
MOVIE_LAST_MS = 2000  # hold the final grid so the loop's end is visible
STEP_FILE = re.compile(r"step_(\d+)\.png$")


def find_run(run) -> Path:
    run = Path(run)
    if not (run / "config.json").exists():
        raise UserError(f"--run {run} is not a run directory (no config.json); pass the --out folder of `dcgan train`")
    return run


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
    out = check_writable(Path(out) if out else run / "losses.png", suffixes=PLOT_FORMATS)
    scalars = read_scalars(run / runs.LOGS_DIR)
    if not scalars:
        raise UserError(f"{run / runs.LOGS_DIR} holds no logged scalars yet; train past --log-every steps, then plot")
    # time/* (training time beside each evaluation) is the x axis of benchmarks/quality_curve.py, not a metric.
    metrics = sorted(t for t in scalars if t not in LOSS_TAGS + D_TAGS + SCORE_TAGS and not t.startswith("time/"))
    panels = [("losses", [t for t in LOSS_TAGS if t in scalars]), ("mean D output", [t for t in D_TAGS if t in scalars]),
              ("mean D score (raw)", [t for t in SCORE_TAGS if t in scalars])]
    panels = [p for p in panels if p[1]] + [(PANEL_TITLES.get(t, t), [t]) for t in metrics]

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
    fig.suptitle(f"{run.name}: {config.family} family, {config.loss} loss, batch {config.batch_size}")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=out.suffix[1:].lower(), dpi=100)
    plt.close(fig)
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
    out = check_writable(Path(out) if out else run / "progress.gif", suffixes=(".gif",))
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

def hidden_layers(family, discriminator) -> list[tuple]:
    """(weight layer, the name of the activation after it) for D's hidden layers, input side first."""
    return [(discriminator.get_layer(weights), activation) for weights, activation in family.hidden_layers()]


def first_layer_filters(layer, image_size: int, channels: int) -> np.ndarray:
    """N x k x k x C uint8: each filter's image-channel weights, stretched to black..white on its own.
    A dense first layer (mlp) has one filter per unit, as large as the image."""
    kernel = np.asarray(layer.kernel.numpy(), np.float32)
    if kernel.ndim == 2:
        filters = kernel.T.reshape(-1, image_size, image_size, channels)
    else:
        filters = np.moveaxis(kernel[:, :, :channels, :], -1, 0)  # label planes left out
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    high = filters.max(axis=(1, 2, 3), keepdims=True)
    return np.rint((filters - low) / np.maximum(high - low, 1e-12) * 255).astype(np.uint8)


def real_images(config: Config, data_dir, count: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Up to `count` real images in [-1, 1] and their one-hot labels (MNIST: the held-out test set)."""
    if config.dataset == "mnist":
        from dcgan_cli.datasets.mnist import load_mnist

        mnist = load_mnist(data_dir or config.data_dir)
        images = np.asarray(to_model_range(mnist.test_images[:count]), np.float32)
        labels = np.eye(config.num_classes, dtype=np.float32)[mnist.test_labels[:count]] if config.conditional else None
        return images, labels
    from dcgan_cli.datasets import training_data

    if data_dir:
        import dataclasses

        config = dataclasses.replace(config, data_dir=str(data_dir))
    try:
        dataset = training_data(config, 0).dataset
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


def top_activating(family, discriminator, activation: str, images, labels, channels: list[int], top: int) -> np.ndarray:
    """channels x top indices of the images whose strongest response in each channel is highest."""
    acts = family.features(discriminator, images, labels, names=[activation], batch_size=256)[activation]
    strongest = acts.reshape(len(acts), -1, acts.shape[-1]).max(axis=1)  # max over positions
    return np.argsort(-strongest[:, channels], axis=0, kind="stable")[:top].T


def parse_channels(text: str | None, available: int, default: int = 8) -> list[int]:
    from dcgan_cli.viz.sample import parse_numbers

    if not text:
        return list(range(min(default, available)))
    return parse_numbers(text, "--channels", "channels", available, "this layer")


def show_filters(checkpoint, layer_index=0, out=None, channels=None, top=8, pool=2000, data_dir=None, echo=print) -> Path:
    """`dcgan filters`: layer 0's filters as pictures; deeper layers as their top real images per channel."""
    if top <= 0 or pool <= 0:
        raise UserError(f"--top and --pool must be positive, got {top} and {pool}")
    if layer_index == 0 and channels:
        raise UserError("--channels picks channels of deeper layers; layer 0 shows all its filters: add --layer 1 or more")
    from dcgan_cli.restore import load_run

    if out is not None:
        check_writable(out, suffixes=(".png",))
    run = load_run(checkpoint, generator=False, discriminator=True)
    run_dir, config, discriminator, step = run.run_dir, run.config, run.discriminator, run.step
    layers = hidden_layers(run.family, discriminator)
    if not 0 <= layer_index < len(layers):
        names = ", ".join(f"{i} {l.name}" for i, (l, _) in enumerate(layers))
        raise UserError(f"--layer {layer_index} is out of range: D's layers are {names}")
    layer, activation = layers[layer_index]
    out = check_writable(Path(out) if out else run_dir / runs.SAMPLES_DIR / f"filters_layer{layer_index}_step{step}.png",
                         suffixes=(".png",))
    width = layer.kernel.shape[-1]
    if layer_index == 0:
        filters = first_layer_filters(layer, config.image_size, config.channels)
        size = filters.shape[1]
        image = upscale(grid(filters, cols=min(16, len(filters))), max(1, 40 // size))
        title = f"D layer 0 ({layer.name}): {len(filters)} {size}x{size} filters, step {step}"
        picture = add_title(image, title)
        what = f"{len(filters)} filters"
    else:
        chosen = parse_channels(channels, width)
        images, labels = real_images(config, data_dir, pool)
        best = top_activating(run.family, discriminator, activation, images, labels, chosen, top)
        tiles = to_uint8(images[best.reshape(-1)])
        scale = max(1, 64 // config.image_size)
        image = upscale(grid(tiles, rows=len(chosen), cols=best.shape[1]), scale)
        image = add_row_labels(image, [f"ch {c}" for c in chosen], (config.image_size + 1) * scale)
        picture = add_title(image, f"D layer {layer_index} ({layer.name}): top {best.shape[1]} of {len(images)} real images per channel")
        what = f"top {best.shape[1]} of {len(images)} real images for channels {','.join(map(str, chosen))}"
    save_png(out, picture)
    echo(f"wrote {out}: D layer {layer_index} ({layer.name}) at step {step}, {what}")
    return out
