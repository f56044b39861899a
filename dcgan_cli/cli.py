"""The `dcgan` command line: parses options, builds a Config, dispatches. No training logic here.

Every choice an option offers is read from its registry (families, losses, datasets, precisions,
strategies, kernels, z distributions, sample modes, bench presets, evaluation classifiers), none
of which starts TensorFlow: it is imported inside the commands, so `dcgan --help` answers instantly.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import click

from dcgan_cli.bench import PRESETS
from dcgan_cli.config import Config, flag
from dcgan_cli.datasets import DATASETS
from dcgan_cli.errors import TrainingStopped, UserError
from dcgan_cli.eval.evaluate import CLASSIFIERS
from dcgan_cli.exported import FORMATS as EXPORT_FORMATS
from dcgan_cli.eval.classifier import CLASSIFIED
from dcgan_cli.kernels import KERNELS
from dcgan_cli.models import FAMILIES, family_names
from dcgan_cli.models.dcgan import carpedm20_start_size
from dcgan_cli.models.family import D_NORMS, Z_DISTRIBUTIONS
from dcgan_cli.train.distribute import STRATEGIES
from dcgan_cli.train.losses import LOSSES
from dcgan_cli.train.optimizer import OPTIMIZERS
from dcgan_cli.train.penalties import PENALTIES
from dcgan_cli.train.precision import PRECISIONS
from dcgan_cli.train.recipes import DEFAULT, DEFAULT_RECIPE, FAMILY, RECIPES, family_recipe, resolve
from dcgan_cli.train.stabilisers import G_OBJECTIVES
from dcgan_cli.viz.sample import MODES

DEFAULTS = Config()
CHECKPOINT_HELP = "A run directory (its latest checkpoint), RUN/best (lowest FID), RUN/ckpt, or RUN/ckpt/ckpt-N."
DEFAULT_FAMILY = "dcgan"
DEFAULT_PRESET = "conditional-28"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="dcgan")
def cli():
    """Train Deep Convolutional GANs (Radford et al. 2015) and sample from them."""


# The families with a recipe of their own, which their runs start from unless --recipe says otherwise.
FAMILY_RECIPES = "; ".join(f"--family {r.values['family']}: {name}" for name, r in RECIPES.items() if "family" in r.values)

PRECEDENCE = ("Each value comes from, first that has it: the options typed, --config FILE, --recipe (by default the "
              "family's own, if it has one), the family's defaults, the defaults shown.")


@cli.group(help="Train a DCGAN; every default is carpedm20's except --ema and --lr-decay (see README). " + PRECEDENCE)
def train():
    pass


def add_options(command, options):
    for option in reversed(options):
        command = option(command)
    return command


def training_options(command):
    """Options shared by every `dcgan train DATASET` command."""
    return add_options(command, [
        click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Folder holding the data [default: $DCGAN_DATA_DIR/<dataset>, then the download cache]."),
        click.option("--out", type=click.Path(file_okay=False), default=None,
                     help="Run directory [default: checkpoints/<dataset> for the dcgan family, "
                          "checkpoints/<dataset>-<family> for the others]."),
        click.option("--resume", is_flag=True, help="Continue the run in --out from its latest checkpoint."),
        click.option("--resume-or-start", is_flag=True,
                     help="Continue the run in --out if there is one, else start it (job scripts that re-run one line)."),
        click.option("--epochs", type=int, default=DEFAULTS.epochs, show_default=True, help="Passes over the data."),
        click.option("--max-steps", type=int, default=None, help="Stop after this many steps (each --critic-steps batches) in all, if sooner than --epochs."),
        click.option("--batch-size", type=int, default=DEFAULTS.batch_size, show_default=True, help="Global batch size."),
        click.option("--z-dim", type=int, default=None,
                     help=f"Dimension of z [default: {DEFAULTS.z_dim}; infogan: {FAMILIES['infogan'].default_z_dim}, the paper's]."),
        click.option("--z-dist", type=click.Choice(list(Z_DISTRIBUTIONS)), default=DEFAULTS.z_dist, show_default=True,
                     help="z ~ " + " or ".join(d.help for d in Z_DISTRIBUTIONS.values()) + "."),
        click.option("--recipe", type=click.Choice(list(RECIPES)), default=None,
                     help="A published configuration: " + "; ".join(f"{name}: {r.description} ({r.paper})"
                                                                    for name, r in RECIPES.items())
                          + f" [default: the family's own ({FAMILY_RECIPES}), else {DEFAULT_RECIPE}]. "
                          + PRECEDENCE),
        click.option("--config", "config_file", type=click.Path(), default=None,
                     help="Start a new run from an earlier run's config.json (or its run directory), options typed "
                          "overriding it; the dataset and family must be this command's."),
        click.option("--loss", type=click.Choice(list(LOSSES)), default=DEFAULTS.loss, show_default=True,
                     help="GAN objective: " + "; ".join(f"{name} ({loss.paper})" for name, loss in LOSSES.items()) + "."),
        click.option("--gradient-penalty", type=click.Choice(["none", *PENALTIES]), default=DEFAULTS.gradient_penalty,
                     show_default=True, help="Penalty on D's input gradient, per example: " + "; ".join(
                         f"{name}: {p.on} ({p.paper})" for name, p in PENALTIES.items()) + ". Needs --d-norm layer or none."),
        click.option("--gp-weight", type=float, default=DEFAULTS.gp_weight, show_default=True,
                     help="The gradient penalty's weight (lambda; R1's gamma)."),
        click.option("--clip", type=float, default=DEFAULTS.clip, show_default=True,
                     help="Clip the critic's weights to [-CLIP, CLIP] after each update (WGAN: 0.01); 0: no clipping."),
        click.option("--label-smoothing", type=float, default=DEFAULTS.label_smoothing, show_default=True,
                     help="One-sided label smoothing: D's target for real images, e.g. 0.9 (Salimans et al. 2016; "
                          "fakes' stays 0); 1: none. For non_saturating, minimax and least_squares."),
        click.option("--g-objective", type=click.Choice(list(G_OBJECTIVES)), default=DEFAULTS.g_objective,
                     show_default=True, help="G's loss: " + "; ".join(f"{k}: {v}" for k, v in G_OBJECTIVES.items())
                     + ". The sgan recipe sets feature_matching."),
        click.option("--minibatch-discrimination/--no-minibatch-discrimination", default=None,
                     help="D's last layer also sees how alike the images of its batch are (Salimans et al. 2016: "
                          "100 kernels of 5 dimensions); changes D, so fixed for the run [default: off]."),
        click.option("--historical-averaging", type=float, default=DEFAULTS.historical_averaging, show_default=True,
                     help="Weight of ||theta - the mean of its past values||^2 added to each player's loss "
                          "(Salimans et al. 2016); 0: none."),
        click.option("--d-noise", type=float, default=DEFAULTS.d_noise, show_default=True,
                     help="Standard deviation of Gaussian noise added, in training only, to D's input and each of its "
                          "hidden layers (Salimans et al. 2016's semi-supervised D: 0.3 on the input, 0.5 inside); 0: none. "
                          "The sgan recipe sets 0.5."),
        click.option("--d-norm", type=click.Choice(list(D_NORMS)), default=None,
                     help="D's normalisation: " + "; ".join(f"{k}: {v}" for k, v in D_NORMS.items())
                          + " [default: batch; none for mlp]."),
        click.option("--optimizer", type=click.Choice(list(OPTIMIZERS)), default=DEFAULTS.optimizer, show_default=True,
                     help="; ".join(f"{k}: {v}" for k, v in OPTIMIZERS.items()) + "."),
        click.option("--lr", type=float, default=DEFAULTS.lr, show_default=True,
                     help="Learning rate of G and D (of each player without its own below)."),
        click.option("--g-lr", type=float, default=None,
                     help="G's learning rate, if not --lr's (InfoGAN's paper: 1e-3 with D at 2e-4) [default: --lr]."),
        click.option("--d-lr", type=float, default=None,
                     help="D's learning rate, if not --lr's (the two time-scale rule: D faster than G) [default: --lr]."),
        click.option("--beta1", type=float, default=DEFAULTS.beta1, show_default=True, help="Adam beta1."),
        click.option("--beta2", type=float, default=DEFAULTS.beta2, show_default=True, help="Adam beta2."),
        click.option("--d-steps", type=int, default=DEFAULTS.d_steps, show_default=True,
                     help="D updates on each real batch and its z (carpedm20's option)."),
        click.option("--critic-steps", type=int, default=DEFAULTS.critic_steps, show_default=True,
                     help="D updates per step, each on a fresh real batch and fresh z (WGAN: 5); a step reads this many "
                          "batches, and an epoch is still one pass over the data."),
        click.option("--g-steps", type=int, default=DEFAULTS.g_steps, show_default=True, help="G updates per step (same z)."),
        click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True, help="Seed for data order, z and initial weights."),
        click.option("--ema", type=float, default=DEFAULTS.ema, show_default=True,
                     help="Sample and evaluate with a moving average of G's weights of this decay (e.g. 0.999); 0: off."),
        click.option("--lr-decay", type=float, default=DEFAULTS.lr_decay, show_default=True,
                     help="Fraction of the run (of --epochs) at its end over which both learning rates fall "
                     "linearly to 0; 0: constant, as carpedm20."),
        click.option("--sample-every", type=int, default=DEFAULTS.sample_every, show_default=True, help="Steps between sample grids."),
        click.option("--checkpoint-every", type=int, default=DEFAULTS.checkpoint_every, show_default=True, help="Steps between checkpoints."),
        click.option("--log-every", type=int, default=DEFAULTS.log_every, show_default=True, help="Steps between TensorBoard scalars."),
        click.option("--keep", type=int, default=DEFAULTS.keep, show_default=True, help="Checkpoints to keep."),
        click.option("--eval-every", type=int, default=None,
                     help="Steps between sample-quality evaluations (FID, KID, IS, precision/recall, label accuracy "
                     "in TensorBoard); the best checkpoint by FID is kept in RUN/best [default: never]."),
        click.option("--eval-samples", type=int, default=DEFAULTS.eval_samples, show_default=True,
                     help="Samples per --eval-every evaluation."),
        click.option("--precision", type=click.Choice(PRECISIONS), default=DEFAULTS.precision, show_default=True,
                     help="auto: mixed_float16 on a GPU, float32 on a CPU."),
        click.option("--jit/--no-jit", default=None, help="XLA-compile the train step [default: on for GPUs, off for CPUs]."),
        click.option("--kernels", type=click.Choice(list(KERNELS)), default=DEFAULTS.kernels, show_default=True,
                     help="fast: " + KERNELS["fast"] + "; keras: " + KERNELS["keras"] + ". Same variables: "
                     "checkpoints load with either, and --resume may switch."),
        click.option("--strategy", type=click.Choice(STRATEGIES), default="auto",
                     show_default=True, help="tf.distribute strategy: auto = mirrored over all GPUs when there are "
                     "several, else default; multiworker reads the cluster from TF_CONFIG."),
        click.option("--cpu-replicas", type=int, default=None,
                     help="Split the CPU into K devices and mirror over them (tests, machines without GPUs)."),
        click.option("--sync-bn/--no-sync-bn", default=None,
                     help="Synchronise BatchNorm statistics across replicas [default: on with >1 replica]."),
        click.option("--dry-run", is_flag=True,
                     help="Run every check a start makes (options, data opened and counted, run directory, lock), "
                          "print each setting with its value and source, and write nothing."),
    ])


def family_options(dataset: str, width_help: str, labelled: bool | None = None):
    """--family (the families that fit the dataset; `labelled`: whether it can have labels, default
    whether it always has) and the architecture options families read."""
    names = family_names(labelled=DATASETS[dataset].num_classes > 0 if labelled is None else labelled)
    described = "; ".join(f"{name}: {FAMILIES[name].description}" for name in names)

    def decorate(command):
        return add_options(command, [
            click.option("--family", type=click.Choice(names), default=None,
                         help=f"Model family [default: {DEFAULT_FAMILY}]. {described}."),
            click.option("--width", type=int, default=None, help=width_help),
            click.option("--depth", type=int, default=None,
                         help=f"Hidden layers of G and D (mlp) [default: {FAMILIES['mlp'].default_depth}]."),
            click.option("--start-size", default=None, metavar="auto|carpedm20|N",
                         help="G's first feature map (and D's last) is NxN (dcgan). auto: the paper's 4x4, halving the "
                              "image at most four times; carpedm20: halving it four times whatever its size (28x28 "
                              "and 32x32: 2x2, where training without labels collapses) [default: auto]."),
            click.option("--info-weight", type=float, default=None,
                         help=f"infogan: weight of the categorical code's information term [default: {DEFAULTS.info_weight}, "
                              f"the paper's lambda]."),
            click.option("--info-weight-continuous", type=float, default=None,
                         help=f"infogan: weight of the continuous codes' term [default: {DEFAULTS.info_weight_continuous}, "
                              f"PyTorch-GAN's; the paper asks for a smaller one than the categorical's]."),
            click.option("--q-with-g/--no-q-with-g", default=None,
                         help="infogan: G's updates also train Q's head on the information terms, the paper's "
                              "minimum over G and Q [default: on; --no-q-with-g: Q learns in D's update only, as "
                              "openai/InfoGAN's code]."),
            click.option("--labels", type=int, default=None, metavar="N",
                         help="sgan: train with the labels of only N training images (class-balanced, seeded by "
                              "--seed; the rest unlabelled) [default: every label]."),
        ])

    return decorate


def choose_family(family: str | None, conditional: bool | None) -> str:
    """--family, or its synonyms --conditional (conditional) and --unconditional (dcgan)."""
    if conditional is None:
        return family or DEFAULT_FAMILY
    synonym = "conditional" if conditional else DEFAULT_FAMILY
    if family not in (None, synonym):
        flag = "--conditional" if conditional else "--unconditional"
        raise UserError(f"{flag} means --family {synonym}, which contradicts --family {family}: drop one")
    return synonym


# The Config fields some family reads beyond its shape (family_options gives each its option).
FAMILY_SETTINGS = tuple(sorted({name for family in FAMILIES.values() for name in family.settings}))


RESOLVED_SOURCES = "dcgan.resolved_sources"  # ctx.meta key: resolve_config's source of each value


def resolve_config(ctx: click.Context, dataset: str, family: str | None, widths: dict[str, int] | None = None,
                   **fixed) -> tuple[Config, dict]:
    """The run's Config and each value's source (train.recipes.resolve's order): typed options, --config
    FILE, --recipe, the family's defaults, the defaults. `family` is the typed one (or None); `fixed`
    holds values the command sets itself (MNIST's size), which no layer overrides."""
    known = {f.name for f in dataclasses.fields(Config)}
    params = {**ctx.params, "family": family}
    typed = {name: params[name] for name in typed_fields(ctx) if name in known}
    file_name = ctx.params.get("config_file")
    from_file = read_config_file(file_name, dataset, typed.get("family")) if file_name else {}
    recipe = typed.get("recipe") or from_file.get("recipe")
    family = (typed.get("family") or from_file.get("family") or RECIPES[recipe or DEFAULT_RECIPE].values.get("family")
              or DEFAULT_FAMILY)
    recipe = recipe or family_recipe(family)
    cls = FAMILIES[family]
    for name in ("width", "depth", "start_size", *FAMILY_SETTINGS):
        if name in typed and typed[name] is not None and name not in cls.options + cls.settings:
            raise UserError(f"{flag(name)} does not apply to the {family} family ({cls.description}); drop {flag(name)}")
    family_defaults = {"width": (widths or {}).get(family, cls.default_width),
                       "depth": cls.default_depth, "d_norm": cls.d_norms[0], **cls.default_settings,
                       **({"z_dim": cls.default_z_dim} if cls.default_z_dim else {})}
    # An option left at its default (None) leaves Config's default in place.
    defaults = {**dataclasses.asdict(DEFAULTS),
                **{name: params[name] for name in known & set(params) if params[name] is not None}}
    values, sources = resolve(defaults, typed, from_file, recipe, (family, family_defaults), file_name or "")
    if sources["recipe"] == DEFAULT and recipe != DEFAULT_RECIPE:  # the family's own (named by neither layer above)
        values["recipe"], sources["recipe"] = recipe, f"{FAMILY} {family}"
    values.update(dataset=dataset, num_classes=DATASETS[dataset].num_classes if cls.uses_labels else 0,
                  class_names=list(DATASETS[dataset].class_names) if cls.uses_labels else [])
    values.update(fixed)
    sources.update({name: "dataset" for name in (*fixed, "dataset", "num_classes", "class_names")})
    # --start-size is typed as auto|carpedm20|N; a --config file holds pixels; auto is the family's default.
    start = values["start_size"]
    pixels = start_size_pixels(start, values["image_size"]) if start is None or isinstance(start, str) else start
    values["start_size"] = pixels if pixels is not None else cls.default_start_size(values["image_size"])
    ctx.meta[RESOLVED_SOURCES] = sources  # for value_sources (--dry-run)
    if values["optimizer"] == "rmsprop" and {"beta1", "beta2"} & set(typed):
        raise UserError("--beta1 and --beta2 are Adam's; --optimizer rmsprop has neither: drop them or use --optimizer adam")
    if values["gradient_penalty"] == "none" and "gp_weight" in typed:
        raise UserError("--gp-weight weighs a gradient penalty, and there is none: add --gradient-penalty "
                        f"{'|'.join(PENALTIES)}, or drop --gp-weight")
    return Config(**values), sources


def read_config_file(name: str, dataset: str, family: str | None) -> dict:
    """--config FILE's values (an earlier run's config.json, or its run directory) for a new run of this command."""
    path = Path(name)
    if not path.exists():
        raise UserError(f"--config {name} does not exist; pass an earlier run's config.json or run directory")
    saved = Config.load(path)
    if saved.dataset != dataset or family not in (None, saved.family):
        raise UserError(f"--config {name} is a {saved.dataset}-{saved.family} run's configuration, not for "
                        f"{dataset}-{family or saved.family}; use `dcgan train {saved.dataset} --family {saved.family} "
                        f"--config {name}`")
    # The new run picks its own labelled images (the same ones, for the same --labels, --seed and data).
    return {name: value for name, value in dataclasses.asdict(saved).items() if name != "labelled"}


def start_size_pixels(value: str | None, image_size: int) -> int | None:
    """--start-size in pixels: None for auto (the family's default), carpedm20's rule, or the number given."""
    if value in (None, "auto"):
        return None
    if value == "carpedm20":
        return carpedm20_start_size(image_size)
    try:
        return int(value)
    except ValueError:
        raise UserError(f"--start-size must be auto, carpedm20 or a size in pixels, got {value!r}") from None


def typed_fields(ctx: click.Context) -> set[str]:
    """The Config fields the user typed on the command line (--conditional/--unconditional type `family`)."""
    typed = {name for name in ctx.params if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}
    return {"family" if name == "conditional" else name for name in typed}


def value_sources(ctx: click.Context, resumed_from: Path | None = None) -> dict[str, str]:
    """Where each Config field's value comes from, for --dry-run: typed on the command line, the
    resumed run's config.json, an option's default, or fixed by the command itself (`dcgan train
    mnist` is 28x28x1). The one place that names sources: --config FILE and recipes add theirs here."""
    typed = typed_fields(ctx)
    options = {"family" if name == "conditional" else name for name in ctx.params}
    sources = {}
    for field in dataclasses.fields(Config):
        if field.name in typed:
            sources[field.name] = "typed"
        elif resumed_from is not None:
            sources[field.name] = f"{resumed_from / 'config.json'}"
        elif ctx.meta.get(RESOLVED_SOURCES, {}).get(field.name, "").startswith(("--config", "recipe", "family")):
            sources[field.name] = ctx.meta[RESOLVED_SOURCES][field.name]
        elif field.name in options:
            sources[field.name] = "default"
        else:
            sources[field.name] = f"`{ctx.command_path}`"
    return sources


def run_training(ctx: click.Context, config: Config, out, resume: bool) -> None:
    """Train `config` into `out`; a resumed run takes its saved config with the changes Config's resume policy allows."""
    from dcgan_cli.run_dir import default_run_dir, has_run
    from dcgan_cli.train.stop_signals import StopSignals

    run_dir = Path(out) if out else default_run_dir(config.dataset, config.family)
    if resume and ctx.params.get("resume_or_start"):
        raise UserError("--resume and --resume-or-start both given; pass one (--resume-or-start also starts a new run)")
    exists = has_run(run_dir)
    if resume and not exists:
        raise UserError(f"--resume: {run_dir} holds no run to resume (no config.json, no checkpoint); check --out, "
                        f"or pass --resume-or-start to start a new run there when there is none")
    resume = exists if ctx.params.get("resume_or_start") else resume
    if resume and ctx.params.get("config_file") and not ctx.params.get("resume_or_start"):
        raise UserError("--config starts a new run from an earlier run's values, and --resume continues one with its "
                        "own; drop one (with --resume-or-start, --config applies only when the run starts)")
    resumed_from = None
    if resume and (run_dir / "config.json").exists():
        config = Config.load(run_dir).resume_with(config, typed_fields(ctx))
        resumed_from = run_dir
    config.validate()
    # Signals are noted from here on, so that one arriving while TensorFlow sets up still ends in a clean stop.
    with StopSignals() as stop:
        from dcgan_cli.train.distribute import make_strategy, peer_failures

        # Before anything else touches TensorFlow: --cpu-replicas splits the CPU before devices start.
        strategy = make_strategy(ctx.params.get("strategy", "auto"), ctx.params.get("cpu_replicas"))
        stop.install()
        if ctx.params.get("dry_run"):
            from dcgan_cli.train.dry_run import dry_run

            dry_run(config, run_dir, resume, strategy, value_sources(ctx, resumed_from), echo=click.echo)
            return
        _seed_everything(config.seed)
        from dcgan_cli.train.trainer import train as train_run

        with peer_failures():
            train_run(config, run_dir, resume=resume, strategy=strategy, log=lambda msg: click.echo(msg, err=True),
                      stop=stop, command=(ctx.obj or {}).get("argv"))


def _seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)  # initial weights; z and data order are seeded by (seed, step)


def in_memory_training_command(name: str):
    """`dcgan train NAME` for a labelled dataset of one size held in memory (MNIST, Fashion-MNIST, CIFAR-10)."""
    entry = DATASETS[name]
    height, _, channels = entry.shape

    @train.command(name, help=f"Train on {entry.description}.")
    @click.option("--conditional/--unconditional", default=None,
                  help="Synonyms of --family conditional (carpedm20's class-conditional model) and --family dcgan.")
    @family_options(name, width_help=f"G and D width: gf_dim = df_dim for dcgan [default: {FAMILIES['dcgan'].default_width}, "
                                     f"carpedm20's], hidden units for mlp [default: {FAMILIES['mlp'].default_width}].")
    @training_options
    @click.pass_context
    def command(ctx, conditional, family, width, depth, start_size, out, resume, **options):
        config, _ = resolve_config(ctx, name, choose_family(family, conditional), image_size=height, channels=channels)
        run_training(ctx, config, out, resume)

    return command


for _name, _entry in DATASETS.items():
    if _entry.shape is not None:
        in_memory_training_command(_name)


PAPER_WIDTH = 128  # the paper's 64x64 LSUN model: 4x4x1024
# The photo datasets' default width for each convolutional family (the MLP keeps its own).
PAPER_WIDTHS = {"dcgan": PAPER_WIDTH, "conditional": PAPER_WIDTH, "acgan": PAPER_WIDTH}


def image_options(command):
    """Options of the photo datasets (LSUN, folders): the paper's 64x64 model by default."""
    return add_options(command, [
        click.option("--image-size", type=int, default=64, show_default=True,
                     help="Train at this size (the paper: 64; 32 and 128 work too)."),
        click.option("--limit", type=int, default=None, help="Train on the first N images only."),
    ])


PHOTO_WIDTH_HELP = (f"G and D width: gf_dim = df_dim for dcgan [default: {PAPER_WIDTH}, the paper's 64x64 model; "
                    f"carpedm20's is 64], hidden units for mlp [default: {FAMILIES['mlp'].default_width}].")


@train.command("lsun")
@click.option("--category", default="bedroom", show_default=True,
              help="LSUN scene category: reads DATA_DIR/<category>_train_lmdb, or DATA_DIR itself if it is the LMDB.")
@image_options
@family_options("lsun", PHOTO_WIDTH_HELP)
@training_options
@click.pass_context
def train_lsun(ctx, family, width, depth, start_size, out, resume, **options):
    """Train the paper's DCGAN on LSUN, read in place from the published LMDB (no conversion)."""
    config, _ = resolve_config(ctx, "lsun", choose_family(family, None), widths=PAPER_WIDTHS, channels=3)
    run_training(ctx, config, out, resume)


@train.command("folder")
@click.option("--pattern", default=None,
              help="File names to train on, e.g. '*.jpg' [default: jpg, jpeg, png, webp, bmp, gif in any case].")
@click.option("--crop", type=int, default=108, show_default=True,
              help="Centre crop (px) before resizing, as carpedm20's celebA mode; 0: the largest centre square.")
@click.option("--channels", type=int, default=3, show_default=True, help="3 for RGB, 1 for grayscale.")
@click.option("--class-subdirs", is_flag=True,
              help="Labelled: each subfolder of --data-dir is a class (its name the class's name), for the families "
                   "that train on labels (conditional, acgan, sgan).")
@image_options
@family_options("folder", PHOTO_WIDTH_HELP, labelled=True)
@training_options
@click.pass_context
def train_folder(ctx, family, width, depth, start_size, out, resume, channels, class_subdirs, **options):
    """Train the paper's DCGAN on any folder tree of images (carpedm20's celebA mode), or a labelled
    model on a folder of class subfolders (--class-subdirs)."""
    if channels not in (1, 3):
        raise UserError(f"--channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    family = choose_family(family, None)
    classes = {}
    if FAMILIES[family or DEFAULT_FAMILY].uses_labels:
        from dcgan_cli.datasets.folder import class_folders

        if not class_subdirs:
            raise UserError(f"--family {family} trains on class labels: pass --class-subdirs, with one subfolder of "
                            f"images per class in --data-dir")
        # On --resume without --data-dir the run's saved classes apply (and are checked against its folder).
        names = class_folders(options["data_dir"]) if options["data_dir"] is not None or not resume else []
        classes = {"num_classes": len(names), "class_names": names}
    config, _ = resolve_config(ctx, "folder", family, widths=PAPER_WIDTHS, **classes)
    run_training(ctx, config, out, resume)


@cli.command()
@click.option("--checkpoint", required=True, type=click.Path(),
              help=CHECKPOINT_HELP)
@click.option("--mode", type=click.Choice(MODES),
              default=None, help="What to draw [default: grid]; see README 'Visualising a run'.")
@click.option("--num", type=int, default=None,
              help="Number of images [default: 64; 10 per class with --per-class]; rows in interpolate/sweep/class-morph.")
@click.option("--label", "labels", multiple=True,
              help="Class to draw, by id or by the run's class name, e.g. 3 or cat (repeatable); models that take "
                   "labels cycle through every class without it. class-morph: the classes to morph through.")
@click.option("--per-class", is_flag=True, help="One row per class (conditional models); same as --mode per-class.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for z.")
@click.option("--steps", type=int, default=None, help="Images per walk in interpolate, sweep, class-morph [default: 10].")
@click.option("--linear", is_flag=True, help="interpolate: straight lines instead of spherical (slerp).")
@click.option("--dims", default=None, help="sweep: z dimensions to sweep, e.g. 0,5,17 [default: all].")
@click.option("--code", "codes", multiple=True,
              help="InfoGAN runs: NAME=VALUE fixes a latent code in any mode, e.g. cat=3 or cont1=0.5 (repeatable); "
                   "with --mode sweep, NAME alone sweeps that code (cat: its 10 values; cont1, cont2: --range).")
@click.option("--range", "sweep_range", default=None,
              help="sweep: LOW,HIGH that z[d] or a continuous code runs over, e.g. --range=-1,1 "
                   "[default: z's range; continuous codes -2,2, the InfoGAN paper's].")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None,
              help="arithmetic, interpolate: a grid written earlier (GRID.png, whose GRID.z.npz holds its tiles, or GRID.npz).")
@click.option("--a", default=None, help="arithmetic: tile ids of --from, e.g. 0,1,2 (interpolate: walk starts).")
@click.option("--b", default=None, help="arithmetic: tile ids subtracted (interpolate: walk ends).")
@click.option("--c", default=None, help="arithmetic: tile ids added.")
@click.option("--out", type=click.Path(), default=None,
              help="Output .png (a grid), .gif (walks, sweeps, morphs), .npz (images uint8 NxHxWxC, z, labels), or "
                   "DIR/ (a folder: one PNG per image, labels.csv, manifest.json) "
                   "[default: RUN/samples/sample_stepN_seedS.png; other modes MODE_stepN_seedS.png].")
@click.option("--index", type=int, default=None,
              help="Draw image I of `--out DIR/`'s numbering (same --seed and --label) alone, bit-identical to DIR's file.")
@click.option("--overwrite", is_flag=True, help="--out DIR/: replace the images of a folder that is not empty.")
def sample(checkpoint, mode, num, labels, per_class, seed, steps, linear, dims, codes, sweep_range, source, a, b, c, out,
           index, overwrite):
    """Draw images from a checkpoint; its config.json rebuilds the model, no other flags needed."""
    from dcgan_cli.viz.sample import Request, run

    if per_class and mode not in (None, "per-class"):
        raise UserError(f"--per-class and --mode {mode} conflict; --per-class means --mode per-class: drop one")
    mode = mode or ("per-class" if per_class else "grid")
    run(Request(checkpoint, mode, num, list(labels), seed, out, steps, linear, dims, source, a, b, c, index, overwrite,
                list(codes), sweep_range),
        echo=click.echo, warn=lambda message: click.echo(message, err=True))


@cli.command("export")
@click.option("--checkpoint", required=True, type=click.Path(), help=CHECKPOINT_HELP)
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="keras: a .keras file; saved_model: a TensorFlow SavedModel folder (TF Serving); tflite: a LiteRT "
                   "flatbuffer (phones); onnx: an ONNX file (onnxruntime, other frameworks).")
