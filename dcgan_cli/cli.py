"""The `dcgan` command line: parses options, builds a Config, dispatches. No training logic here.

TensorFlow is imported inside the commands, so `dcgan --help` answers instantly.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import click

from dcgan_cli.config import Config
from dcgan_cli.errors import TrainingStopped, UserError

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) is not for users; real failures
# still surface as Python exceptions. Set TF_CPP_MIN_LOG_LEVEL yourself to see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DEFAULTS = Config()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="dcgan")
def cli():
    """Train Deep Convolutional GANs (Radford et al. 2015) and sample from them."""


@cli.group()
def train():
    """Train a DCGAN; every option's default is carpedm20's."""


def training_options(command):
    """Options shared by every `dcgan train DATASET` command."""
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Folder holding the data [default: $DCGAN_DATA_DIR/<dataset>, then the download cache]."),
        click.option("--out", type=click.Path(file_okay=False), default=None,
                     help="Run directory [default: checkpoints/<dataset>[-conditional]]."),
        click.option("--resume", is_flag=True, help="Continue the run in --out from its latest checkpoint."),
        click.option("--epochs", type=int, default=DEFAULTS.epochs, show_default=True, help="Passes over the data."),
        click.option("--max-steps", type=int, default=None, help="Stop after this many steps (batches) in all, if sooner than --epochs."),
        click.option("--batch-size", type=int, default=DEFAULTS.batch_size, show_default=True, help="Global batch size."),
        click.option("--z-dim", type=int, default=DEFAULTS.z_dim, show_default=True, help="Dimension of z."),
        click.option("--z-dist", type=click.Choice(["uniform", "normal"]), default=DEFAULTS.z_dist, show_default=True,
                     help="z ~ U(-1, 1) or N(0, 1)."),
        click.option("--loss", type=click.Choice(["non_saturating", "minimax", "least_squares", "hinge"]),
                     default=DEFAULTS.loss, show_default=True, help="GAN loss."),
        click.option("--lr", type=float, default=DEFAULTS.lr, show_default=True, help="Adam learning rate (G and D)."),
        click.option("--beta1", type=float, default=DEFAULTS.beta1, show_default=True, help="Adam beta1."),
        click.option("--d-steps", type=int, default=DEFAULTS.d_steps, show_default=True, help="D updates per batch."),
        click.option("--g-steps", type=int, default=DEFAULTS.g_steps, show_default=True, help="G updates per batch (same z)."),
        click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True, help="Seed for data order, z and initial weights."),
        click.option("--sample-every", type=int, default=DEFAULTS.sample_every, show_default=True, help="Steps between sample grids."),
        click.option("--checkpoint-every", type=int, default=DEFAULTS.checkpoint_every, show_default=True, help="Steps between checkpoints."),
        click.option("--log-every", type=int, default=DEFAULTS.log_every, show_default=True, help="Steps between TensorBoard scalars."),
        click.option("--keep", type=int, default=DEFAULTS.keep, show_default=True, help="Checkpoints to keep."),
        click.option("--precision", type=click.Choice(["auto", "float32", "mixed_float16", "mixed_bfloat16"]),
                     default=DEFAULTS.precision, show_default=True,
                     help="auto: mixed_float16 on a GPU, float32 on a CPU."),
        click.option("--jit/--no-jit", default=None, help="XLA-compile the train step [default: on for GPUs, off for CPUs]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


# Options that only change the schedule or bookkeeping: a resumed run may change these.
SCHEDULE_OPTIONS = ("epochs", "max_steps", "sample_every", "checkpoint_every", "log_every", "keep", "precision", "jit", "data_dir")


def run_training(ctx: click.Context, config: Config, out, resume: bool) -> None:
    """Train `config` into `out`, reconciling it with the saved config when resuming."""
    from dcgan_cli.run_dir import default_run_dir

    run_dir = Path(out) if out else default_run_dir(config.dataset, config.conditional)
    if resume and (run_dir / "config.json").exists():
        config = reconcile(Config.load(run_dir), config, explicit_options(ctx))
    config.validate()
    _seed_everything(config.seed)
    from dcgan_cli.trainer import train as train_run

    train_run(config, run_dir, resume=resume, log=lambda msg: click.echo(msg, err=True))


def explicit_options(ctx: click.Context) -> set[str]:
    return {name for name in ctx.params
            if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}


def reconcile(saved: Config, requested: Config, explicit: set[str]) -> Config:
    """The saved config, with the schedule options the user typed. Anything else typed must agree."""
    if (saved.dataset, saved.model) != (requested.dataset, requested.model):
        again = f"dcgan train {saved.dataset}{' --conditional' if saved.conditional else ''} --resume"
        raise UserError(f"the run to resume is a {saved.model} model, not {requested.model}; use `{again}`, or --out NEW_DIR for a new run")
    changes = {}
    for name in sorted(explicit & set(dataclasses.asdict(saved))):
        new, old = getattr(requested, name), getattr(saved, name)
        if name in SCHEDULE_OPTIONS:
            changes[name] = new
        elif new != old:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} {new} differs from the resumed run's {old}; drop {flag} to resume, or use --out NEW_DIR for a new run")
    return dataclasses.replace(saved, **changes)


def _seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)  # initial weights; z and data order are seeded by (seed, step)


def _config_from(options: dict, **fields) -> Config:
    known = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in options.items() if k in known}, **fields)


@train.command("mnist")
@click.option("--conditional/--unconditional", default=False, show_default=True,
              help="carpedm20's class-conditional model (labels fed to G and D).")
@training_options
@click.pass_context
def train_mnist(ctx, conditional, out, resume, **options):
    """Train on MNIST (28x28, 60k training images; the 10k test images stay held out)."""
    config = _config_from(options, dataset="mnist", model="mnist-conditional" if conditional else "mnist",
                          image_size=28, channels=1, num_classes=10 if conditional else 0, width=64)
    run_training(ctx, config, out, resume)


@cli.command()
@click.option("--checkpoint", required=True, type=click.Path(),
              help="A run directory (its latest checkpoint), RUN/ckpt, or RUN/ckpt/ckpt-N.")
@click.option("--num", type=int, default=None, help="Number of images [default: 64; 10 per class with --per-class].")
@click.option("--label", "labels", type=int, multiple=True,
              help="Class to draw (repeatable); conditional models cycle 0..9 without it.")
@click.option("--per-class", is_flag=True, help="One row per class (conditional models).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for z.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Output .png (a grid) or .npz (images uint8 NxHxWxC, labels) [default: RUN/samples/sample_stepN_seedS.png].")
def sample(checkpoint, num, labels, per_class, seed, out):
    """Draw images from a checkpoint; its config.json rebuilds the model, no other flags needed."""
    from dcgan_cli.sampling import sample_to_file

    sample_to_file(checkpoint, num, list(labels), per_class, seed, out, echo=click.echo)


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


def main(argv=None) -> None:
    """Entry point: every user error is one line on stderr and exit code 2, never a traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and not {"-h", "--help", "--version"} & set(args):
        import_tensorflow_quietly()
    try:
        code = cli.main(args=args, prog_name="dcgan", standalone_mode=False)
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
