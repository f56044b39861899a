"""Published configurations in one word (`--recipe`), and where each of a run's values came from.

A recipe is a set of Config values (reference.md section 6 gives each paper's). A run's values are
resolved in one order, highest first: options typed on the command line, then `--config FILE` (an
earlier run's config.json), then the recipe, then the family's defaults, then the global defaults.
`resolve` is that order, in one place; it also says each value's source, for `--dry-run`.

The CLI reads RECIPES for --recipe's choices, so this module imports no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    description: str
    paper: str
    values: dict = field(default_factory=dict)  # Config fields


RECIPES = {
    "dcgan": Recipe("today's defaults: carpedm20's settings plus --ema 0.999 --lr-decay 0.2",
                    "Radford et al. 2015; carpedm20/DCGAN-tensorflow"),
    "carpedm20": Recipe("exactly carpedm20's settings: no weight average, a constant learning rate",
                        "carpedm20/DCGAN-tensorflow", {"ema": 0.0, "lr_decay": 0.0}),
    "wgan": Recipe("a Wasserstein critic, weights clipped to 0.01, 5 critic updates per G update, RMSprop 5e-5",
                   "Arjovsky, Chintala & Bottou 2017",
                   {"loss": "wasserstein", "clip": 0.01, "critic_steps": 5, "g_steps": 1, "optimizer": "rmsprop",
                    "lr": 5e-5}),
    "wgan-gp": Recipe("a Wasserstein critic with the gradient penalty (10), 5 critic updates, Adam 1e-4 (0, 0.9), "
                      "layer norm in the critic", "Gulrajani et al. 2017",
                      {"loss": "wasserstein", "gradient_penalty": "wgan-gp", "gp_weight": 10.0, "critic_steps": 5,
                       "g_steps": 1, "optimizer": "adam", "lr": 1e-4, "beta1": 0.0, "beta2": 0.9, "d_norm": "layer"}),
    "lsgan": Recipe("least-squares losses (the 0-1 coding)", "Mao et al. 2017", {"loss": "least_squares"}),
    "dragan": Recipe("the non-saturating loss with DRAGAN's penalty (10) around the data, layer norm in D",
                     "Kodali et al. 2017", {"gradient_penalty": "dragan", "gp_weight": 10.0, "d_norm": "layer"}),
    "mlp": Recipe("the TF1 tutorial's MLP GAN: 400 tanh units, batch 128, G updated twice per D update, one-sided "
                  "label smoothing 0.9", "the TF1 MNIST tutorial; Goodfellow et al. 2014",
                  {"family": "mlp", "batch_size": 128, "g_steps": 2, "label_smoothing": 0.9}),
    "sgan": Recipe("the semi-supervised GAN as Salimans et al. trained it: G by feature matching, Gaussian noise "
                   "(std 0.5) on D's input and hidden layers; on our DCGAN body", "Salimans et al. 2016",
                   {"family": "sgan", "g_objective": "feature_matching", "d_noise": 0.5}),
}
DEFAULT_RECIPE = "dcgan"


def family_recipe(family: str) -> str:
    """The recipe a run of `family` starts from when none is named: the one made for that family (mlp's,
    sgan's), else the default. Their published settings are part of what these models are; without
    them sgan's D learns and then forgets the classes (benchmarks/README.md)."""
    return next((name for name, recipe in RECIPES.items() if recipe.values.get("family") == family), DEFAULT_RECIPE)

# Where a value came from, as `--dry-run` prints it (with the recipe's, file's or family's name after).
TYPED, CONFIG_FILE, RECIPE, FAMILY, DEFAULT = "command line", "--config", "recipe", "family", "default"


def resolve(defaults: dict, typed: dict, from_file: dict | None = None, recipe: str = DEFAULT_RECIPE,
            family: tuple[str, dict] | None = None, file_name: str = "") -> tuple[dict, dict]:
    """(values, sources) of every name in `defaults`: the first of the typed options, the --config file's
    values, the recipe's values, the family's defaults (family: its name and them) and `defaults` that
    holds it; sources[name] says which, e.g. "recipe wgan" or "--config RUN/config.json"."""
    family_name, family_defaults = family or ("", {})
    layers = [(TYPED, typed), (f"{CONFIG_FILE} {file_name}".strip(), from_file or {}),
              (f"{RECIPE} {recipe}", RECIPES[recipe].values), (f"{FAMILY} {family_name}".strip(), family_defaults),
              (DEFAULT, defaults)]
    values, sources = {}, {}
    for name in defaults:
        source, layer = next((source, layer) for source, layer in layers if name in layer)
        values[name], sources[name] = layer[name], source
    return values, sources