@click.option("--out", type=click.Path(), default=None,
              help="Where to write it; OUT.config.json goes beside it [default: RUN/export/generator-stepN.EXT].")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out (and its .config.json).")
def export_command(checkpoint, fmt, out, overwrite):
    """Write the sampling generator for use without dcgan: stock Keras layers, float32, BatchNorm in
    inference mode; signature z (and labels, or InfoGAN's codes) -> images, checked against `dcgan sample`
    before writing."""
    from dcgan_cli.export import export

    export(checkpoint, fmt, out, overwrite, echo=click.echo)


@cli.command()
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False), help="A run directory made by `dcgan train`.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Output .png, .svg or .pdf [default: RUN/losses.png].")
def plot(run_dir, out):
    """Plot a run's losses, mean D(x) and D(G(z)), and any evaluation metric, from its TensorBoard logs."""
    from dcgan_cli.viz.plots import plot_run

    plot_run(run_dir, out, echo=click.echo)


@cli.command()
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False), help="A run directory made by `dcgan train`.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Output .gif [default: RUN/progress.gif].")
def movie(run_dir, out):
    """Play a run's fixed-z sample grids in order as a GIF, each frame stamped with its step."""
    from dcgan_cli.viz.plots import make_movie

    make_movie(run_dir, out, echo=click.echo)


