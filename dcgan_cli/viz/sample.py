"""`dcgan sample`: images from a checkpoint, in every --mode, through one path.

grid         tiles of z from the sampling stream (conditional models cycle their classes); a PNG
             grid keeps its tiles' z's (and labels) beside it, GRID.z.npz, for --from
per-class    one row per class
interpolate  rows of spherical (or linear) walks between pairs of z's, label fixed per row
sweep        carpedm20's visualisation modes 1-4: one z dimension swept across its range, per
             dimension as a grid (.png) or GIF (.gif), plus an overview (.png) or merged GIF (.gif);
             with --code NAME, one latent code of an InfoGAN run, as in the paper's figures
arithmetic   the paper's vector arithmetic mean(a) - mean(b) + mean(c) on tiles of an earlier grid
class-morph  conditional models: fixed z, the one-hot label vector blended from one class to another

Every mode checks its options, then builds a Drawing: Sheets (rows x columns of images) and the
raw arrays. A .png shows a sheet as a grid, a .gif plays its columns as frames, a .npz holds the
arrays (images uint8, z's, labels). What G takes comes from the run's family (models/family.py).
A family with latent codes (InfoGAN) draws them, like z, from --seed; `--code NAME=VALUE` fixes one
in every mode.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dcgan_cli.config import Config
from dcgan_cli.errors import UserError
from dcgan_cli.files import check_writable, folder_problem, write_json, write_text
from dcgan_cli.models.family import SAMPLE_STREAM, Z_DISTRIBUTIONS
from dcgan_cli.pixels import to_uint8
from dcgan_cli.run_dir import SAMPLES_DIR, resolve_checkpoint
from dcgan_cli.viz.images import add_row_labels, add_title, grid, save_gif, save_npz, save_png, upscale

MODES = ("grid", "per-class", "interpolate", "sweep", "arithmetic", "class-morph")
NEEDS_LABELS = ("per-class", "class-morph")
ANIMATED = ("interpolate", "sweep", "class-morph")  # modes whose columns make sense as GIF frames
DEFAULT_TILES = 64
DEFAULT_PER_CLASS = 10
DEFAULT_ROWS = 8
DEFAULT_STEPS = 10
# The options each mode reads; any other one given is a mistake worth one line, not silence.
MODE_OPTIONS = {"grid": set(), "per-class": set(), "interpolate": {"steps", "linear", "source", "a", "b"},
                "sweep": {"steps", "dims", "range"}, "arithmetic": {"source", "a", "b", "c"}, "class-morph": {"steps"}}
OPTION_FLAGS = {"steps": "--steps", "linear": "--linear", "dims": "--dims", "range": "--range", "source": "--from",
                "a": "--a", "b": "--b", "c": "--c"}
ARITHMETIC_NOISE = 0.25  # the paper's +-0.25 uniform noise around the result, for its variations
FRAME_MS = 150


@dataclass
class Sheet:
    tiles: np.ndarray  # rows x cols x H x W x C uint8
    title: str = ""
    row_labels: list[str] | None = None
    col_labels: list[str] = field(default_factory=list)  # also each GIF frame's caption


@dataclass
class Drawing:
    """What a mode drew: sheets by tag ("" is the main one), the arrays a .npz holds, and for grids
    the z's (and labels) of their tiles, which a PNG keeps beside it for --from."""

    sheets: dict[str, Sheet]
    arrays: dict
    summary: str  # e.g. "64 images of 28x28x1", or the mode
    tiles: dict | None = None
    notes: list[str] = field(default_factory=list)  # lines to print after the files


@dataclass
class Request:
    """Everything `dcgan sample` was asked for, as parsed by the CLI."""

    checkpoint: str
    mode: str = "grid"
    num: int | None = None
    labels: list[int | str] = field(default_factory=list)  # class ids or the run's class names
    seed: int = 0
    out: str | None = None
    steps: int | None = None  # default DEFAULT_STEPS
    linear: bool = False
    dims: str | None = None
    source: str | None = None  # --from: a grid written earlier
    a: str | None = None
    b: str | None = None
    c: str | None = None
    index: int | None = None  # --index: image I of --out DIR/'s numbering alone
    overwrite: bool = False  # --out DIR/ may replace the images of a non-empty folder
    codes: list[str] = field(default_factory=list)  # --code: NAME=VALUE fixes a latent code, NAME (sweep) sweeps it
    range: str | None = None  # --range LOW,HIGH: what sweep runs z[d] or a continuous code over


@dataclass(frozen=True)
class Codes:
    """--code, checked against the run's family: the codes fixed (name -> value) and the one swept."""

    fixed: dict[str, float] = field(default_factory=dict)
    swept: str | None = None

    def flags(self) -> str:
        """The fixed codes as options, for commands that draw the same images again."""
        return "".join(f" --code {name}={value!r}" for name, value in self.fixed.items())  # repr: the exact value


