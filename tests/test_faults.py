"""Faults a user can cause: each ends in one sentence, and nothing written is lost."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import runs
from conftest import ROOT, read_events, run_main

QUIET_FLAGS = [
    "--summary-every",
    "20",
    "--image-every",
    "0",
    "--eval-every",
    "0",
    "--eval-samples",
    "1000",
]


def folder_fingerprint(folder):
    """Every file under folder with a hash of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def one_error_line(captured):
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--batch-size", "0"], "--batch-size must be at least 1 (got 0)."),
        (["--z-dim", "-3"], "--z-dim must be at least 1 (got -3)."),
        (["--learning-rate", "-0.1"], "--learning-rate must be a positive number"),
        (["--label-smoothing", "1.5"], "--label-smoothing must lie in [0, 1)"),
        (["--seed", "-1"], "--seed must lie in 0..2147483647 (got -1)."),
        (["--seed", str(2**70)], "--seed must lie in 0..2147483647"),
        (
            ["--data-dir", "/no/such/folder"],
            "--data-dir /no/such/folder does not exist or is not a folder;",
        ),
        (
            ["--run-name", "../escape"],
            "--run-name '../escape' is not a plain folder name",
        ),
        (["--run-name", "a" * 101], "use up to 100 letters"),
        (["--resume", ""], "--resume '' is not a plain folder name"),
        (["--eval-only", ""], "--eval-only '' is not a plain folder name"),
        (["--learning-rate", "1e-50"], "a positive number that float32 can hold"),
        (["--learning-rate", "1e300"], "a positive number that float32 can hold"),
        (["--label-smoothing", "0.99999999999"], "--label-smoothing must lie in"),
        (["--eval-samples", "1000000000"], "--eval-samples must be at most 100000"),
        (["--z-dim", str(10**20)], "--z-dim must be at most 65536"),
        (
            ["--steps", "100000", "--steps-per-run", "100000", "--batch-size", "50000"],
            "give a smaller --steps-per-run.",
        ),
        (
            ["--data-dir", str(ROOT / "README.md")],
            "does not exist or is not a folder",
        ),
        (["--data-dir", "d" * 300], "does not exist or is not a folder"),
        (
            ["--resume", "r", "--checkpoint-dir", "c" * 300],
            "choose a shorter --checkpoint-dir.",
        ),
        (
            ["--logdir", "x" * 300],
            "choose shorter or other --logdir and --checkpoint-dir.",
        ),
    ],
)
def test_nonsense_flags_are_refused_before_tensorflow_starts(tmp_path, flags, expected):
    # A stand-in tensorflow that shouts if imported proves the refusal comes first.
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise SystemExit('tensorflow was imported')\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "gan_mnist.py"), *flags],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(tmp_path / "fake")),
    )
    assert result.returncode == 2
    assert "tensorflow was imported" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"Error: {result.stderr.strip()[7:]}"]
    assert expected in result.stderr
    assert not (tmp_path / "logs").exists() and not (tmp_path / "tmp").exists()


def test_run_name_in_use_is_refused_and_left_alone(tf, tmp_path, capsys):
    assert run_main(tmp_path, "--run-name", "taken", "--steps", "40", *QUIET_FLAGS) == 0
    before = folder_fingerprint(tmp_path)
    capsys.readouterr()

    assert run_main(tmp_path, "--run-name", "taken", "--steps", "40", *QUIET_FLAGS) == 1
    message = one_error_line(capsys.readouterr())
    assert (
        "Run name 'taken' is already in use" in message and "--resume taken" in message
    )
    assert folder_fingerprint(tmp_path) == before


def test_checkpoint_of_another_size_is_refused_naming_the_fitting_flags(
    tf, tmp_path, capsys
):
    assert run_main(tmp_path, "--run-name", "sized", "--steps", "40", *QUIET_FLAGS) == 0
    before = folder_fingerprint(tmp_path)
    capsys.readouterr()

    assert (
        run_main(tmp_path, "--resume", "sized", "--steps", "80", "--g-hidden", "64")
        == 1
    )
    message = one_error_line(capsys.readouterr())
    assert (
        "Generator/First_layer/kernel is [100, 128] there but [100, 64] here" in message
    )
    assert "resume with --z-dim 100 --g-hidden 128 --d-hidden 128." in message
    assert folder_fingerprint(tmp_path) == before

    assert run_main(tmp_path, "--eval-only", "sized", "--g-hidden", "64") == 1
    message = one_error_line(capsys.readouterr())
    assert "evaluate it with --z-dim 100 --g-hidden 128 --d-hidden 128." in message
    assert folder_fingerprint(tmp_path) == before


