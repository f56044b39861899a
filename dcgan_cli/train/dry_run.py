"""`dcgan train ... --dry-run`: the checks a start makes, run alone, and what the run would be.

It runs trainer.check_start, the very phase `train` runs before writing anything (options, run
directory and lock, the checkpoint to resume from, the data opened, counted and its first records
decoded), then prints every setting with the value the run would use and where that value came
from. It writes nothing: no run directory, no lock, no config.json, no history.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dcgan_cli.config import Config
from dcgan_cli.errors import NotDownloaded, UserError


def dry_run(config: Config, run_dir: Path, resume: bool, strategy, sources: dict[str, str], echo=print) -> None:
    """Check a start of `config` in run_dir as train() would, and print the resolved settings.

    sources: each Config field's source ("typed", "default", ...), from the CLI's value_sources.
    """
    from dcgan_cli.train import distribute
    from dcgan_cli.train.trainer import check_start, schedule

    try:
        resuming, latest, data = check_start(config, run_dir, resume, strategy, log=echo, download_ok=False)
    except NotDownloaded as exc:
        raise UserError(f"--dry-run downloads nothing, and {exc} (a run without --dry-run downloads it itself)") from None
    steps_per_epoch, total = schedule(config, data.num_examples, data.epoch_rows)
    total = total if config.max_steps is None else min(config.max_steps, total)
    start = (f"resume {latest}" if latest else f"resume {run_dir} from step 0 (no checkpoint yet)") if resuming \
        else f"start a new run in {run_dir}"
    echo(f"dry run, nothing written: would {start}; {run_dir} is free (no other process holds its lock)")
    echo(f"data: {config.dataset}, {data.num_examples} images opened and counted, first records decoded; "
         f"{steps_per_epoch} steps/epoch, training to step {total}; {distribute.describe(strategy)}")
    echo(format_settings(config, sources))


def format_settings(config: Config, sources: dict[str, str]) -> str:
    """A table of every Config field: the value the run would use and where it came from."""
    values = dataclasses.asdict(config)
    width = max(map(len, values))
    shown = {name: "-" if value is None else str(value) for name, value in values.items()}
    value_width = max(map(len, shown.values()))
    lines = [f"{'setting':<{width}}  {'value':<{value_width}}  source"]
    lines += [f"{name:<{width}}  {shown[name]:<{value_width}}  {sources.get(name, 'default')}" for name in values]
    return "\n".join(lines)