def run(request: Request, echo=print, warn=print) -> list[Path]:
    """`dcgan sample`: check everything, restore G, draw the mode, write the files."""
    from dcgan_cli.restore import load_run

    r = request
    if r.out is not None and is_folder(r.out) or r.index is not None:
        return run_numbered(r, echo, warn)
    if r.mode not in MODES:
        raise UserError(f"--mode {r.mode} is unknown; choose one of {', '.join(MODES)}")
    if r.overwrite:
        raise UserError("--overwrite is for --out DIR/ (one PNG per image); a FILE is always replaced: drop --overwrite")
    unused = [name for name in OPTION_FLAGS if getattr(r, name) not in (None, False) and name not in MODE_OPTIONS[r.mode]]
    if unused:
        users = [m for m, names in MODE_OPTIONS.items() if unused[0] in names]
        raise UserError(f"{OPTION_FLAGS[unused[0]]} does nothing in --mode {r.mode}; it is for --mode {' or '.join(users)}")
    r = dataclasses.replace(r, steps=DEFAULT_STEPS if r.steps is None else r.steps)
    check_request(r)
    run_dir, _ = resolve_checkpoint(r.checkpoint)
    saved = Config.load(run_dir)
    codes = parse_codes(saved.make_family(), request, run_dir)  # as typed: --steps given or not
    r = dataclasses.replace(r, labels=class_ids(saved, r.labels, run_dir))
    check_labels(saved, r, run_dir)
    tiles = load_tiles(r, saved) if r.source else None
    if r.mode == "sweep":
        parse_dims(r.dims, saved.z_dim)
        parse_range(r.range)
    if r.out is not None:
        check_writable(r.out)
    loaded = load_run(r.checkpoint)
    warn_other_version(run_dir, warn)
    name = "sample" if r.mode in ("grid", "per-class") else f"sweep-{codes.swept}" if codes.swept else r.mode
    out = check_writable(Path(r.out) if r.out else run_dir / SAMPLES_DIR / f"{name}_step{loaded.step}_seed{r.seed}.png")

    draw = Drawer(loaded.family, loaded.generator, r.seed, codes.fixed)
    drawing = sweep_code(draw, r, codes.swept) if codes.swept else MODE_BUILDERS[r.mode](draw, r, tiles)
    written = write(out, drawing, scale=max(1, 64 // loaded.config.image_size))
    more = f" and {len(written) - 3} more" if len(written) > 3 else ""
    echo(f"wrote {', '.join(str(p) for p in written[:3])}{more}: {drawing.summary} from {run_dir} "
         f"at step {loaded.step} (seed {r.seed})")
    for line in drawing.notes:
        echo(line.format(run_dir=run_dir, out=written[0]))
    return written


# --- One file per image: --out DIR/ and --index ---------------------------------------------------
# Image i of seed S is tile i of `--mode grid --seed S`: z row i of the sampling stream and, for
# families that take labels, class i of the cycle through --label (default every class). G draws it
# in batch i // NUMBERED_BATCH, always with the same neighbours, so --index I alone reproduces the
# folder's file bit for bit (a batch of another size may round differently).
NUMBERED_BATCH = 100
MANIFEST = "manifest.json"
LABELS_CSV = "labels.csv"


def is_folder(out: str) -> bool:
    """--out DIR/ (or an existing folder) asks for one PNG per image."""
    return str(out).endswith(("/", os.sep)) or Path(out).is_dir()


def image_name(index: int) -> str:
    return f"{index:06d}.png"


def numbered_images(draw: Drawer, seed: int, labels: list[int], start: int, stop: int):
    """(uint8 images start..stop-1, their classes or None), each drawn within its batch of NUMBERED_BATCH."""
    first, end = start // NUMBERED_BATCH * NUMBERED_BATCH, -(-stop // NUMBERED_BATCH) * NUMBERED_BATCH
    z = draw.sample_z(end, seed)  # counter-based: the first rows do not depend on how many are drawn
    classes = draw.row_classes(end, labels)
    codes = draw.codes(end)
    batches = [draw(z[b:b + NUMBERED_BATCH], None if classes is None else classes[b:b + NUMBERED_BATCH],
                    None if codes is None else codes[b:b + NUMBERED_BATCH])
               for b in range(first, end, NUMBERED_BATCH)]
    images = np.concatenate(batches)[start - first:stop - first]
    return images, None if classes is None else classes[start:stop]


def check_numbered(r: Request, config: Config, run_dir: Path) -> Path | None:
    """--out DIR/ and --index's own rules; returns the folder to write (None for --index)."""
    if r.mode != "grid":
        raise UserError(f"--mode {r.mode} draws sheets; --out DIR/ and --index write --mode grid's images, one per file")
    unused = [OPTION_FLAGS[name] for name in OPTION_FLAGS if getattr(r, name) not in (None, False)]
    if unused:
        raise UserError(f"{unused[0]} does nothing with --out DIR/ or --index; drop it")
    check_labels(config, r, run_dir)
    if r.index is not None:
        if r.index < 0:
            raise UserError(f"--index must be 0 or more, got {r.index}")
        if r.num is not None:
            raise UserError("--index draws one image; drop --num")
        if r.out is not None and (is_folder(r.out) or Path(r.out).suffix.lower() != ".png"):
            raise UserError(f"--index writes one image: --out must be a FILE.png, got {r.out}")
        return None
    if r.num is not None and r.num <= 0:
        raise UserError(f"--num must be a positive integer, got {r.num}")
    folder = Path(r.out)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {r.out} is a file, not a folder; choose a folder")
    if folder.is_dir() and any(folder.iterdir()) and not r.overwrite:
        raise UserError(f"--out {folder} is not empty; pass --overwrite to replace its images, or choose an empty "
                        f"or new folder")
    nearest = folder
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    problem = folder_problem(nearest)
    if problem:
        raise UserError(f"cannot write to {folder}: {nearest} {problem}; choose another --out")
    return folder


def run_numbered(r: Request, echo, warn) -> list[Path]:
    """`--out DIR/`: one PNG per image, labels.csv, manifest.json; `--index I`: image I alone."""
    from dcgan_cli import __version__
    from dcgan_cli.restore import load_run

    run_dir, _ = resolve_checkpoint(r.checkpoint)
    saved = Config.load(run_dir)
    codes = parse_codes(saved.make_family(), r, run_dir)
    folder = check_numbered(r, saved, run_dir)
    loaded = load_run(r.checkpoint)
    warn_other_version(run_dir, warn)
    draw = Drawer(loaded.family, loaded.generator, r.seed, codes.fixed)
    source = f"{run_dir} at step {loaded.step} (seed {r.seed})"
    if folder is None:
        out = check_writable(Path(r.out) if r.out else
                             run_dir / SAMPLES_DIR / f"image_step{loaded.step}_seed{r.seed}_index{r.index}.png")
        images, classes = numbered_images(draw, r.seed, r.labels, r.index, r.index + 1)
        save_png(out, images[0])
        label = "" if classes is None else f", class {classes[0]}"
        echo(f"wrote {out}: image {r.index}{label} from {source}")
        return [out]

    num = r.num or DEFAULT_TILES
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {folder} ({exc.strerror}); choose another --out") from None
    ours = {image_name(i) for i in range(num)} | {MANIFEST, LABELS_CSV}
    stale = [p for p in folder.iterdir() if p.name not in ours and (p.name in (MANIFEST, LABELS_CSV) or
                                                                    re.fullmatch(r"\d{6,}\.png", p.name))]
    records = []
    for start in range(0, num, NUMBERED_BATCH):
        images, classes = numbered_images(draw, r.seed, r.labels, start, min(start + NUMBERED_BATCH, num))
        for offset, image in enumerate(images):
            index = start + offset
            save_png(folder / image_name(index), image)
            records.append({"index": index, "file": image_name(index)} |
                           ({} if classes is None else {"label": int(classes[offset])}))
    for path in stale:  # an earlier, larger sample's images, replaced with --overwrite
        path.unlink(missing_ok=True)
    written = [folder / record["file"] for record in records]
    if loaded.family.takes_labels:
        rows = "".join(f"{record['file']},{record['index']},{record['label']}\n" for record in records)
        written.append(write_text(folder / LABELS_CSV, "file,index,label\n" + rows))
    regenerate = (f"dcgan sample --checkpoint {loaded.checkpoint} --seed {r.seed}"
                  + "".join(f" --label {k}" for k in r.labels) + codes.flags() + " --index I --out FILE.png")
    manifest = {"checkpoint": loaded.checkpoint, "run": str(run_dir), "step": loaded.step, "seed": r.seed,
                "labels": r.labels or None, "family": loaded.config.family, "num": num, "dcgan": __version__,
                "codes": codes.fixed or None,
                "image_shape": [loaded.config.image_size, loaded.config.image_size, loaded.config.channels],
                "regenerate": regenerate, "images": records}
    written.append(write_json(folder / MANIFEST, manifest))
    size = loaded.config.image_size
    echo(f"wrote {num} images of {size}x{size}x{loaded.config.channels} to {folder}"
         f"{', labels.csv' if loaded.family.takes_labels else ''} and {MANIFEST}, from {source}")
    return written


def warn_other_version(run_dir: Path, warn) -> None:
    """One line when history.jsonl says another minor version of dcgan 0.x trained the run."""
    from dcgan_cli import __version__, history

    def incompatible(version: str) -> bool:  # 0.x: every minor version may break; from 1.0 the major
        (major, minor), (our_major, our_minor) = (tuple((v.split(".") + ["0"])[:2]) for v in (version, __version__))
        return major != our_major or (major == "0" and minor != our_minor)

    others = sorted({str(record["dcgan"]) for record in history.read(run_dir)
                     if record.get("dcgan") and incompatible(str(record["dcgan"]))})
    if others:
        warn(f"warning: {run_dir} was trained by dcgan {' and '.join(others)} ({history.HISTORY_FILE}), this is "
             f"{__version__}; 0.x minor versions may change the models or sampling, so images may differ from that "
             f"version's")


# --- Checks: all before any model is built or file written -------------------------------------

def check_request(r: Request) -> None:
    suffix = Path(r.out).suffix.lower() if r.out else ".png"
    if suffix not in (".png", ".gif", ".npz"):
        raise UserError(f"--out {r.out} must end in .png, .gif or .npz")
    if suffix == ".gif" and r.mode not in ANIMATED:
        raise UserError(f"--out {r.out}: --mode {r.mode} has no animation; use --out FILE.png or FILE.npz")
    if r.num is not None and r.num <= 0:
        raise UserError(f"--num must be a positive integer, got {r.num}")
    if r.steps < 2:
        raise UserError(f"--steps must be at least 2 (both ends of the walk), got {r.steps}")
    if r.mode == "arithmetic" and not (r.source and r.a and r.b and r.c):
        raise UserError("--mode arithmetic needs --from GRID.png --a IDS --b IDS --c IDS: tile ids of a grid "
                        "written by `dcgan sample --mode grid --out GRID.png`")
    if r.mode == "interpolate" and not bool(r.a) == bool(r.b) == bool(r.source):
        raise UserError("--mode interpolate takes --from GRID.png, --a and --b together (walks from tile a[i] to "
                        "tile b[i] of a grid written by `dcgan sample --out GRID.png`), or none of them")


def class_names(config: Config) -> list[str]:
    """What each class id of the run means: its saved names, or (runs from before they were saved) its dataset's."""
    from dcgan_cli.datasets import DATASETS

    if config.class_names:
        return list(config.class_names)
    known = DATASETS[config.dataset].class_names
    return list(known) if len(known) == config.num_classes else [str(k) for k in range(config.num_classes)]


def class_ids(config: Config, labels, run_dir: Path) -> list[int]:
    """--label values as class ids: a class name of the run (that wins, for folders named like numbers) or an id."""
    names = class_names(config)
    ids = []
    for label in labels:
        text = str(label)
        if text in names:
            ids.append(names.index(text))
        elif text.lstrip("-").isdigit():
            ids.append(int(text))
        else:
            listed = ", ".join(f"{k} {name}" for k, name in enumerate(names)) or "none: it takes no labels"
            raise UserError(f"--label {text!r} is not a class of {run_dir}; its classes are {listed}")
    return ids


def check_labels(config: Config, r: Request, run_dir: Path) -> None:
    if not config.conditional and (r.mode in NEEDS_LABELS or r.labels):
        what = f"--mode {r.mode}" if r.mode in NEEDS_LABELS else "--label"
        raise UserError(f"{run_dir} holds an unconditional model (family {config.family}): {what} needs class "
                        f"labels; use a run of a family that takes them (dcgan train mnist --conditional)")
    bad = [k for k in r.labels if not 0 <= k < config.num_classes]
    if bad:
        raise UserError(f"--label {bad[0]} is out of range: this model has classes 0..{config.num_classes - 1}")
    if r.mode == "class-morph" and len(r.labels) == 1:
        raise UserError("--mode class-morph needs two or more --label (the classes to morph through), or none")


def parse_numbers(text: str, flag: str, what: str, count: int, where: str) -> list[int]:
    """A comma- or space-separated list of integers in 0..count-1 (`--dims 0,5,17`), or one line saying why not."""
    try:
        numbers = [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise UserError(f"{flag} {text!r} is not a list of {what}; write e.g. {flag} 0,5,17") from None
    if not numbers:
        raise UserError(f"{flag} is empty; give {what}, e.g. {flag} 0,5,17")
    bad = [n for n in numbers if not 0 <= n < count]
    if bad:
        raise UserError(f"{flag} {bad[0]} is out of range: {where} has {what} 0..{count - 1}")
    return numbers


def parse_codes(family, r: Request, run_dir: Path) -> Codes:
    """--code's NAME=VALUE (fix a code) and NAME (sweep it), or one line saying why not."""
    if not r.codes:
        return Codes()
    if not family.code_names:
        raise UserError(f"--code fixes or sweeps InfoGAN's latent codes, and {run_dir} is a {family.name} run, whose G "
                        f"takes none: drop --code")
    fixed, swept = {}, []
    for text in r.codes:
        name, has_value, value = text.partition("=")
        name = name.strip()
        if name not in family.code_names:
            raise UserError(f"--code {text}: this run has no code {name!r}; its codes are {family.describe_codes()}")
        if name in fixed or name in swept:
            raise UserError(f"--code {name} is given twice; give each code once")
        if not has_value:
            swept.append(name)
            continue
        try:
            fixed[name] = family.code_value(name, value)
        except ValueError as exc:
            raise UserError(f"--code {text}: {exc}") from None
    if swept and r.mode != "sweep":
        raise UserError(f"--code {swept[0]} (no value) names a code to sweep: add --mode sweep, or fix it with "
                        f"--code {swept[0]}=VALUE")
    if len(swept) > 1:
        raise UserError(f"--code {swept[0]} and --code {swept[1]}: sweep one code at a time (fix the others with NAME=VALUE)")
    if swept and r.dims is not None:
        raise UserError(f"--dims sweeps z dimensions and --code {swept[0]} a code: sweep one at a time")
    if swept and family.is_categorical(swept[0]):
        given = [OPTION_FLAGS[name] for name in ("steps", "range") if getattr(r, name) is not None]
        if given:
            raise UserError(f"{given[0]} does nothing when sweeping {swept[0]}: its columns are its "
                            f"{family.categories} values; drop {given[0]}")
    return Codes(fixed, swept[0] if swept else None)


def parse_range(text: str | None) -> tuple[float, float] | None:
    """--range LOW,HIGH, or None for the default."""
    if text is None:
        return None
    try:
        low, high = (float(part) for part in text.replace(",", " ").split())
    except ValueError:
        raise UserError(f"--range {text!r} is not two numbers LOW,HIGH; write e.g. --range=-2,2") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise UserError(f"--range {text!r} must be two finite numbers with LOW < HIGH, e.g. --range=-2,2")
    return low, high


def parse_dims(text: str | None, z_dim: int) -> list[int]:
    if text is None or text.strip().lower() == "all":
        return list(range(z_dim))
    return parse_numbers(text, "--dims", "z dimensions", z_dim, "z")


@dataclass
class Tiles:
    """Tiles of a grid written earlier, and the ids that --a, --b, --c picked from it."""

    z: np.ndarray  # N x z_dim
    labels: np.ndarray | None  # N class ids, conditional models only
    ids: dict[str, list[int]]  # "a", "b", "c" -> tile ids
    codes: np.ndarray | None = None  # N x code_dim latent codes, families with codes only

    def codes_of(self, ids) -> np.ndarray | None:
        return None if self.codes is None else self.codes[ids]


def load_tiles(r: Request, config: Config) -> Tiles:
    """--from's tiles: GRID.png's GRID.z.npz, or a .npz holding z (e.g. `dcgan sample --out GRID.npz`)."""
    source = r.source
    path = Path(source)
    if path.suffix.lower() != ".npz":
        path = tiles_path(path)
    if not path.exists():
        raise UserError(f"--from {source}: {path} not found; write the grid with `dcgan sample --checkpoint RUN "
                        f"--out GRID.png`, which saves the z of every tile beside it")
    with np.load(path) as data:
        if "z" not in data:
            raise UserError(f"--from {source}: {path} holds no z's; write the grid again with this version of dcgan")
        z = data["z"].astype(np.float32)
        labels = data["labels"] if "labels" in data else None
        codes = data["codes"].astype(np.float32) if "codes" in data else None
    if z.ndim != 2 or z.shape[1] != config.z_dim:
        raise UserError(f"--from {source}: its z's have {z.shape[-1]} dimensions, this model's {config.z_dim}; "
                        f"use a grid sampled from the same run")
    if config.conditional and labels is None:
        raise UserError(f"--from {source} was sampled from an unconditional model; use a grid of this run")
    family = config.make_family()
    if family.code_names and (codes is None or codes.shape != (len(z), family.code_dim)):
        raise UserError(f"--from {source}: {path} holds no latent codes of this model; write the grid from this run "
                        f"with `dcgan sample --checkpoint RUN --out GRID.png`")
    ids = {name: parse_numbers(text, f"--{name}", "tile ids", len(z), source)
           for name, text in (("a", r.a), ("b", r.b), ("c", r.c)) if text}
    if r.mode == "interpolate" and len(ids["a"]) != len(ids["b"]):
        raise UserError(f"--a has {len(ids['a'])} ids and --b {len(ids['b'])}; give one --b tile per --a tile")
    return Tiles(z, labels, ids, codes if family.code_names else None)


# --- Drawing ------------------------------------------------------------------------------------

class Drawer:
    """Turns z's (and class ids or label vectors, or latent codes) into uint8 images of one model, through its family.

    For a family with latent codes, `codes(n)` draws them from the seed, and every drawing holds the
    codes `fixed` (--code NAME=VALUE) at their values.
    """

    def __init__(self, family, generator, seed: int = 0, fixed: dict | None = None):
        self.family, self.generator, self.seed, self.fixed = family, generator, seed, fixed or {}

    def __call__(self, z: np.ndarray, labels=None, codes=None) -> np.ndarray:
        """z: (..., z_dim); labels: class ids (...) or label vectors (..., classes); codes: (..., code_dim),
        or any shape that broadcasts to it (e.g. one row of codes for a row of z's); -> (..., H, W, C)."""
        lead = z.shape[:-1]
        flat_z = np.asarray(z, np.float32).reshape(-1, z.shape[-1])
        if self.family.code_names:
            if codes is None:
                raise ValueError("a family with latent codes needs codes for every z: pass draw.codes(n)")
            codes = np.broadcast_to(codes, lead + np.shape(codes)[-1:]).reshape(len(flat_z), -1)
            latents = self.family.latents(flat_z, codes=self.fix(codes))
        elif not self.family.takes_labels:
            latents = self.family.latents(flat_z)
        elif np.shape(labels) == lead:
            latents = self.family.latents(flat_z, classes=np.asarray(labels).reshape(-1))
        else:
            latents = self.family.latents(flat_z, labels=np.asarray(labels, np.float32).reshape(-1, self.family.num_classes))
        images = to_uint8(self.family.generate(self.generator, latents))
        return images.reshape(lead + images.shape[1:])

    def sample_z(self, n: int, seed: int) -> np.ndarray:
        return self.family.sample_z(n, seed).numpy()

    def codes(self, n: int) -> np.ndarray | None:
        """n latent codes from the seed (the evaluation's and export's codes for the same seed); None without codes."""
        if not self.family.code_names:
            return None
        return self.family.codes(self.seed, SAMPLE_STREAM, n).numpy()

    def fix(self, codes: np.ndarray) -> np.ndarray:
        """codes with --code's fixed values in place."""
        for name, value in self.fixed.items():
            codes = self.family.set_code(codes, name, value)
        return codes

    def row_classes(self, rows: int, labels: list[int]) -> np.ndarray | None:
        """One class per row, cycling through --label (or all classes); None for unconditional models."""
        if not self.family.takes_labels:
            return None
        return cycling_labels(rows, self.family.num_classes, labels or None)


def cycling_labels(n: int, num_classes: int, classes=None) -> np.ndarray:
    """Integer labels cycling through `classes` (default 0..num_classes-1)."""
    classes = np.arange(num_classes) if classes is None else np.asarray(classes)
    return classes[np.arange(n) % len(classes)]


def tiles_path(grid_file) -> Path:
    """Where a PNG grid keeps the z's (and labels) of its tiles: GRID.png -> GRID.z.npz."""
    return Path(grid_file).with_suffix(".z.npz")


def tile_grid(images: np.ndarray, rows: int | None) -> np.ndarray:
    """N images as rows x cols tiles (blank tiles at the end): rows given, or the squarest grid."""
    n = len(images)
    cols = -(-n // rows) if rows else math.ceil(math.sqrt(n))
    rows = rows or -(-n // cols)
    blank = np.zeros((rows * cols - n,) + images.shape[1:], np.uint8)
    return np.concatenate([images, blank]).reshape((rows, cols) + images.shape[1:])


def grid_mode(draw: Drawer, r: Request, tiles=None) -> Drawing:
    """--num tiles (default 64; conditional models cycle through --label, or every class), or with
    --mode per-class one row per class (--num per row spread, default 10 per class)."""
    family = draw.family
    rows = None
    if r.mode == "per-class":
        row_classes = sorted(set(r.labels)) if r.labels else list(range(family.num_classes))
        per_row = max(1, r.num // len(row_classes)) if r.num else DEFAULT_PER_CLASS
        classes = np.repeat(row_classes, per_row)
        rows = len(row_classes)
    elif family.takes_labels:
        classes = cycling_labels(r.num or DEFAULT_TILES, family.num_classes, r.labels or None)
    else:
        classes = None
    n = len(classes) if classes is not None else (r.num or DEFAULT_TILES)
    z = draw.sample_z(n, r.seed)
    codes = draw.codes(n)
    images = draw(z, classes, codes)
    sheet = tile_grid(images, rows)
    tile_inputs = {"z": z} if classes is None else {"z": z, "labels": np.asarray(classes, np.int64)}
    if codes is not None:
        tile_inputs["codes"] = draw.fix(codes)
    size = family.image_size
    note = (f"tile ids run 0..{n - 1} row by row ({sheet.shape[1]} per row); pick tiles with e.g. `dcgan sample "
            f"--checkpoint {{run_dir}} --mode arithmetic --from {{out}} --a 0,1,2 --b 3,4,5 --c 6,7,8`")
    return Drawing({"": Sheet(sheet)}, {"images": images, **tile_inputs},
                   f"{n} images of {size}x{size}x{family.channels}", tile_inputs, [note])


def class_row_labels(classes) -> list[str] | None:
    return None if classes is None else [f"class {k}" for k in classes]


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation row by row (White 2016); exact at t = 0 and 1, linear for parallel rows."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=-1) * np.linalg.norm(b64, axis=-1)
    cos = np.clip(np.sum(a64 * b64, axis=-1) / np.maximum(norms, 1e-12), -1.0, 1.0)
    omega = np.arccos(cos)[..., None]
    sin = np.sin(omega)
    parallel = sin < 1e-6
    safe = np.where(parallel, 1.0, sin)
    spherical = np.sin((1 - t) * omega) / safe * a64 + np.sin(t * omega) / safe * b64
    return np.where(parallel, lerp(a64, b64, t), spherical).astype(np.float32)


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (1 - t) * a + t * b


def interpolate(draw: Drawer, r: Request, tiles: Tiles | None):
    """Row i walks from z_a[i] to z_b[i]: pairs of `sample_z(2 * rows)` (grid tiles 2i, 2i+1) or --a/--b tiles."""
    if tiles is not None:
        a_ids, b_ids = tiles.ids["a"], tiles.ids["b"]
        start, end = tiles.z[a_ids], tiles.z[b_ids]
        classes = tiles.labels[a_ids] if tiles.labels is not None else None
        if r.labels:
            classes = draw.row_classes(len(a_ids), r.labels)
        codes = tiles.codes_of(a_ids)  # like a class: the walk's start's, held along the row
        names = [f"{i}>{j}" for i, j in zip(a_ids, b_ids)]
    else:
        rows = r.num or DEFAULT_ROWS
        z = draw.sample_z(2 * rows, r.seed)
        start, end = z[0::2], z[1::2]
        classes = draw.row_classes(rows, r.labels)
        codes = draw.codes(rows)
        names = None
    ts = np.linspace(0.0, 1.0, r.steps)
    walk = lerp if r.linear else slerp
    path = np.stack([walk(start, end, t) for t in ts], axis=1)  # rows x steps x z_dim
    row_classes = None if classes is None else np.repeat(np.asarray(classes)[:, None], r.steps, axis=1)
    images = draw(path, row_classes, None if codes is None else codes[:, None])
    kind = "linear" if r.linear else "spherical"
    labels = names or class_row_labels(classes)
    if names and classes is not None:
        labels = [f"{n} class {k}" for n, k in zip(names, classes)]
    sheet = Sheet(images, f"{kind} interpolation, {r.steps} steps", labels, [f"t={t:.2f}" for t in ts])
    arrays = {"images": images, "z": path, "t": ts}
    if classes is not None:
        arrays["labels"] = np.asarray(classes, np.int64)
    if codes is not None:
        arrays["codes"] = draw.fix(codes)
    return Drawing({"": sheet}, arrays, r.mode)


def sweep(draw: Drawer, r: Request, tiles=None):
    """carpedm20's modes 1-4: per swept dimension d, row i is base z i with z[d] run across its range."""
    family = draw.family
    dims = parse_dims(r.dims, family.z_dim)
    rows = r.num or DEFAULT_ROWS
    low, high = parse_range(r.range) or Z_DISTRIBUTIONS[family.z_dist].sweep
    values = np.linspace(low, high, r.steps, dtype=np.float32)
    base = draw.sample_z(rows, r.seed)
    z = np.broadcast_to(base[None, :, None, :], (len(dims), rows, r.steps, family.z_dim)).copy()
    for i, d in enumerate(dims):
        z[i, :, :, d] = values
    classes = draw.row_classes(rows, r.labels)
    per_tile = None if classes is None else np.broadcast_to(classes[None, :, None], z.shape[:-1])
    codes = draw.codes(rows)  # one per row, as a class: only z[d] changes along it
    images = draw(z, per_tile, None if codes is None else codes[None, :, None])  # dims x rows x steps x H x W x C
    base_images = draw(base, classes, codes)
    columns = [f"{v:+.2f}" for v in values]
    sheets = {"": Sheet(images[:, 0], f"z[d] from {low:+g} to {high:+g}, one row per dimension d",
                        [f"z[{d}]" for d in dims], [f"z[d]={c}" for c in columns])}
    for i, d in enumerate(dims):
        sheets[f"dim{d:03d}"] = Sheet(images[i], f"z[{d}] from {low:+g} to {high:+g}", class_row_labels(classes),
                                      [f"z[{d}]={c}" for c in columns])
    arrays = {"images": images, "z": z, "dims": np.asarray(dims), "values": values,
              "base_z": base, "base_images": base_images}
    if classes is not None:
        arrays["labels"] = np.asarray(classes, np.int64)
    if codes is not None:
        arrays["codes"] = draw.fix(codes)
    return Drawing(sheets, arrays, r.mode)


def sweep_code(draw: Drawer, r: Request, name: str):
    """The InfoGAN paper's figures: row i holds z_i and the other codes of row i fixed while code `name`
    runs over its values (a categorical code's K values; a continuous one's --range, by default the
    paper's -2..2, beyond the U(-1, 1) it was trained on)."""
    family = draw.family
    rows = r.num or DEFAULT_ROWS
    if family.is_categorical(name):
        values = np.arange(family.categories)
        columns = [f"{name}={k}" for k in values]
        title = f"{name} = 0..{family.categories - 1}"
    else:
        low, high = parse_range(r.range) or family.continuous_sweep
        values = np.linspace(low, high, r.steps, dtype=np.float32)
        columns = [f"{name}={v:+.2f}" for v in values]
        title = f"{name} from {low:+g} to {high:+g} (trained on -1..+1)"
    z = draw.sample_z(rows, r.seed)
    codes = draw.fix(draw.codes(rows))
    swept = family.set_code(np.broadcast_to(codes[:, None], (rows, len(values), codes.shape[1])), name, values)
    images = draw(np.broadcast_to(z[:, None], (rows, len(values), z.shape[1])), None, swept)  # rows x values x H x W x C
    fixed = "".join(f", {code}={value:g}" for code, value in draw.fixed.items())
    sheet = Sheet(images, f"{title}; z and the other codes fixed along each row{fixed}", None, columns)
    arrays = {"images": images, "z": z, "codes": swept, "values": values, "code": np.asarray(name)}
    return Drawing({"": sheet}, arrays, f"a sweep of {name} over {len(values)} values in {rows} rows")


def arithmetic(draw: Drawer, r: Request, tiles: Tiles):
    """Rows a, b, c (exemplars then their mean) and mean(a) - mean(b) + mean(c) with noisy variations."""
    tiles_z, tiles_labels, groups = tiles.z, tiles.labels, tiles.ids
    cols = max(len(ids) for ids in groups.values()) + 1
    means = {name: tiles_z[ids].mean(axis=0) for name, ids in groups.items()}
    result = means["a"] - means["b"] + means["c"]
    rng = np.random.default_rng(r.seed)
    noise = rng.uniform(-ARITHMETIC_NOISE, ARITHMETIC_NOISE, (cols - 1, result.shape[0])).astype(np.float32)
    result_row = np.concatenate([result[None], result[None] + noise])

    def label_of(ids):
        return None if tiles_labels is None else int(tiles_labels[ids[0]])

    result_class = r.labels[0] if r.labels else label_of(groups["c"])
    rows = []  # codes, like labels: each exemplar's own, a mean's and the result's those of its group's first tile
    for name, ids in groups.items():
        exemplars = draw(tiles_z[ids], None if tiles_labels is None else tiles_labels[ids], tiles.codes_of(ids))
        mean = draw(means[name][None], None if tiles_labels is None else np.asarray([label_of(ids)]), tiles.codes_of(ids[:1]))
        blank = np.zeros((cols - 1 - len(ids),) + exemplars.shape[1:], np.uint8)
        rows.append(np.concatenate([exemplars, blank, mean]))
    results = draw(result_row, None if result_class is None else np.full(cols, result_class), tiles.codes_of(groups["c"][:1]))
    rows.append(results)
    names = [f"{name} {','.join(map(str, ids))}" for name, ids in groups.items()] + ["a-b+c"]
    sheet = Sheet(np.stack(rows), "vector arithmetic: exemplars then their mean; a-b+c then variations", names)
    arrays = {"images": results, "z": result_row, "mean_a": means["a"], "mean_b": means["b"], "mean_c": means["c"],
              "ids_a": np.asarray(groups["a"]), "ids_b": np.asarray(groups["b"]), "ids_c": np.asarray(groups["c"]),
              "sheet": np.stack(rows)}
    if result_class is not None:
        arrays["labels"] = np.full(cols, result_class, np.int64)
    return Drawing({"": sheet}, arrays, r.mode)


def class_morph(draw: Drawer, r: Request, tiles=None):
    """Fixed z per row; the label vector blends through --label classes (default: row i from i to i+1)."""
    k = draw.family.num_classes
    rows = r.num or (DEFAULT_ROWS if r.labels else k)
    paths = [list(r.labels)] * rows if r.labels else [[i % k, (i + 1) % k] for i in range(rows)]
    segments = len(paths[0]) - 1
    positions = np.linspace(0.0, segments, (r.steps - 1) * segments + 1)
    eye = np.eye(k, dtype=np.float32)
    y = np.zeros((rows, len(positions), k), np.float32)
    for i, path in enumerate(paths):
        for j, s in enumerate(positions):
            seg = min(int(s), segments - 1)
            frac = np.float32(s - seg)
            y[i, j] = (1 - frac) * eye[path[seg]] + frac * eye[path[seg + 1]]
    z = np.repeat(draw.sample_z(rows, r.seed)[:, None], len(positions), axis=1)
    images = draw(z, y)
    sheet = Sheet(images, "fixed z per row, label vector blended between classes",
                  ["".join(f"{c}>" for c in p)[:-1] for p in paths], [f"class {s:.2f}" for s in positions])
    return Drawing({"": sheet}, {"images": images, "z": z[:, 0], "label_vectors": y, "paths": np.asarray(paths)}, r.mode)


MODE_BUILDERS = {"grid": grid_mode, "per-class": grid_mode, "interpolate": interpolate, "sweep": sweep,
                 "arithmetic": arithmetic, "class-morph": class_morph}


# --- Writing ------------------------------------------------------------------------------------

def write(out: Path, drawing: Drawing, scale: int) -> list[Path]:
    """The main sheet at `out`, the others beside it as OUT_TAG.ext; a .npz holds all the arrays.
    A PNG grid's tiles go beside it as GRID.z.npz."""
    suffix = out.suffix.lower()
    if suffix == ".npz":
        return [save_npz(out, **drawing.arrays)]
    written = []
    for tag, sheet in drawing.sheets.items():
        path = out.with_name(f"{out.stem}_{tag}{out.suffix}") if tag else out
        if suffix == ".gif":
            written.append(save_gif(path, render_frames(sheet, scale), FRAME_MS))
        else:
            written.append(save_png(path, render_sheet(sheet, scale)))
    if drawing.tiles is not None and suffix == ".png":
        save_npz(tiles_path(out), **drawing.tiles)
    return written


def render_sheet(sheet: Sheet, scale: int) -> np.ndarray:
    rows, cols, h = sheet.tiles.shape[:3]
    image = upscale(grid(sheet.tiles.reshape((rows * cols,) + sheet.tiles.shape[2:]), rows=rows, cols=cols), scale)
    return add_title(add_row_labels(image, sheet.row_labels, (h + 1) * scale), sheet.title)


def render_frames(sheet: Sheet, scale: int) -> list[np.ndarray]:
    """Column k of every row, gathered into one grid per frame; there and back, for a seamless loop."""
    frames = [add_title(upscale(grid(sheet.tiles[:, k]), scale), sheet.col_labels[k])
              for k in range(sheet.tiles.shape[1])]
    return frames + frames[-2:0:-1]