def test_checkpoint_from_something_else_is_refused(tf, tmp_path, capsys):
    checkpoint_dir = tmp_path / "tmp" / "alien"
    checkpoint_dir.mkdir(parents=True)
    (tmp_path / "logs" / "alien").mkdir(parents=True)
    with tf.Graph().as_default(), tf.Session() as session:
        tf.get_variable("unrelated", [3])
        session.run(tf.global_variables_initializer())
        tf.train.Saver().save(
            session, str(checkpoint_dir / "model.ckpt"), global_step=5
        )
    before = folder_fingerprint(tmp_path)

    assert run_main(tmp_path, "--resume", "alien", "--steps", "10") == 1
    message = one_error_line(capsys.readouterr())
    assert "does not fit this model: it has no variable" in message
    assert "comes from another model" in message
    assert folder_fingerprint(tmp_path) == before


def test_folder_that_cannot_be_created_is_reported_before_training(
    tf, tmp_path, capsys
):
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    status = gan_main_with(tmp_path, logdir=blocker / "logs")
    message = one_error_line(capsys.readouterr())
    assert status == 1
    assert f"Cannot write to {blocker / 'logs'}" in message and "--logdir" in message
    assert "Training from step" not in capsys.readouterr().out


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write to: chmod for users, a read-only mount for root."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mount = ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("root here can neither be stopped by chmod nor mount read-only")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_read_only_folder_is_reported_before_training(
    tf, tmp_path, read_only_folder, capsys
):
    status = gan_main_with(tmp_path, logdir=read_only_folder)
    message = one_error_line(capsys.readouterr())
    assert status == 1
    assert f"Cannot write to {read_only_folder / 'blocked'}" in message
    assert "Read-only file system" in message or "Permission denied" in message


def gan_main_with(tmp_path, logdir):
    import gan_mnist

    return gan_mnist.main(
        [
            "--logdir",
            str(logdir),
            "--checkpoint-dir",
            str(tmp_path / "tmp"),
            "--run-name",
            "blocked",
            "--steps",
            "10",
        ]
    )


def test_non_finite_losses_stop_the_run_and_keep_the_last_finite_checkpoint(
    tf, tmp_path, capsys
):
    flags = [
        "--summary-every",
        "20",
        "--image-every",
        "50",
        "--eval-every",
        "0",
        "--checkpoint-every",
        "50",
    ]
    assert run_main(tmp_path, "--run-name", "blowup", "--steps", "100", *flags) == 0
    capsys.readouterr()

    status = run_main(
        tmp_path, "--resume", "blowup", "--steps", "400", "--learning-rate", "1e30"
    )
    assert status == 1
    message = one_error_line(capsys.readouterr())
    match = re.search(
        r"the losses or weights stopped being finite at step (\d+)", message
    )
    assert match and 100 <= int(match.group(1)) < 400

    checkpoint = runs.latest_checkpoint(tmp_path / "tmp" / "blowup")
    assert checkpoint.endswith("model.ckpt-100")
    reader = tf.train.load_checkpoint(checkpoint)
    for name in reader.get_variable_to_shape_map():
        assert np.all(np.isfinite(reader.get_tensor(name))), name
    grids = sorted(
        path.name for path in (tmp_path / "logs" / "blowup" / "grids").glob("*.png")
    )
    assert grids == ["step_000000.png", "step_000050.png", "step_000100.png"]


