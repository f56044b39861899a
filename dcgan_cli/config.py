"""The run configuration: one dataclass, saved as config.json beside every checkpoint.

A checkpoint directory plus its config.json is enough to rebuild the models, so everything that
changes a model's shape lives here, as does every other setting of a run, each a typed field. Config
also owns what a resumed run may change (RESUME_POLICY) and reads the config.json files of older
versions of dcgan (migrate).

The CLI imports this module to build its options, so it imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from dcgan_cli.errors import UserError
from dcgan_cli.models.infogan import INFO_WEIGHT, INFO_WEIGHT_CONTINUOUS

CONFIG_FILE = "config.json"


def minimax_without_its_g(loss: str, g_objective: str) -> bool:
    """--loss minimax differs from non_saturating only in G's adversarial loss, which feature matching alone drops."""
    return loss == "minimax" and g_objective == "feature_matching"


@dataclass
class Config:
    # What to train on.
    dataset: str = "mnist"
    data_dir: str | None = None
    category: str | None = None  # LSUN category
    limit: int | None = None  # train on the first N images only
    pattern: str | None = None  # folder datasets: glob of image files
    crop: int | None = None  # folder datasets: centre crop before resizing
    class_subdirs: bool = False  # folder datasets: one subfolder per class, its name the class's

    # The models: `family` is one of models.FAMILIES, the rest its shape.
    family: str = "conditional"
    image_size: int = 28
    channels: int = 1
    num_classes: int = 10  # 0 for a family that takes no labels
    class_names: list[str] = dataclasses.field(default_factory=list)  # what each class id means, when known
    z_dim: int = 100
    z_dist: str = "uniform"  # one of models.family.Z_DISTRIBUTIONS
    width: int = 64  # gf_dim = df_dim for the convolutional families; hidden units for mlp
    depth: int | None = None  # hidden layers (mlp); None for families without the option
    d_norm: str | None = None  # D's normalisation, one of models.family.D_NORMS; None: the family's default
    # G's first feature map (and D's last) is start_size x start_size (dcgan); None: the family's default
    # (dcgan: the paper's 4x4), or for families without the option.
    start_size: int | None = None
    info_weight: float = INFO_WEIGHT  # infogan: the categorical code's information term (the paper's lambda)
    info_weight_continuous: float = INFO_WEIGHT_CONTINUOUS  # infogan: the continuous codes' (see models/infogan.py)
    # infogan: G's updates train Q's head on the information terms too (models/infogan.py; the family's
    # default, on, comes from its default_settings, as its z_dim does; False here is for the other families).
    q_with_g: bool = False
    # sgan: the labelled training images: N of them (None: every label), and which (indices into the
    # training images, picked class-balanced at the start from N and the seed, then kept for good).
    labels: int | None = None
    labelled: list[int] = dataclasses.field(default_factory=list)

    # The published configuration (train.recipes.RECIPES) the other values started from.
    recipe: str = "dcgan"

    # The objective: one of train.losses.LOSSES, and D's Lipschitz constraints.
    loss: str = "non_saturating"
    gradient_penalty: str = "none"  # one of train.penalties.PENALTIES, or none
    gp_weight: float = 10.0
    clip: float = 0.0  # WGAN's weight clipping: D's weights kept in [-clip, clip]; 0: none

    # The stabilisers of Salimans et al. 2016 (train/stabilisers.py; minibatch discrimination: models/layers.py).
    label_smoothing: float = 1.0  # D's target for real images: 0.9 is one-sided label smoothing; 1: none
    g_objective: str = "adversarial"  # G's loss: one of train.stabilisers.G_OBJECTIVES
    minibatch_discrimination: bool = False  # D sees how alike the images of its batch are (changes D's shape)
    historical_averaging: float = 0.0  # weight of ||theta - mean of its past values||^2 on each player; 0: none
    d_noise: float = 0.0  # std of Gaussian noise on D's input and hidden layers in training (models/layers.py); 0: none

    # Optimisation (carpedm20's defaults).
    optimizer: str = "adam"  # one of train.optimizer.OPTIMIZERS
    batch_size: int = 64
    epochs: int = 25
    max_steps: int | None = None
    lr: float = 2e-4
    # Each player's own rate, where it differs from lr (None: lr). Two rates are InfoGAN's setting
    # (G 1e-3, D 2e-4) and the two time-scale update rule's (Heusel et al. 2017).
    g_lr: float | None = None
    d_lr: float | None = None
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1  # D's updates on each real batch and its z
    critic_steps: int = 1  # D's updates per step, each on a fresh real batch and fresh z
    g_steps: int = 2
    seed: int = 0
    # Decay of the moving average of G's weights that samples and evaluates (0: none). Not carpedm20's:
    # it leaves training alone and reaches good samples far sooner (benchmarks/README.md, "Sample quality").
    ema: float = 0.999
    # The fraction of --epochs' steps, at the end, over which both learning rates fall linearly to 0
    # (0: constant, carpedm20's). Not carpedm20's either: it lets G and D settle instead of ending
    # wherever their oscillation happens to be (dcgan_cli/train/lr_schedule.py).
    lr_decay: float = 0.2

    # Bookkeeping.
    sample_every: int = 200
    checkpoint_every: int = 200
    log_every: int = 50
    keep: int = 3
    eval_every: int | None = None  # steps between sample-quality evaluations; None: never
    eval_samples: int = 2000  # samples per evaluation (dcgan evaluate's reported figures use 10,000)

    # How the mathematics is computed.
    precision: str = "auto"  # one of train.precision.PRECISIONS; `auto` is resolved at start-up
    jit: bool | None = None  # XLA; None: on for GPUs, off for CPUs
    kernels: str = "fast"  # one of kernels.KERNELS
    sync_bn: bool | None = None  # synchronise BatchNorm statistics across replicas; None: yes

    @property
    def conditional(self) -> bool:
        """G takes class labels (sgan trains on labels too, but its G is unconditional)."""
        from dcgan_cli.models import FAMILIES

        return self.num_classes > 0 and FAMILIES.get(self.family) is not None and FAMILIES[self.family].takes_labels

    @property
    def learning_rates(self) -> tuple[float, float]:
        """G's and D's learning rates: --g-lr and --d-lr, each --lr where not given."""
        return (self.lr if self.g_lr is None else self.g_lr), (self.lr if self.d_lr is None else self.d_lr)

    def make_family(self):
        """The models.Family this configuration describes; a UserError if it cannot build one."""
        from dcgan_cli.models import FAMILIES

        if self.family not in FAMILIES:
            raise UserError(f"--family {self.family} is unknown; choose one of {', '.join(FAMILIES)}")
        family = FAMILIES[self.family]
        try:
            return family(self.image_size, self.channels, self.z_dim, self.z_dist, self.num_classes, self.width,
                          self.depth, d_norm=self.d_norm, start_size=self.start_size,
                          minibatch=self.minibatch_discrimination, d_noise=self.d_noise,
                          **{name: getattr(self, name) for name in family.settings})
        except ValueError as exc:
            raise UserError(f"{exc}; see `dcgan train {self.dataset} --help` for what fits") from None

    def validate(self) -> None:
        from dcgan_cli.datasets import DATASETS
        from dcgan_cli.kernels import KERNELS
        from dcgan_cli.models.family import Z_DISTRIBUTIONS
        from dcgan_cli.models.family import D_NORMS
        from dcgan_cli.train.losses import CRITIC, LOSSES
        from dcgan_cli.train.optimizer import OPTIMIZERS
        from dcgan_cli.train.penalties import PENALTIES
        from dcgan_cli.train.precision import PRECISIONS
        from dcgan_cli.train.recipes import RECIPES
        from dcgan_cli.train.stabilisers import G_OBJECTIVES

        for name, value in dataclasses.asdict(self).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise UserError(f"{flag(name)} must be a finite number, got {value}")
        positive = {
            "batch_size": self.batch_size, "epochs": self.epochs, "z_dim": self.z_dim,
            "d_steps": self.d_steps, "critic_steps": self.critic_steps, "g_steps": self.g_steps,
            "sample_every": self.sample_every,
            "checkpoint_every": self.checkpoint_every, "log_every": self.log_every,
            "keep": self.keep, "image_size": self.image_size, "width": self.width,
        }
        for name, value in positive.items():
            if value is None or value <= 0:
                raise UserError(f"{flag(name)} must be a positive integer, got {value}")
        for name in ("max_steps", "eval_every", "limit", "depth", "labels"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UserError(f"{flag(name)} must be a positive integer, got {value}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise UserError(f"class_names lists {len(self.class_names)} classes, not num_classes' {self.num_classes}")
        if self.eval_samples < 8:
            raise UserError(f"--eval-samples must be at least 8 (2000 is the default), got {self.eval_samples}")
        for name in ("lr", "g_lr", "d_lr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UserError(f"{flag(name)} must be positive, got {value}")
        if not 0 <= self.ema < 1:
            raise UserError(f"--ema must be in [0, 1) (0 turns it off; 0.999 is typical), got {self.ema}")
        if not 0 <= self.lr_decay <= 1:
            raise UserError(f"--lr-decay must be in [0, 1] (a fraction of the run; 0 keeps the rate constant), got {self.lr_decay}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"{flag(name)} must be in [0, 1), got {getattr(self, name)}")
        if not self.gp_weight > 0:
            raise UserError(f"--gp-weight must be positive (10 is the papers'), got {self.gp_weight}")
        if not self.clip >= 0:
            raise UserError(f"--clip must be positive (WGAN's is 0.01), or 0 for none; got {self.clip}")
        if not 0 < self.label_smoothing <= 1:
            raise UserError(f"--label-smoothing is D's target for real images, in (0, 1] (0.9 is Salimans et al.'s; "
                            f"1: none), got {self.label_smoothing}")
        if not self.d_noise >= 0:
            raise UserError(f"--d-noise is a standard deviation: 0 (none) or more (0.3-0.5 is Salimans et al.'s), got {self.d_noise}")
        if not self.historical_averaging >= 0:
            raise UserError(f"--historical-averaging must be 0 (none) or a positive weight, got {self.historical_averaging}")
        if not 0 <= self.seed < 2**32:
            raise UserError(f"--seed must be in 0..{2**32 - 1}, got {self.seed}")
        for name, registry in (("dataset", DATASETS), ("z_dist", Z_DISTRIBUTIONS), ("loss", LOSSES),
                               ("precision", PRECISIONS), ("kernels", KERNELS), ("optimizer", OPTIMIZERS),
                               ("gradient_penalty", {"none": None, **PENALTIES}), ("recipe", RECIPES),
                               ("g_objective", G_OBJECTIVES)):
            if getattr(self, name) not in registry:
                raise UserError(f"{flag(name)} must be one of {', '.join(registry)}, got {getattr(self, name)}")
        if self.d_norm is not None and self.d_norm not in D_NORMS:
            raise UserError(f"--d-norm must be one of {', '.join(D_NORMS)}, got {self.d_norm}")
        if self.labels is not None and DATASETS[self.dataset].load is None:
            raise UserError(f"--labels picks labelled images of the datasets held in memory "
                            f"({', '.join(n for n, d in DATASETS.items() if d.load)}); a {self.dataset} run uses every "
                            f"label it has: drop --labels")
        if self.labelled and len(self.labelled) != self.labels:
            raise UserError(f"labelled lists {len(self.labelled)} images, not --labels' {self.labels}")
        family = self.make_family()
        if self.labels is not None and "labels" not in family.settings:
            raise UserError(f"--labels does not apply to the {self.family} family (it is sgan's); drop --labels")
        self._refuse_nonsense(LOSSES[self.loss].output == CRITIC, family)
        self._refuse_stabiliser_nonsense(LOSSES[self.loss].targets)

    def _refuse_nonsense(self, critic: bool, family) -> None:
        """Combinations whose mathematics makes no sense, each refused with the fix: the family's first."""
        if family.losses is not None and self.loss not in family.losses:
            # Name only the losses this run's G objective accepts, so that following the message does not meet
            # the refusal in _refuse_stabiliser_nonsense.
            fits = [name for name in family.losses if not minimax_without_its_g(name, self.g_objective)]
            raise UserError(f"--loss {self.loss} does not fit the {self.family} family: {family.losses_reason}; "
                            f"use --loss {' or '.join(fits)}")
        if self.clip and family.refuses_clip:
            raise UserError(f"--clip does not fit the {self.family} family: {family.refuses_clip}")
        d_norm = family.d_norm
        penalty = self.gradient_penalty != "none"
        if penalty and d_norm == "batch":
            raise UserError(f"--gradient-penalty {self.gradient_penalty} is a per-example penalty, and --d-norm batch "
                            f"mixes the examples of a batch in D; use --d-norm layer or none (as --recipe wgan-gp)")
        if penalty and self.minibatch_discrimination:
            raise UserError(f"--gradient-penalty {self.gradient_penalty} is a per-example penalty, and "
                            f"--minibatch-discrimination mixes the examples of a batch in D; drop one")
        if self.clip and not critic:
            raise UserError(f"--clip is WGAN's constraint on a critic, and --loss {self.loss} has none; "
                            f"use --loss wasserstein, or drop --clip")
        if self.clip and penalty:
            raise UserError(f"--clip and --gradient-penalty {self.gradient_penalty} both constrain D's gradient; "
                            f"WGAN-GP's penalty replaces clipping: drop one")
        if critic and not (self.clip or penalty):
            raise UserError("--loss wasserstein needs a Lipschitz constraint on the critic: --clip 0.01 (--recipe wgan) "
                            "or --gradient-penalty wgan-gp (--recipe wgan-gp)")
        if self.critic_steps > 1 and self.d_steps > 1:
            raise UserError(f"--critic-steps {self.critic_steps} (fresh batches) and --d-steps {self.d_steps} (the same "
                            f"batch again) both set D's updates; use one")

    def _refuse_stabiliser_nonsense(self, targets: bool) -> None:
        if self.label_smoothing != 1 and not targets:
            raise UserError(f"--label-smoothing {self.label_smoothing} lowers D's target for real images, and --loss "
                            f"{self.loss} has no target; use it with non_saturating, minimax or least_squares, or pass "
                            f"--label-smoothing 1 (the mlp recipe sets 0.9)")
        if minimax_without_its_g(self.loss, self.g_objective):
            raise UserError("--loss minimax differs from non_saturating only in G's loss, which --g-objective "
                            "feature_matching (the sgan recipe sets it) replaces; use --loss non_saturating, or "
                            "--g-objective both or adversarial")

    # --- resuming ----------------------------------------------------------------------------------

    def resume_with(self, requested: Config, typed: set[str]) -> Config:
        """This (saved) configuration with the changes typed for a resumed run that RESUME_POLICY allows.

        `requested` is the configuration the command line describes and `typed` the fields its user
        typed. The dataset and family must match whether typed or not (defaults differ between them);
        any other typed field the policy keeps fixed must equal the saved value.
        """
        if (self.dataset, self.family) != (requested.dataset, requested.family):
            again = f"dcgan train {self.dataset} --family {self.family} --resume"
            raise UserError(f"the run to resume is a {self.dataset}-{self.family} run, not {requested.dataset}-"
                            f"{requested.family}; use `{again}`, or --out NEW_DIR for a new run")
        changes = {}
        for name in sorted(typed & set(RESUME_POLICY)):
            new, old = getattr(requested, name), getattr(self, name)
            if RESUME_POLICY[name].may_change:
                changes[name] = new
            elif new != old:
                raise UserError(f"{flag(name)} {new} differs from the resumed run's {old} ({RESUME_POLICY[name].reason}); "
                                f"drop {flag(name)} to resume, or use --out NEW_DIR for a new run")
        return dataclasses.replace(self, **changes)

    # --- files ---------------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict, source: str = CONFIG_FILE) -> Config:
        data = migrate(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{source} has unknown fields {unknown}; it was written by a newer dcgan: upgrade dcgan")
        hints = typing.get_type_hints(cls)
        for name, value in data.items():
            hint = hints[name]
            allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
            if not any(_is_a(value, kind) for kind in allowed):
                wanted = " or ".join("null" if kind is type(None) else str(kind) if typing.get_origin(kind) else kind.__name__
                                     for kind in allowed)
                raise UserError(f"{source}'s {name} is {json.dumps(value)}, not {wanted}; correct it, or restore "
                                f"the run's {CONFIG_FILE}")
        return cls(**data)

    def save(self, run_dir: str | os.PathLike) -> None:
        """Write config.json atomically, so a crash never leaves half a config."""
        from dcgan_cli.files import write_text

        write_text(Path(run_dir) / CONFIG_FILE, self.to_json())

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> Config:
        """The config.json of run_dir (or the file run_dir itself), checked field by field (a hand-edited
        file gets one clear line)."""
        path = Path(run_dir) if Path(run_dir).is_file() else Path(run_dir) / CONFIG_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"{run_dir} has no {CONFIG_FILE}: point --checkpoint at a run directory made by `dcgan train`") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path} is not valid JSON ({exc}); restore it from the run's backup or retrain") from None
        if not isinstance(data, dict):
            raise UserError(f"{path} does not hold a configuration object; restore it or retrain")
        config = cls.from_dict(data, source=str(path))
        try:
            config.validate()
        except UserError as exc:
            raise UserError(f"{path} holds a value dcgan cannot use: {exc}; correct it, or restore the run's {CONFIG_FILE}") from None
        return config


def _is_a(value, kind) -> bool:
    """JSON's view of a type: a float field may hold an integer; an integer field never holds a bool."""
    if kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        return isinstance(value, list) and all(_is_a(v, item) for v in value)
    return isinstance(value, kind)


def flag(name: str) -> str:
    """The command-line option of a Config field."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class ResumeRule:
    may_change: bool
    reason: str


def _rule(may_change: bool, reason: str, names: str) -> dict[str, ResumeRule]:
    return {name: ResumeRule(may_change, reason) for name in names.split()}


# What a resumed run may change, field by field, and why. Every Config field has exactly one rule
# (tests/test_config.py checks), so a new setting must say how it behaves on --resume.
RESUME_POLICY: dict[str, ResumeRule] = {
    **_rule(False, "it shapes the models' variables, which the checkpoint holds",
            "family image_size channels num_classes z_dim width depth start_size"),
    **_rule(False, "it says what the model's class labels mean", "class_names"),
    **_rule(False, "a resumed run continues the same optimisation, bit for bit: the same data, batches, z and updates",
            "dataset category limit pattern crop class_subdirs labels labelled z_dist info_weight info_weight_continuous q_with_g loss "
            "gradient_penalty gp_weight clip batch_size d_steps critic_steps g_steps seed ema "
            "label_smoothing g_objective historical_averaging"),
    **_rule(False, "it shapes D's variables, which the checkpoint holds", "d_norm minibatch_discrimination d_noise"),
    **_rule(False, "the checkpoint holds its state (Adam's moments or RMSprop's mean square)", "optimizer"),
    **_rule(False, "the run's values came from it; change single options instead", "recipe"),
    # The advice after a NaN is to resume with a lower --lr: the new base rate applies from the step the
    # run resumes at (and --lr-decay anneals it from there); history.jsonl records each change.
    **_rule(True, "the optimizer's step sizes, set anew from the step the run resumes at", "lr g_lr d_lr beta1 beta2 lr_decay"),
    **_rule(True, "when the run stops (and so where --lr-decay's schedule ends)", "epochs max_steps"),
    **_rule(True, "what is written and how often, not what is learned",
            "sample_every checkpoint_every log_every keep eval_every eval_samples"),
    **_rule(True, "how the same mathematics is computed; no variable changes", "precision jit kernels sync_bn"),
    **_rule(True, "where the same data is read from", "data_dir"),
}

# config.json's `model` before the family registry (dcgan <= 0.1.0 as of issue 14), and its family now.
LEGACY_MODELS = {"mnist-conditional": "conditional", "mnist": "dcgan", "dcgan": "dcgan"}
# Settings that once lived in config.json's untyped `extra` object.
LEGACY_EXTRA = ("sync_bn",)
# Fields that runs from before they existed trained without: their value then, not today's default.
ABSENT_MEANS = {"ema": 0.0, "lr_decay": 0.0, "label_smoothing": 1.0, "g_objective": "adversarial",
                "minibatch_discrimination": False, "historical_averaging": 0.0, "q_with_g": False}
# Families whose runs from before `start_size` started where carpedm20 starts (halving the image four times).
CARPEDM20_START = ("dcgan",)


def migrate(data: dict) -> dict:
    """A config.json object of any earlier dcgan, in today's fields: `model` becomes `family`,
    `extra`'s settings become fields, and settings a run predates take the value it trained with
    (an unconditional model from before `start_size` started at carpedm20's size, not today's 4x4)."""
    data = {**ABSENT_MEANS, **data}
    if "model" in data:
        model = data.pop("model")
        if model not in LEGACY_MODELS:
            raise UserError(f"config.json's model {model!r} is not one dcgan ever wrote "
                            f"({', '.join(LEGACY_MODELS)}); restore the run's config.json")
        data.setdefault("family", LEGACY_MODELS[model])
    extra = data.pop("extra", None) or {}
    if not isinstance(extra, dict) or set(extra) - set(LEGACY_EXTRA):
        raise UserError(f"config.json's extra {extra!r} holds settings this dcgan does not know; upgrade dcgan")
    for name, value in extra.items():
        data.setdefault(name, value)
    image_size = data.get("image_size", Config.image_size)
    if "start_size" not in data and data.get("family") in CARPEDM20_START and _is_a(image_size, int) and image_size > 0:
        from dcgan_cli.models.dcgan import carpedm20_start_size

        data["start_size"] = carpedm20_start_size(image_size)
    return data
