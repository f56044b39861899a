"""Turning uint8 images into pictures: grids, captions, PNG, GIF and NPZ files (written atomically).

G's float output becomes uint8 through dcgan_cli.pixels.to_uint8.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dcgan_cli.files import atomic_path, write_bytes


def grid(images: np.ndarray, rows: int | None = None, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile N x H x W x C uint8 images into one image, row-major, with `pad` pixels of gap."""
    n, h, w, c = images.shape
    if cols is None:
        cols = math.ceil(math.sqrt(n)) if rows is None else math.ceil(n / rows)
    if rows is None:
        rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + pad) - pad, cols * (w + pad) - pad, c), np.uint8)
    for i, image in enumerate(images[: rows * cols]):
        r, col = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, col * (w + pad): col * (w + pad) + w] = image
    return out


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling: small digits stay crisp instead of blurry."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image


def save_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an H x W x C uint8 image."""
    import tensorflow as tf

    return write_bytes(path, tf.io.encode_png(image).numpy())


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    return Path(path)


# --- Captions and animations (dcgan sample --mode ..., dcgan movie) ---------------------------
# Text is drawn after upscaling, at the font's own size, so captions stay sharp whatever the scale.

CAPTION_GAP = 3
FONT_SIZE = 12


def _font():
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except (TypeError, OSError):  # Pillow without FreeType: its fixed bitmap font
        return ImageFont.load_default()


def _text_size(text: str) -> tuple[int, int]:
    left, top, right, bottom = _font().getbbox(text)
    return right - min(left, 0), bottom - min(top, 0)


def _draw(canvas: np.ndarray, xy, text: str) -> np.ndarray:
    from PIL import ImageDraw

    pil = to_pil(canvas)
    ImageDraw.Draw(pil).text(xy, text, fill=255 if pil.mode == "L" else (255, 255, 255), font=_font())
    return np.asarray(pil).reshape(canvas.shape)


def add_title(image: np.ndarray, text: str) -> np.ndarray:
    """A strip above the image holding `text`; the canvas widens if the text is wider."""
    if not text:
        return image
    width, height = _text_size(text)
    h, w, c = image.shape
    canvas = np.zeros((h + height + 2 * CAPTION_GAP, max(w, width + 2 * CAPTION_GAP), c), np.uint8)
    canvas[height + 2 * CAPTION_GAP:, :w] = image
    return _draw(canvas, (CAPTION_GAP, CAPTION_GAP), text)


def add_row_labels(image: np.ndarray, labels: list[str], row_pitch: int) -> np.ndarray:
    """A strip left of a grid naming each row; row i is centred at i * row_pitch + row_pitch / 2."""
    if not labels:
        return image
    width = max(_text_size(t)[0] for t in labels) + 2 * CAPTION_GAP
    h, w, c = image.shape
    canvas = np.zeros((h, w + width, c), np.uint8)
    canvas[:, width:] = image
    for i, text in enumerate(labels):
        canvas = _draw(canvas, (CAPTION_GAP, i * row_pitch + (row_pitch - _text_size(text)[1]) // 2), text)
    return canvas


def to_pil(image: np.ndarray):
    from PIL import Image

    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def save_gif(path: str | os.PathLike, frames: list[np.ndarray], frame_ms: int = 200, last_ms: int | None = None) -> Path:
    """An endlessly looping GIF of H x W x C uint8 frames (padded to one size)."""
    path = Path(path)
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    padded = []
    for frame in frames:
        canvas = np.zeros((h, w, frame.shape[2]), np.uint8)
        canvas[: frame.shape[0], : frame.shape[1]] = frame
        padded.append(to_pil(canvas))
    durations = [frame_ms] * len(padded)
    if last_ms is not None:
        durations[-1] = last_ms
    with atomic_path(path) as tmp:
        padded[0].save(tmp, format="GIF", save_all=True, append_images=padded[1:], duration=durations, loop=0)
    return path