def test_interrupt_saves_a_checkpoint_and_the_run_resumes_from_it(tf, tmp_path):
    command = [
        sys.executable,
        str(ROOT / "gan_mnist.py"),
        "--run-name",
        "stopped",
        "--steps",
        "1000000",
        "--summary-every",
        "50",
        "--image-every",
        "0",
        "--eval-every",
        "0",
        "--checkpoint-every",
        "100000",
        "--logdir",
        str(tmp_path / "logs"),
        "--checkpoint-dir",
        str(tmp_path / "tmp"),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    opening = []
    for line in process.stdout:
        opening.append(line)
        if line.startswith("Training from step 0"):
            break
    time.sleep(3)  # let it train a few hundred steps
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=60)

    assert process.returncode == 130, errors
    assert f"tensorboard --logdir {tmp_path / 'logs'}" in "".join(opening)
    match = re.search(
        r"Stopped by SIGINT at step (\d+) with a checkpoint; resume with: "
        + re.escape(f"python {ROOT / 'gan_mnist.py'} --resume stopped"),
        output,
    )
    assert match, output
    # The folders are not the default ones, so the command names them.
    assert f"--logdir {tmp_path / 'logs'} --checkpoint-dir {tmp_path / 'tmp'}" in output
    stopped_at = int(match.group(1))
    assert stopped_at > 0
    checkpoint = runs.latest_checkpoint(tmp_path / "tmp" / "stopped")
    assert checkpoint.endswith(f"model.ckpt-{stopped_at}")
    steps = [
        event.step
        for event in read_events(tmp_path / "logs" / "stopped").Scalars("D_loss")
    ]
    assert steps and steps[-1] <= stopped_at and steps[-1] > stopped_at - 50 - 100

    resumed_to = stopped_at + 120
    assert run_main(tmp_path, "--resume", "stopped", "--steps", resumed_to) == 0
    assert runs.latest_checkpoint(tmp_path / "tmp" / "stopped").endswith(
        f"model.ckpt-{resumed_to}"
    )
    steps = [
        event.step
        for event in read_events(tmp_path / "logs" / "stopped").Scalars("D_loss")
    ]
    assert steps == sorted(set(steps)) and steps[-1] > stopped_at


def test_batch_larger_than_the_training_set_is_refused_before_any_folder(
    tf, tmp_path, capsys
):
    assert run_main(tmp_path, "--batch-size", "70000", "--steps", "10") == 1
    message = one_error_line(capsys.readouterr())
    assert "--batch-size 70000 is larger than the 60000 training images" in message
    assert not (tmp_path / "logs").exists() and not (tmp_path / "tmp").exists()


@pytest.fixture(scope="module")
def finished_run(tf, tmp_path_factory):
    """A 40-step run whose folders the damage tests below copy and spoil."""
    root = tmp_path_factory.mktemp("finished")
    assert run_main(root, "--run-name", "base", "--steps", "40", *QUIET_FLAGS) == 0
    return root


def spoil_settings_with_a_number(checkpoint_dir):
    (checkpoint_dir / "settings.json").write_text("5\n")


def spoil_settings_with_a_wrong_type(checkpoint_dir):
    path = checkpoint_dir / "settings.json"
    path.write_text(
        path.read_text().replace('"batch_size": 128', '"batch_size": "abc"')
    )