@cli.command()
@click.option("--checkpoint", required=True, type=click.Path(),
              help=CHECKPOINT_HELP)
@click.option("--layer", type=int, default=0, show_default=True,
              help="D's layer: 0 shows its filters; deeper layers the real images that excite chosen channels most.")
@click.option("--channels", default=None, help="Deeper layers: channels to show, e.g. 0,3,7 [default: the first 8].")
@click.option("--top", type=int, default=8, show_default=True, help="Deeper layers: images per channel.")
@click.option("--pool", type=int, default=2000, show_default=True, help="Deeper layers: real images searched (MNIST: the test set).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Where the real images are [default: the run's].")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Output .png [default: RUN/samples/filters_layerN_stepS.png].")
def filters(checkpoint, layer, channels, top, pool, data_dir, out):
    """Show what D's layers respond to: first-layer filters, or top-activating real images."""
    from dcgan_cli.viz.plots import show_filters

    show_filters(checkpoint, layer, out, channels, top, pool, data_dir, echo=click.echo)


@cli.group()
def bench():
    """Measure speed on this machine."""


@bench.command("train")
@click.option("--model", "models", type=click.Choice(list(PRESETS)), multiple=True,
              help=f"Preset FAMILY-SIZE to time (repeatable) [default: {DEFAULT_PRESET}]; size 28 trains on real "
                   f"MNIST, larger sizes on synthetic RGB images, each family at its default width.")
