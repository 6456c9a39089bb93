"""Shared fixtures: the project on the import path, TensorFlow, one short real run."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gan_mnist  # noqa: E402
import mnist_idx  # noqa: E402

# Small cadences so a few hundred real steps exercise every kind of output.
SHORT_RUN_FLAGS = [
    "--steps",
    "300",
    "--summary-every",
    "50",
    "--image-every",
    "100",
    "--checkpoint-every",
    "100",
    "--eval-every",
    "100",
    "--eval-samples",
    "2000",
]


@pytest.fixture(scope="session")
def tf():
    return gan_mnist.import_tensorflow(verbose=False)


@pytest.fixture(scope="session")
def mnist():
    return mnist_idx.load_mnist()


def run_main(tmp_path, *flags):
    """Run gan_mnist.main in this process with its folders under tmp_path."""
    return gan_mnist.main(
        ["--logdir", str(tmp_path / "logs"), "--checkpoint-dir", str(tmp_path / "tmp")]
        + [str(flag) for flag in flags]
    )


@pytest.fixture(scope="session")
def short_run(tf, tmp_path_factory):
    """A real 300-step run on the shipped data; returns its folder root."""
    root = tmp_path_factory.mktemp("short_run")
    assert run_main(root, "--run-name", "short", *SHORT_RUN_FLAGS) == 0
    return root


def read_events(log_dir):
    """TensorBoard's own reader over one run folder, fully loaded."""
    from tensorboard.backend.event_processing import event_accumulator

    keep_all = {
        kind: 0
        for kind in (
            event_accumulator.SCALARS,
            event_accumulator.IMAGES,
            event_accumulator.HISTOGRAMS,
            event_accumulator.TENSORS,
        )
    }
    accumulator = event_accumulator.EventAccumulator(
        str(log_dir), size_guidance=keep_all
    )
    accumulator.Reload()
    return accumulator


def scalar_values(log_dir, tag):
    return [(event.step, event.value) for event in read_events(log_dir).Scalars(tag)]