def spoil_checkpoint_data(checkpoint_dir):
    data = next(checkpoint_dir.glob("model.ckpt-40.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def spoil_checkpoint_index(checkpoint_dir):
    (checkpoint_dir / "checkpoint").write_bytes(bytes(range(128, 256)))


def spoil_settings_with_a_bad_value(checkpoint_dir):
    path = checkpoint_dir / "settings.json"
    path.write_text(
        path.read_text().replace('"learning_rate": 0.001', '"learning_rate": -1.0')
    )


def spoil_settings_with_a_missing_data_dir(checkpoint_dir):
    path = checkpoint_dir / "settings.json"
    settings = json.loads(path.read_text())
    settings["data_dir"] = "/no/such/folder"
    path.write_text(json.dumps(settings))


def spoil_settings_with_deep_nesting(checkpoint_dir):
    (checkpoint_dir / "settings.json").write_text("[" * 100000)


@pytest.mark.parametrize(
    "spoil, status, expected",
    [
        (spoil_settings_with_a_number, 2, "is unreadable or not a JSON object"),
        (
            spoil_settings_with_a_wrong_type,
            2,
            "holds batch_size='abc', not of type int",
        ),
        (spoil_checkpoint_data, 1, "is damaged (its data cannot be read)"),
        (spoil_checkpoint_index, 1, "is unreadable; restore it, or start a new run"),
        (spoil_settings_with_deep_nesting, 2, "is unreadable or not a JSON object"),
        (
            spoil_settings_with_a_bad_value,
            2,
            "settings.json holds learning_rate=-1.0, but --learning-rate must be a "
            "positive number",
        ),
        (
            spoil_settings_with_a_missing_data_dir,
            2,
            "settings.json holds data_dir='/no/such/folder', but --data-dir "
            "/no/such/folder does not exist",
        ),
    ],
)
def test_damaged_run_files_are_refused_in_one_sentence(
    tf, finished_run, tmp_path, capfd, spoil, status, expected
):
    shutil.copytree(finished_run, tmp_path, dirs_exist_ok=True)
    spoil(tmp_path / "tmp" / "base")
    before = folder_fingerprint(tmp_path)
    capfd.readouterr()

    try:
        result = run_main(tmp_path, "--resume", "base", "--steps", "80")
    except SystemExit as exit:  # refused while reading the flags
        result = exit.code
    assert result == status
    # capfd also holds what TensorFlow's native code writes: nothing besides.
    assert expected in one_error_line(capfd.readouterr())
    assert folder_fingerprint(tmp_path) == before


def test_evaluating_into_a_closed_output_says_nothing_was_written(
    tf, finished_run, tmp_path
):
    shutil.copytree(finished_run, tmp_path, dirs_exist_ok=True)
    before = folder_fingerprint(tmp_path)
    process = gan_process(tmp_path, "--eval-only", "base")
    process.stdout.close()  # as `| head -0` does
    process.wait(timeout=120)
    errors = process.stderr.read()

    assert process.returncode == 1, errors
    assert errors == (
        "Error: the output was closed before the figures were printed (a reader "
        "such as head ended); nothing was written.\n"
    )
    assert folder_fingerprint(tmp_path) == before


def test_non_finite_run_without_any_checkpoint_says_so(tf, tmp_path, capsys):
    flags = ["--run-name", "early", "--steps", "200", "--learning-rate", "1e30"]
    assert run_main(tmp_path, *flags, *QUIET_FLAGS) == 1
    message = one_error_line(capsys.readouterr())
    assert "stopped being finite" in message and "no checkpoint was written" in message

    # Its name is taken by folders with nothing to resume: the advice says so.
    assert run_main(tmp_path, *flags, *QUIET_FLAGS) == 1
    message = one_error_line(capsys.readouterr())
    assert "by a run that has no checkpoint to go on from" in message
    assert "delete those folders" in message and "--resume" not in message


def test_a_run_being_trained_cannot_be_resumed_by_a_second_process(
    tf, tmp_path, capsys
):
    process = gan_process(tmp_path, "--run-name", "busy", "--steps", "100000")
    for line in process.stdout:
        if line.startswith("Training from step 0"):
            break
    deadline = time.monotonic() + 60  # until its first checkpoint, at step 1,000
    while not runs.latest_checkpoint(tmp_path / "tmp" / "busy"):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    settings = (tmp_path / "tmp" / "busy" / "settings.json").read_text()
    capsys.readouterr()

    flags = ["--resume", "busy", "--steps", "3000", "--label-smoothing", "0.3"]
    status = run_main(tmp_path, *flags)
    message = one_error_line(capsys.readouterr())
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)

    assert status == 1
    assert "Run 'busy' is being trained by another process right now" in message
    assert (tmp_path / "tmp" / "busy" / "settings.json").read_text() == settings
    assert len(list((tmp_path / "logs" / "busy").glob("events.out.*"))) == 1


def gan_process(tmp_path, *flags, hangup=signal.SIG_DFL):
    """gan_mnist.py in a subprocess with its folders under tmp_path; `hangup` is how
    it finds SIGHUP set (the default, whatever this test process runs under)."""
    command = [sys.executable, str(ROOT / "gan_mnist.py"), *map(str, flags)]
    command += ["--logdir", str(tmp_path / "logs")]
    command += ["--checkpoint-dir", str(tmp_path / "tmp")]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, hangup),
    )


@pytest.mark.parametrize(
    "stop, status, said",
    [
        (signal.SIGINT, 130, "Interrupted"),
        (signal.SIGTERM, 143, "Stopped by SIGTERM"),
        (signal.SIGHUP, 129, "Stopped by SIGHUP"),
    ],
)
def test_stop_during_start_up_leaves_the_name_free(tf, tmp_path, stop, status, said):
    process = gan_process(tmp_path, "--run-name", "early", "--steps", "100")
    first_line = process.stdout.readline()  # printed once TensorFlow is imported
    assert first_line.startswith("Run 'early'")
    process.send_signal(stop)  # while the graph is being built
    _, errors = process.communicate(timeout=60)

    assert process.returncode == status, errors
    assert errors.strip() == f"{said} before training began; no checkpoint was written."
    assert not (tmp_path / "logs" / "early").exists()
    assert not (tmp_path / "tmp" / "early").exists()