@click.option("--precision", "precisions", type=click.Choice(PRECISIONS), multiple=True,
              help="Precision (repeatable) [default: auto].")
@click.option("--kernels", "kernel_sets", type=click.Choice(list(KERNELS)), multiple=True,
              help="Kernels (repeatable; give both to compare them in one interleaved run) [default: fast].")
@click.option("--jit/--no-jit", default=None, help="XLA-compile the step [default: as `dcgan train`].")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Global batch size.")
@click.option("--steps", type=int, default=30, show_default=True, help="Timed steps per round (after warm-up).")
@click.option("--rounds", type=int, default=4, show_default=True,
              help="Timed rounds per configuration; all configurations' rounds interleave.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the figures, one object per configuration, to this JSON file.")
def bench_train_command(models, precisions, kernel_sets, jit, batch_size, steps, rounds, json_path):
    """Time Trainer.fit (D once, G twice per step) against the bare step and this machine's matmul rate."""
    from dcgan_cli.bench.train import bench_train_many, format_row
    from dcgan_cli.files import check_writable, write_json

    if batch_size <= 0 or steps <= 0 or rounds <= 0:
        raise UserError(f"--batch-size, --steps and --rounds must be positive, got {batch_size}, {steps} and {rounds}")
    if json_path:
        check_writable(json_path, "--json")
    configurations = [(m, p, k) for m in models or (DEFAULT_PRESET,) for p in precisions or ("auto",)
                      for k in kernel_sets or ("fast",)]
    results = []
    for result in bench_train_many(configurations, jit, batch_size, steps, rounds):
        click.echo(format_row(result))
        results.append(result.to_dict())
    if json_path:
        write_json(json_path, results, fix="choose another --json")


