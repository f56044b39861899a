"""Choosing a tf.distribute strategy, and what only the chief worker may write.

The train step is written once for a replica (train_step.py); this module only picks the strategy
it runs under:

    default      one device, no strategy
    mirrored     MirroredStrategy over this host's GPUs (or --cpu-replicas K logical CPUs)
    multiworker  MultiWorkerMirroredStrategy, the cluster described by TF_CONFIG
    auto         mirrored when more than one GPU is visible, else default

Under multiworker every worker runs the same program and takes part in every collective,
checkpoint saves included. Only the chief writes the run directory; the other workers write
their checkpoints, samples and events to a temporary directory they delete afterwards
(TensorFlow's documented pattern). A resume reads the checkpoint from the run directory, so
workers on different hosts need it on a shared filesystem.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from dcgan_cli import run_dir as runs
from dcgan_cli.errors import TrainingStopped, UserError

# The registry --strategy's choices read (so TensorFlow is imported only inside the functions).
STRATEGIES = ("auto", "default", "mirrored", "multiworker")

# A collective that waits longer than this for a peer fails instead of hanging forever. One
# step of the largest model on a slow CPU takes seconds, so ten minutes only ever means a lost peer.
COLLECTIVE_TIMEOUT_VARIABLE = "DCGAN_COLLECTIVE_TIMEOUT"
COLLECTIVE_TIMEOUT_SECONDS = 600


def collective_timeout() -> int:
    """Seconds a collective waits for a peer: $DCGAN_COLLECTIVE_TIMEOUT, else COLLECTIVE_TIMEOUT_SECONDS."""
    raw = os.environ.get(COLLECTIVE_TIMEOUT_VARIABLE, str(COLLECTIVE_TIMEOUT_SECONDS))
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise UserError(f"{COLLECTIVE_TIMEOUT_VARIABLE}={raw} is not a positive number of seconds; "
                        f"unset it (default {COLLECTIVE_TIMEOUT_SECONDS}) or set e.g. 600")
    return seconds


def peer_errors() -> tuple:
    """The errors TensorFlow raises when a peer has died or stopped answering."""
    import tensorflow as tf

    return (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
            tf.errors.CancelledError)


def make_strategy(name: str = "auto", cpu_replicas: int | None = None):
    """The strategy `--strategy NAME [--cpu-replicas K]` asks for. Call before TensorFlow runs anything."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise UserError(f"--strategy {name} is unknown; choose one of {', '.join(STRATEGIES)}")
    if cpu_replicas is not None:
        if cpu_replicas < 1:
            raise UserError(f"--cpu-replicas must be a positive integer, got {cpu_replicas}")
        if name == "default" and cpu_replicas > 1:
            raise UserError("--cpu-replicas needs several replicas but --strategy default has one; use --strategy mirrored")
        if name == "multiworker" and cpu_replicas > 1:
            raise UserError("--cpu-replicas does not apply to --strategy multiworker (one CPU replica per worker); "
                            "start more workers instead")
        split_cpu(cpu_replicas)
    if name == "multiworker":
        return multiworker_strategy()
    if cpu_replicas is not None and name in ("auto", "mirrored"):
        cpus = tf.config.list_logical_devices("CPU")[:cpu_replicas]
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    gpus = tf.config.list_physical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()  # every visible GPU, or the CPU when there is none
    return tf.distribute.get_strategy()