def test_a_closing_terminal_stops_training_with_a_checkpoint_and_later_stops_wait(
    tf, tmp_path
):
    process = gan_process(tmp_path, "--run-name", "hup", "--steps", "100000")
    for line in process.stdout:
        if line.startswith("Training from step 0"):
            break
    time.sleep(1)
    process.send_signal(signal.SIGHUP)  # the terminal closes
    while process.poll() is None:  # and an impatient user presses Ctrl-C, again
        process.send_signal(signal.SIGINT)
        time.sleep(0.002)
    output, errors = process.communicate(timeout=60)

    assert process.returncode == 129, errors
    assert errors == "", errors
    match = re.search(r"Stopped by SIGHUP at step (\d+) with a checkpoint;", output)
    assert match, output
    checkpoint = runs.latest_checkpoint(tmp_path / "tmp" / "hup")
    assert checkpoint.endswith(f"model.ckpt-{match.group(1)}")


def test_a_run_started_with_nohup_outlives_its_terminal(tf, tmp_path):
    process = gan_process(
        tmp_path, "--run-name", "nohup", "--steps", "100000", hangup=signal.SIG_IGN
    )
    for line in process.stdout:
        if line.startswith("Training from step 0"):
            break
    process.send_signal(signal.SIGHUP)
    time.sleep(1)
    still_training = process.poll() is None
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=60)

    assert still_training, errors
    assert process.returncode == 130, errors
    assert "Stopped by SIGINT at step" in output


def test_repeated_stops_during_start_up_still_end_in_one_line(tf, tmp_path):
    process = gan_process(tmp_path, "--run-name", "early", "--steps", "100")
    assert process.stdout.readline().startswith("Run 'early'")
    for stop in (signal.SIGINT, signal.SIGINT, signal.SIGTERM):  # an impatient user
        process.send_signal(stop)
    _, errors = process.communicate(timeout=60)

    assert process.returncode == 130, errors
    assert (
        errors.strip()
        == "Interrupted before training began; no checkpoint was written."
    )
    assert not (tmp_path / "logs" / "early").exists()
    assert not (tmp_path / "tmp" / "early").exists()


def test_closed_output_keeps_the_run_with_a_checkpoint(tf, tmp_path):
    process = gan_process(tmp_path, "--run-name", "piped", *QUIET_FLAGS)
    for line in process.stdout:
        if line.startswith("Training from step 0"):
            break
    process.stdout.close()  # as `| head` does
    process.wait(timeout=120)
    errors = process.stderr.read()

    assert process.returncode == 1, errors
    match = re.search(r"the run stopped at step (\d+) with a checkpoint", errors)
    assert match and "Traceback" not in errors, errors
    assert f"--resume piped --logdir {tmp_path / 'logs'}" in errors
    checkpoint = runs.latest_checkpoint(tmp_path / "tmp" / "piped")
    assert checkpoint.endswith(f"model.ckpt-{match.group(1)}")


def test_output_closed_at_the_last_step_still_writes_the_last_outputs(tf, tmp_path):
    # Off a terminal, progress is printed every 1,000 steps, and with no evaluation
    # before the last there is no warning either: the first line printed after the
    # reader has gone is that of the last step.
    process = gan_process(
        tmp_path,
        *("--run-name", "last", "--steps", "1000", "--image-every", "500"),
        *("--eval-every", "0", "--eval-samples", "1000"),
    )
    for line in process.stdout:
        if line.startswith("Training from step 0"):
            break
    process.stdout.close()
    process.wait(timeout=120)
    errors = process.stderr.read()

    assert process.returncode == 1, errors
    assert errors.startswith("Error: the output was closed"), errors
    assert "it finished at step 1000, with its checkpoint" in errors, errors
    assert "Traceback" not in errors, errors
    checkpoint = runs.latest_checkpoint(tmp_path / "tmp" / "last")
    assert checkpoint.endswith("model.ckpt-1000")
    grids = tmp_path / "logs" / "last" / "grids"
    assert (grids / "step_001000.png").is_file()
    assert (grids / "progress.gif").is_file()
    scores = read_events(tmp_path / "logs" / "last").Scalars(
        "Evaluation/classifier_score"
    )
    assert [event.step for event in scores] == [1000]