@bench.command("data")
@click.argument("dataset", type=click.Choice(list(DATASETS)))
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="As for `dcgan train DATASET`.")
@click.option("--category", default="bedroom", show_default=True, help="LSUN category.")
@click.option("--pattern", default=None, help="Folder datasets: file names to use.")
@click.option("--crop", type=int, default=108, show_default=True, help="Folder datasets: centre crop before resizing.")
@click.option("--image-size", type=int, default=64, show_default=True, help="Output size.")
@click.option("--channels", type=int, default=3, show_default=True, help="3 for RGB, 1 for grayscale.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Batch size.")
@click.option("--limit", type=int, default=None, help="Use the first N records only.")
@click.option("--seconds", type=float, default=5.0, show_default=True, help="Length of each timed round.")
@click.option("--rounds", type=int, default=3, show_default=True, help="Rounds (pipeline and in-memory alternate; best kept).")
@click.option("--train-steps", type=int, default=None,
              help="Also time this many training steps, to compare [default: 10 with a GPU, none on a CPU].")
@click.option("--width", type=int, default=128, show_default=True, help="Model width for --train-steps.")
def bench_data_command(dataset, data_dir, category, pattern, crop, image_size, channels, batch_size, limit, seconds,
                       rounds, train_steps, width):
    """Images/s of the input pipeline (decode, crop, resize included) beside the in-memory decoder's rate."""
    from dcgan_cli.bench.data import bench_data

    for name, value in {"--image-size": image_size, "--batch-size": batch_size, "--rounds": rounds,
                        "--seconds": seconds, "--limit": 1 if limit is None else limit}.items():
        if value <= 0:
            raise UserError(f"{name} must be positive, got {value}")
    if channels not in (1, 3):
        raise UserError(f"--channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    bench_data(dataset, data_dir, image_size, channels, batch_size, seconds, rounds, category, pattern, crop, limit,
               train_steps, width, echo=click.echo)