def split_cpu(k: int) -> None:
    """Split the CPU into k logical devices, so that MirroredStrategy has k replicas without GPUs."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * k)
    except RuntimeError:
        # TensorFlow has started (e.g. in a test process); that is fine if the split is already the one asked for.
        have = len(tf.config.list_logical_devices("CPU"))
        if have != k:
            raise UserError(f"--cpu-replicas {k}: TensorFlow already started with {have} CPU device(s); "
                            f"pass --cpu-replicas in a fresh process") from None


def read_tf_config() -> dict:
    """TF_CONFIG, checked enough that mistakes get a one-line message instead of a hang."""
    example = 'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UserError(f"--strategy multiworker needs TF_CONFIG describing the cluster; set e.g. {example}")
    try:
        tf_config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"TF_CONFIG is not valid JSON ({exc}); set e.g. {example}") from None
    cluster = tf_config.get("cluster") if isinstance(tf_config, dict) else None
    task = tf_config.get("task") if isinstance(tf_config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise UserError(f"TF_CONFIG needs a \"cluster\" and a \"task\" object; set e.g. {example}")
    jobs = {job: hosts for job, hosts in cluster.items() if job in ("chief", "worker")}
    if not jobs or not all(isinstance(h, list) and h for h in jobs.values()):
        raise UserError(f"TF_CONFIG's cluster lists no \"worker\" (or \"chief\") addresses; set e.g. {example}")
    kind, index = task.get("type"), task.get("index")
    if kind not in jobs or not isinstance(index, int) or not 0 <= index < len(jobs[kind]):
        raise UserError(f"TF_CONFIG's task {task} is not one of the cluster's {jobs}; "
                        f"give each process its own type and index")
    return tf_config


def multiworker_strategy():
    import tensorflow as tf

    read_tf_config()
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout())
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def is_chief(strategy) -> bool:
    return strategy.extended.should_checkpoint


def describe(strategy) -> str:
    """e.g. "MirroredStrategy, 2 replica(s) on 1 worker(s)", for the start-of-run log line."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        kind = "MultiWorkerMirroredStrategy"
    elif isinstance(strategy, tf.distribute.MirroredStrategy):
        kind = "MirroredStrategy"
    else:
        kind = "default strategy"
    workers = getattr(strategy.extended, "_num_workers", 1)
    return f"{kind}, {strategy.num_replicas_in_sync} replica(s) on {workers} worker(s)"


def check_batch(batch_size: int, strategy) -> None:
    """The global batch must split evenly: each replica takes its own equal slice of it (and of z)."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UserError(f"--batch-size {batch_size} does not split evenly over {replicas} replicas; "
                        f"use a multiple of {replicas}")


def check(run_dir: Path, resume: bool, strategy) -> bool:
    """runs.check for every worker; the chief alone writes (and locks) run_dir, so only it checks that.

    Returns True when there is a run to resume.
    """
    return runs.check(run_dir, resume, writer=is_chief(strategy))


def prepare(run_dir: Path, out_dir: Path, lock=None, log=print) -> None:
    """runs.prepare: the chief creates and locks run_dir; other workers only read run_dir, and write to out_dir."""
    runs.prepare(out_dir, lock if out_dir == run_dir else None, log)


def output_dir(run_dir: Path, strategy) -> Path:
    """Where this worker writes: the run directory on the chief, a fresh temporary directory elsewhere."""
    if is_chief(strategy):
        return run_dir
    resolver = strategy.cluster_resolver
    return Path(tempfile.mkdtemp(prefix=f"dcgan-{resolver.task_type}{resolver.task_id}-"))


def remove_output_dir(out_dir: Path, run_dir: Path) -> None:
    if out_dir != run_dir:
        shutil.rmtree(out_dir, ignore_errors=True)


@contextlib.contextmanager
def peer_failures():
    """Turn a lost peer's low-level RPC error into one clear line."""
    try:
        yield
    except peer_errors() as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise TrainingStopped(f"another worker stopped or became unreachable ({type(exc).__name__}: {first}); "
                              f"restart every worker with --resume to continue from the last checkpoint",
                              exit_code=4) from None


def distribute_batches(strategy, dataset, global_batch: int):
    """Each replica's slice of every global batch: replica r gets rows [r*b, (r+1)*b), b = global / replicas.

    With one replica per worker (the default strategy, one GPU, a multiworker CPU cluster) the worker
    keeps its own slice of a plain dataset, and `strategy.run` hands it to its one replica: a
    distributed iterator there costs as much host CPU as the train step itself (benchmarks/README.md,
    "Distribution"). Several local replicas need PerReplica
    batches, so they get `experimental_distribute_dataset`, which splits the same way.
    """
    if strategy.num_replicas_in_sync == 1:
        return dataset
    if len(strategy.extended.worker_devices) > 1:
        return strategy.experimental_distribute_dataset(dataset)
    per_replica = global_batch // strategy.num_replicas_in_sync
    first = worker_index(strategy) * per_replica
    return dataset.map(lambda *batch: tuple(t[first:first + per_replica] for t in batch))


def worker_index(strategy) -> int:
    """This worker's place in the cluster, which is its replica's id when it has one replica (chief first)."""
    resolver = strategy.cluster_resolver
    if resolver is None or not resolver.task_type:
        return 0
    chiefs = len(resolver.cluster_spec().as_dict().get("chief", []))
    return resolver.task_id if resolver.task_type == "chief" else chiefs + resolver.task_id
