"""Short real runs on the shipped data: what they write; that runs are repeatable."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

import runs
from conftest import ROOT, SHORT_RUN_FLAGS, read_events, run_main, scalar_values


def test_short_run_writes_both_losses_the_images_and_the_graph(short_run):
    events = read_events(short_run / "logs" / "short")
    tags = events.Tags()
    assert {"D_loss", "G_loss", "D_of_real_images", "D_of_fake_images"} <= set(
        tags["scalars"]
    )
    assert [
        step for step, _ in scalar_values(short_run / "logs" / "short", "D_loss")
    ] == [0, 50, 100, 150, 200, 250]

    image_tags = [tag for tag in tags["images"] if tag.startswith("Generated_images/")]
    assert len(image_tags) == 8
    image = events.Images("Generated_images/image/0")[0]
    assert (image.width, image.height) == (28, 28)
    assert [event.step for event in events.Images("Generated_images/image/0")] == [
        0,
        100,
        200,
        300,
    ]

    assert tags["graph"]
    node_names = {node.name for node in events.Graph().node}
    for name in (
        "Generator/First_layer/MatMul",
        "Discriminator/D_logit",
        "real_images",
    ):
        assert name in node_names
    assert any(name.startswith("D_Loss/") for name in node_names)
    assert any(name.startswith("G_loss/") for name in node_names)
    assert any(name.startswith("Train/") for name in node_names)


def test_short_run_saves_its_settings_and_checkpoints(short_run):
    checkpoint_dir = short_run / "tmp" / "short"
    settings = json.loads((checkpoint_dir / "settings.json").read_text())
    assert settings["steps"] == 300 and settings["seed"] == 1
    assert settings["tensorflow_version"].startswith("2.")
    assert runs.latest_checkpoint(checkpoint_dir).endswith("model.ckpt-300")
    events = read_events(short_run / "logs" / "short")
    assert "Settings" in events.Tags()["tensors"]


def test_short_run_writes_the_evaluation_figures_and_digit_histogram(short_run):
    events = read_events(short_run / "logs" / "short")
    for tag in (
        "classifier_score",
        "frechet_distance",
        "digits_covered",
        "largest_digit_share",
    ):
        values = scalar_values(short_run / "logs" / "short", f"Evaluation/{tag}")
        assert [step for step, _ in values] == [0, 100, 200, 300], tag
    scores = [
        value
        for _, value in scalar_values(
            short_run / "logs" / "short", "Evaluation/classifier_score"
        )
    ]
    assert all(1.0 <= score <= 10.0 for score in scores)
    histograms = events.Histograms("Evaluation/predicted_digits")
    assert [event.step for event in histograms] == [0, 100, 200, 300]
    assert histograms[-1].histogram_value.num == 2000
    assert (
        0
        <= histograms[-1].histogram_value.min
        <= histograms[-1].histogram_value.max
        <= 9
    )


def test_short_run_keeps_its_grids_as_png_files_and_a_gif(short_run):
    from PIL import Image

    grids = short_run / "logs" / "short" / "grids"
    names = sorted(path.name for path in grids.glob("*.png"))
    assert names == [f"step_{step:06d}.png" for step in (0, 100, 200, 300)]
    with Image.open(grids / "step_000300.png") as picture:
        assert picture.size == (224, 224) and picture.mode == "L"
    with Image.open(grids / "progress.gif") as animation:
        assert animation.n_frames == 4
    grid_events = read_events(short_run / "logs" / "short").Images(
        "Fixed_noise_grid/image"
    )
    assert [event.step for event in grid_events] == [0, 100, 200, 300]
    assert (grid_events[0].width, grid_events[0].height) == (224, 224)


def test_eval_only_prints_the_latest_checkpoints_figures_and_writes_nothing(
    short_run, capsys
):
    before = sorted(path for path in short_run.rglob("*"))
    capsys.readouterr()
    assert run_main(short_run, "--eval-only", "short") == 0
    output = capsys.readouterr().out
    assert "Run 'short' at step 300: classifier score" in output
    assert "[N=2,000]" in output
    assert sorted(path for path in short_run.rglob("*")) == before


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url, deadline):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_tensorboard_server_serves_the_runs_scalars_and_images(short_run):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(short_run / "logs"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/data/plugin"
    try:
        deadline = time.monotonic() + 90
        scalars = get_json(f"{base}/scalars/scalars?run=short&tag=D_loss", deadline)
        assert [row[1] for row in scalars] == [0, 50, 100, 150, 200, 250]
        expected = [
            value for _, value in scalar_values(short_run / "logs" / "short", "D_loss")
        ]
        assert [row[2] for row in scalars] == pytest.approx(expected)

        images = get_json(
            f"{base}/images/images?run=short&tag=Generated_images/image/0", deadline
        )
        assert [entry["step"] for entry in images] == [0, 100, 200, 300]
        with urllib.request.urlopen(
            f"{base}/images/individualImage?{images[-1]['query']}", timeout=5
        ) as response:
            assert response.read(8) == b"\x89PNG\r\n\x1a\n"
    finally:
        server.terminate()
        server.wait(timeout=30)


def checkpoint_weights(tf, checkpoint_dir):
    reader = tf.train.load_checkpoint(runs.latest_checkpoint(checkpoint_dir))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if name.startswith(("Generator/", "Discriminator/"))
    }


REPEAT_FLAGS = [
    "--steps",
    "120",
    "--summary-every",
    "20",
    "--image-every",
    "0",
    "--eval-samples",
    "1000",
    "--checkpoint-every",
    "0",
    "--eval-every",
    "0",
]


@pytest.fixture(scope="module")
def seeded_runs(tf, tmp_path_factory):
    """Three 120-step runs in one logs/ folder: seed 1 twice, then seed 2."""
    root = tmp_path_factory.mktemp("seeded")
    for name, seed in (("first", 1), ("again", 1), ("other", 2)):
        assert run_main(root, "--run-name", name, "--seed", seed, *REPEAT_FLAGS) == 0
    return root


def test_same_seed_gives_identical_scalars(seeded_runs):
    for tag in ("D_loss", "G_loss"):
        first = scalar_values(seeded_runs / "logs" / "first", tag)
        again = scalar_values(seeded_runs / "logs" / "again", tag)
        assert len(first) == 6 and first == again


def test_other_seed_gives_other_scalars(seeded_runs):
    first = scalar_values(seeded_runs / "logs" / "first", "D_loss")
    other = scalar_values(seeded_runs / "logs" / "other", "D_loss")
    assert [step for step, _ in first] == [step for step, _ in other]
    assert all(a != b for (_, a), (_, b) in zip(first, other))


def test_two_runs_in_one_logdir_are_separate_readable_folders(seeded_runs):
    folders = sorted(path.name for path in (seeded_runs / "logs").iterdir())
    assert folders == ["again", "first", "other"]
    for folder in folders:
        assert len(scalar_values(seeded_runs / "logs" / folder, "G_loss")) == 6


def test_fast_loop_matches_the_plain_feed_dict_loop(tf, seeded_runs, tmp_path):
    assert run_main(tmp_path, "--run-name", "plain", "--plain-loop", *REPEAT_FLAGS) == 0
    fast = checkpoint_weights(tf, seeded_runs / "tmp" / "first")
    plain = checkpoint_weights(tf, tmp_path / "tmp" / "plain")
    # Eight weights and biases, each with Adam's two slots.
    assert fast.keys() == plain.keys() and len(fast) == 24
    for name in fast:
        np.testing.assert_allclose(fast[name], plain[name], rtol=1e-4, atol=1e-5)
    # The fast loop logs each block's first step from inside the loop; the plain
    # loop runs the tutorial's summary op before the step.
    for tag in ("D_loss", "G_loss", "D_of_real_images", "D_of_fake_images"):
        plain_values = scalar_values(tmp_path / "logs" / "plain", tag)
        fast_values = scalar_values(seeded_runs / "logs" / "first", tag)
        assert [step for step, _ in plain_values] == [0, 20, 40, 60, 80, 100]
        assert [step for step, _ in fast_values] == [0, 20, 40, 60, 80, 100]
        assert [value for _, value in plain_values] == pytest.approx(
            [value for _, value in fast_values], rel=1e-4
        ), tag


def test_resumed_run_ends_where_an_uninterrupted_one_does(tf, seeded_runs, tmp_path):
    half = ["--steps", "60"] + REPEAT_FLAGS[2:]
    assert run_main(tmp_path, "--run-name", "halves", *half) == 0
    assert run_main(tmp_path, "--resume", "halves", "--steps", "120") == 0

    whole = checkpoint_weights(tf, seeded_runs / "tmp" / "first")
    resumed = checkpoint_weights(tf, tmp_path / "tmp" / "halves")
    for name in whole:
        np.testing.assert_array_equal(whole[name], resumed[name])
    assert scalar_values(tmp_path / "logs" / "halves", "G_loss") == scalar_values(
        seeded_runs / "logs" / "first", "G_loss"
    )
    settings = json.loads((tmp_path / "tmp" / "halves" / "settings.json").read_text())
    assert settings["steps"] == 120 and settings["summary_every"] == 20


def test_progress_is_one_updating_line_on_a_terminal(tmp_path):
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "gan_mnist.py"),
            "--steps",
            "300",
            *SHORT_RUN_FLAGS[2:],
            "--logdir",
            str(tmp_path / "logs"),
            "--checkpoint-dir",
            str(tmp_path / "tmp"),
        ],
        stdout=terminal,
        stderr=terminal,
        cwd=tmp_path,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    text = output.decode()
    updates = [part for part in text.split("\r") if part.startswith("step ")]
    assert len(updates) >= 3
    assert (
        "step 300/300" in updates[-1]
        and "steps/s" in updates[-1]
        and "left" in updates[-1]
    )
    assert all("\n" not in update.split("\x1b[K")[0] for update in updates)


def test_other_data_in_mnist_format_trains_with_a_note(tf, tmp_path, capsys):
    import gzip
    import shutil

    import mnist_idx

    data = tmp_path / "other_digits"
    shutil.copytree(mnist_idx.SHIPPED_DIR, data)
    labels = data / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(labels.read_bytes()))
    content[8] = (content[8] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(content)))

    status = run_main(
        tmp_path, "--data-dir", data, "--steps", "20", *SHORT_RUN_FLAGS[2:]
    )
    assert status == 0
    assert "are not the canonical MNIST digits; training on them all the same" in (
        capsys.readouterr().out
    )


def test_resumed_run_keeps_only_the_last_five_checkpoints_of_all_its_processes(
    tf, tmp_path
):
    flags = ["--checkpoint-every", "100", "--eval-samples", "500", "--image-every", "0"]
    assert run_main(tmp_path, "--run-name", "kept", "--steps", "300", *flags) == 0
    assert run_main(tmp_path, "--resume", "kept", "--steps", "700") == 0
    kept = sorted(path.name for path in (tmp_path / "tmp" / "kept").glob("*.index"))
    assert kept == [f"model.ckpt-{step}.index" for step in (300, 400, 500, 600, 700)]


def test_time_left_counts_hours_past_a_day():
    import gan_mnist

    assert gan_mnist.duration(53 * 3600 + 61) == "53:01:01"
    assert gan_mnist.duration(59.9) == "00:00:59"