@cli.group()
def download():
    """Fetch datasets: resumable (run the same command again after an interruption), checked, unpacked."""


@download.command("lsun")
@click.option("--category", default="bedroom", show_default=True,
              help="Scene category: bedroom, bridge, church_outdoor, classroom, conference_room, dining_room, "
                   "kitchen, living_room, restaurant or tower.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="train", show_default=True,
              help="Split (test is one archive for all categories).")
@click.option("--dest", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder to unpack into; pass it to `dcgan train lsun --data-dir`.")
def download_lsun_command(category, split, dest):
    """Download and unpack an official LSUN archive (bedroom train: 43 GB, church_outdoor: 2 GB)."""
    from dcgan_cli.datasets.fetch import download_lsun

    download_lsun(category, split, dest, log=click.echo)
    if split == "train":
        click.echo(f"train with: dcgan train lsun --category {category} --data-dir {dest}")


def download_command(name: str):
    """`dcgan download NAME` for a dataset the registry says how to fetch."""

    @download.command(name, help=f"Download {name}'s published files (checksums verified): {DATASETS[name].description}.")
    @click.option("--dest", type=click.Path(file_okay=False), default=None,
                  help=f"Folder for the files [default: the cache, where `dcgan train {name}` looks].")
    def command(dest):
        from dcgan_cli.datasets.fetch import download_dataset

        download_dataset(name, dest, log=click.echo)

    return command


for _name, _entry in DATASETS.items():
    if _entry.fetch is not None:
        download_command(_name)


@download.command("inception")
@click.option("--dest", type=click.Path(dir_okay=False), default=None,
              help="Where to write the file [default: where `dcgan evaluate --features inception` looks].")
def download_inception_command(dest):
    """Download the FID Inception weights (91 MB, sha256-checked) for `dcgan evaluate --features inception`."""
    from dcgan_cli.datasets.download import download as fetch
    from dcgan_cli.eval.inception import SHA256, URL, default_weights_path

    target = Path(dest) if dest else default_weights_path()
    fetch(URL, target, checksum="sha256:" + SHA256, offline_fix="download it on a machine with internet and pass it to "
          "`dcgan evaluate --features inception --inception-weights FILE`")
    click.echo(f"wrote {target}; use it with: dcgan evaluate --checkpoint RUN --features inception"
               + (f" --inception-weights {target}" if dest else ""))


@cli.command("evaluate")
@click.option("--checkpoint", required=True, type=click.Path(),
              help=CHECKPOINT_HELP)
@click.option("--num", type=int, default=10000, show_default=True, help="Samples drawn (and real images in the baseline).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the flat results to this file.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Where the real images are [default: the run's].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for z.")
@click.option("--features", type=click.Choice(["auto", "inception"]), default="auto", show_default=True,
              help="Feature space: auto = the project's MNIST classifier (MNIST) or a fixed random net (others), "
                   "comparable between runs; inception = the standard FID Inception network, comparable with "
                   "published FIDs (needs its weights: `dcgan download inception`).")
@click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
              help="The FID Inception weights file (pt_inception-2015-12-05-6726825d.pth, sha256-checked) "
                   "[default: where `dcgan download inception` puts it].")