def test_output_closed_at_a_warning_after_the_last_block_keeps_its_checkpoint(
    tf, tmp_path
):
    # The warning about the discriminator's loss comes after a block and before its
    # checkpoint; a reader gone by then must not cost the last checkpoint.
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import evaluation, gan_mnist

def reader_gone(self, step, d_loss):
    if step == 200:  # the last block's first step
        raise BrokenPipeError()

evaluation.CollapseWatch.check_d_loss = reader_gone
sys.exit(gan_mnist.main(sys.argv[1:]))
"""
    command = [sys.executable, "-c", script, "--run-name", "warned", "--steps", "300"]
    command += ["--summary-every", "100", "--checkpoint-every", "100"]
    command += ["--image-every", "100", "--eval-every", "0", "--eval-samples", "1000"]
    command += ["--logdir", str(tmp_path / "logs")]
    command += ["--checkpoint-dir", str(tmp_path / "tmp")]
    process = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=120
    )

    assert process.returncode == 1, process.stderr
    assert "it finished at step 300, with its checkpoint" in process.stderr
    checkpoint = runs.latest_checkpoint(tmp_path / "tmp" / "warned")
    assert checkpoint.endswith("model.ckpt-300")
    assert (tmp_path / "logs" / "warned" / "grids" / "step_000300.png").is_file()


@pytest.mark.parametrize(
    "closed, stream", [(1, "standard output"), (2, "standard error")]
)
def test_a_closed_stdout_or_stderr_is_refused_before_anything_is_written(
    tmp_path, closed, stream
):
    command = [sys.executable, str(ROOT / "gan_mnist.py"), "--steps", "10"]
    process = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        preexec_fn=lambda: os.close(closed),  # as `>&-` or `2>&-` leave it
        timeout=60,
    )
    assert process.returncode == 2, process.stdout
    assert process.stdout.startswith(f"Error: the {stream} is closed;"), process.stdout
    assert len(process.stdout.splitlines()) == 1, process.stdout
    assert list(tmp_path.iterdir()) == []


def gan_script(tmp_path, patch, *flags):
    """gan_mnist.main in a subprocess after `patch` (Python source) has run there."""
    script = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n{patch}\n"
    script += "import gan_mnist\nsys.exit(gan_mnist.main(sys.argv[1:]))\n"
    command = [sys.executable, "-c", script, *map(str, flags)]
    command += ["--logdir", str(tmp_path / "logs")]
    command += ["--checkpoint-dir", str(tmp_path / "tmp")]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=120
    )


def test_a_full_disk_at_a_checkpoint_stops_the_run_keeping_the_last_one(tf, tmp_path):
    disk_full = """
import errno, gan_mnist
save = gan_mnist.Run.save_checkpoint
def save_until_full(self, step):
    if step >= 200:
        raise OSError(errno.ENOSPC, "No space left on device", "tmp/full")
    save(self, step)
gan_mnist.Run.save_checkpoint = save_until_full
"""
    process = gan_script(
        tmp_path,
        disk_full,
        "--run-name",
        "full",
        "--steps",
        "300",
        "--checkpoint-every",
        "100",
        *QUIET_FLAGS,
    )

    assert process.returncode == 1, process.stderr
    assert process.stderr.startswith(
        "Error: the run stopped at step 200: "
    ), process.stderr
    assert "No space left on device (tmp/full)" in process.stderr
    assert "its last whole checkpoint is model.ckpt-100;" in process.stderr
    assert "resume with: " in process.stderr
    assert len(process.stderr.splitlines()) == 1, process.stderr
    checkpoint = runs.latest_checkpoint(tmp_path / "tmp" / "full")
    assert checkpoint.endswith("model.ckpt-100")


def test_a_full_disk_before_any_checkpoint_gives_advice_that_works(tf, tmp_path):
    disk_full = """
import errno, gan_mnist
def full(self, step):
    raise OSError(errno.ENOSPC, "No space left on device", "tmp/full")