@click.option("--classifier", type=click.Choice(CLASSIFIERS), default=None,
              help="Measure an unconditional 1-channel run of any size (a folder of digits) with the MNIST classifier: "
              "samples resized to 28x28, class coverage reported [default: MNIST and Fashion-MNIST runs use their own "
              "classifier, others random features].")
def evaluate_command(checkpoint, num, json_path, data_dir, seed, features, inception_weights, classifier):
    """FID, KID, IS, precision/recall, label accuracy and mode coverage of a checkpoint, beside real data's
    (InfoGAN runs: also how well the categorical code matches the classes)."""
    from dcgan_cli.eval.evaluate import evaluate, format_report, write_results
    from dcgan_cli.files import check_writable

    if inception_weights is not None and features != "inception":
        raise UserError("--inception-weights is only used with --features inception; add it or drop --inception-weights")
    if json_path:
        check_writable(json_path, "--json")
    results = evaluate(checkpoint, num, data_dir, seed, log=lambda msg: click.echo(msg, err=True), features=features,
                       inception_weights=inception_weights, classifier=classifier)
    click.echo(format_report(results))
    if json_path:
        write_results(json_path, results)
        click.echo(f"wrote {json_path}")


@cli.command("train-classifier")
@click.option("--dataset", type=click.Choice(list(CLASSIFIED)), default="mnist", show_default=True,
              help="The dataset to classify (MNIST's format: 28x28x1, 10 classes).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder holding the dataset [default: $DCGAN_DATA_DIR/<dataset>, then the download cache].")
@click.option("--retrain", is_flag=True, help="Train again even if a cached classifier exists.")
@click.option("--labels", type=int, default=None, metavar="N",
              help="Train only on N labelled images, the ones `dcgan train --family sgan --labels N --seed SEED` "
                   "uses, and report the test accuracy (sgan's supervised baseline; nothing is cached).")
@click.option("--seed", type=int, default=0, show_default=True, help="With --labels: the seed that picks them.")
def train_classifier_command(dataset, data_dir, retrain, labels, seed):
    """Train (once; then cached) the classifier that `dcgan evaluate` measures MNIST runs with."""
    from dcgan_cli.eval.classifier import classifier_dir, load_or_train_classifier, train_on_labels

    if labels is None and seed != 0:
        raise click.UsageError("--seed picks the labelled images of --labels N; pass --labels too, or drop --seed")
    if labels is not None:
        if retrain:
            raise click.UsageError("--labels trains a baseline that is never cached, so --retrain means nothing; drop it")
        from dcgan_cli.datasets import load

        result = train_on_labels(load(dataset, data_dir), labels, seed)
        click.echo(f"{CLASSIFIED[dataset]} classifier on {labels} labelled training images (class-balanced, seed "
                   f"{seed}; {result['steps']} steps, {result['train_seconds']:.0f} s): "
                   f"{result['test_accuracy']:.2%} on the held-out test images (not cached)")
        return
    classifier = load_or_train_classifier(data_dir, retrain=retrain, log=lambda msg: click.echo(msg, err=True),
                                          dataset=dataset)
    click.echo(f"{CLASSIFIED[dataset]} classifier: {classifier.accuracy:.2%} on the held-out test images; "
               f"cached in {classifier_dir(dataset)}")


@cli.command("probe")
@click.option("--checkpoint", required=True, type=click.Path(),
              help=CHECKPOINT_HELP)
@click.option("--labels", type=click.Choice(["100", "1000"]), default="100", show_default=True,
              help="Labelled training images the linear classifiers learn from.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Folder holding MNIST [default: the run's].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for choosing the labelled images.")
def probe_command(checkpoint, labels, data_dir, seed):
    """The paper's check: a linear classifier on D's features vs on raw pixels (MNIST)."""
    from dcgan_cli.eval.probe import format_probe, probe

    click.echo(format_probe(probe(checkpoint, int(labels), data_dir, seed)))


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 silenced: its CUDA stub logs before any log level applies."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def set_tensorflow_defaults(environ) -> None:
    """TensorFlow's settings that must precede its import, each left alone where the user set it.

    TF_CPP_MIN_LOG_LEVEL 3: its C++ start-up chatter (CUDA probing on CPU machines) is not for users;
    real failures still surface as Python exceptions. TF_ENABLE_ONEDNN_OPTS 1: TensorFlow turns oneDNN's
    CPU kernels on by itself only on CPUs with AVX-512 features; on an AVX2 CPU (a Zen 3) they make the
    dcgan model's step 1.7x and the conditional one's 1.2x faster (benchmarks/README.md, "Train step speed").
    """
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def main(argv=None) -> None:
    """Entry point: every user error is one line on stderr and exit code 2, never a traceback."""
    set_tensorflow_defaults(os.environ)
    args = sys.argv[1:] if argv is None else list(argv)
    if args and not {"-h", "--help", "--version"} & set(args):
        import_tensorflow_quietly()
    try:
        code = cli.main(args=args, prog_name="dcgan", standalone_mode=False, obj={"argv": ["dcgan", *args]})
    except click.exceptions.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except TrainingStopped as exc:
        click.echo(f"stopped: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


# Python's exit code when it cannot flush stdout or stderr at exit.
FLUSH_FAILED_EXIT = 120


def run() -> None:
    """The `dcgan` command and `python -m dcgan_cli`: main(), then an exit without Python's teardown.

    Python's ordinary exit tears TensorFlow down object by object, and a tf.data iterator's teardown
    waits for its threads: 2-61 s after `dcgan train` has saved its checkpoint, flushed its logs and
    released its lock (benchmarks/README.md, "Stopping"), longer than the 30 s that Kubernetes and Slurm
    grant after SIGTERM by default. By the time main() ends, every file dcgan writes is closed, so only
    stdout and stderr are left to flush. Multi-worker runs (TF_CONFIG set) keep the ordinary exit, so
    as not to skip whatever TensorFlow's teardown tells the other workers. Tests call main(), which
    raises SystemExit as usual.
    """
    code = 0
    try:
        main()
    except SystemExit as exc:  # main() always ends in sys.exit with an int
        code = exc.code
    if os.environ.get("TF_CONFIG"):
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # as Python's own exit does when it cannot flush them
            code = code or FLUSH_FAILED_EXIT
    os._exit(code)