gan_mnist.Run.save_checkpoint = full
"""
    process = gan_script(
        tmp_path,
        disk_full,
        *("--run-name", "full", "--steps", "300", "--checkpoint-every", "100"),
        *QUIET_FLAGS,
    )

    assert process.returncode == 1, process.stderr
    assert "no checkpoint was written; make room or fix that, then start" in (
        process.stderr
    )
    assert f"after deleting {tmp_path / 'logs' / 'full'} and " in process.stderr
    assert "--resume" not in process.stderr


def test_a_failed_atomic_write_names_its_file_and_leaves_no_temporary(tmp_path):
    def disk_full(file):
        file.write(b"half")
        raise OSError(28, "No space left on device")  # as a write() reports it

    with pytest.raises(OSError) as caught:
        runs.write_atomically(tmp_path / "step_000100.png", disk_full, binary=True)
    assert caught.value.filename == str(tmp_path / "step_000100.png")
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_fails_mid_run_still_leaves_a_checkpoint(tf, tmp_path):
    terminal_gone = """
import errno, gan_mnist
def update(self, step, d_loss, g_loss):
    if step >= 200:
        raise OSError(errno.EIO, "Input/output error")
gan_mnist.Progress.update = update
"""
    process = gan_script(
        tmp_path,
        terminal_gone,
        "--run-name",
        "gone",
        "--steps",
        "300",
        "--checkpoint-every",
        "1000",
        *QUIET_FLAGS,
    )

    assert process.returncode == 1, process.stderr
    assert "stopped at step 200: Input/output error;" in (process.stderr)
    assert "its last whole checkpoint is model.ckpt-200;" in process.stderr
    checkpoint = runs.latest_checkpoint(tmp_path / "tmp" / "gone")
    assert checkpoint.endswith("model.ckpt-200")


def test_an_output_that_cannot_be_written_at_all_is_one_sentence(tf, tmp_path):
    command = [sys.executable, str(ROOT / "gan_mnist.py"), "--run-name", "devfull"]
    command += ["--logdir", str(tmp_path / "logs")]
    command += ["--checkpoint-dir", str(tmp_path / "tmp")]
    with open("/dev/full", "w") as full:
        process = subprocess.run(
            command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120
        )

    assert process.returncode == 1, process.stderr
    assert process.stderr == (
        "Error: the run could not start: No space left on device; no checkpoint "
        "was written.\n"
    )
    assert not (tmp_path / "logs" / "devfull").exists()
    assert not (tmp_path / "tmp" / "devfull").exists()


def test_an_unreadable_grid_costs_the_gif_not_the_run(tmp_path, capsys):
    import gan_mnist
    import image_export

    run = gan_mnist.Run(None, None, None, (tmp_path / "logs", tmp_path / "tmp"))
    run.grid_dir.mkdir(parents=True)
    image_export.save_png(
        np.zeros([28, 28], np.uint8), run.grid_dir / "step_000000.png"
    )
    (run.grid_dir / "step_001000.png").write_bytes(b"")  # emptied by accident
    assert run.write_gif() == []

    assert "Warning: no progress.gif" in capsys.readouterr().err
    assert not (run.grid_dir / "progress.gif").exists()
    assert (run.grid_dir / "step_000000.png").is_file()


def test_the_gif_says_where_the_grids_are(tmp_path):
    import gan_mnist
    import image_export

    run = gan_mnist.Run(None, None, None, (tmp_path / "logs", tmp_path / "tmp"))
    run.grid_dir.mkdir(parents=True)
    for step in (0, 1000):
        image_export.save_png(
            np.full([28, 28], step // 10, np.uint8),
            run.grid_dir / f"step_{step:06d}.png",
        )
    lines = run.write_gif()

    assert lines == [f"The sample grids and progress.gif are in {run.grid_dir}"]
    assert (run.grid_dir / "progress.gif").is_file()


def test_a_stop_while_the_loop_is_prepared_trains_no_block(
    tmp_path, capsys, monkeypatch
):
    import gan_mnist

    fast_steps = gan_mnist.fast_steps

    def stopped_while_preparing(run, settings, num_examples, step, stop, log_losses):
        if stop == step:  # the block of no steps that prepares the loop
            os.kill(os.getpid(), signal.SIGINT)
        return fast_steps(run, settings, num_examples, step, stop, log_losses)

    monkeypatch.setattr(gan_mnist, "fast_steps", stopped_while_preparing)
    status = run_main(tmp_path, "--run-name", "early", "--steps", "300", *QUIET_FLAGS)
    assert status == 130
    assert "Stopped by SIGINT at step 0 with a checkpoint;" in capsys.readouterr().out
    assert runs.latest_checkpoint(tmp_path / "tmp" / "early").endswith("model.ckpt-0")
