"""Run folders, saved settings, checkpoints and stop signals for gan_mnist.py.

Each run owns logs/<run> (summaries) and tmp/<run> (checkpoints and settings.json), so
TensorBoard on logs/ shows runs side by side and no run writes into another's folder.
"""

import contextlib
import errno
import fcntl
import json
import os
import re
import signal
import tempfile
import threading
import time
from pathlib import Path

SETTINGS_FILE = "settings.json"
CHECKPOINT_PREFIX = "model.ckpt"
RUN_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_RUN_NAME = 100


class RunError(Exception):
    """A run cannot start or go on; the message is one sentence for the user."""


def check_run_name(name, flag="--run-name"):
    """Return an error sentence for a run name that is not a plain folder name."""
    if not RUN_NAME_PATTERN.fullmatch(name) or len(name) > MAX_RUN_NAME:
        return (
            f"{flag} {name!r} is not a plain folder name; use up to {MAX_RUN_NAME} "
            "letters, digits, '.', '_' and '-', starting with a letter or digit."
        )
    return None


def unusable_folders(log_dir, checkpoint_dir, error):
    """The RunError for folders whose very names the system refuses (too long)."""
    return RunError(
        f"Cannot use the folder {log_dir} or {checkpoint_dir} "
        f"({error.strerror or error}); choose shorter or other --logdir and "
        "--checkpoint-dir."
    )


def timestamp_name(logdir, checkpoint_dir):
    """A run name from the clock that no existing run uses yet."""
    name = base = time.strftime("%Y%m%d-%H%M%S")
    suffix = 1
    try:
        while (Path(logdir) / name).exists() or (Path(checkpoint_dir) / name).exists():
            suffix += 1
            name = f"{base}-{suffix}"
    except OSError as error:
        raise unusable_folders(logdir, checkpoint_dir, error) from None
    return name


def prepare_run_folders(log_dir, checkpoint_dir, resume):
    """Create (or, when resuming, find) the run's two folders and prove both writable.

    Refuses a name already in use unless resuming, so no run overwrites another.
    """
    log_dir, checkpoint_dir = Path(log_dir), Path(checkpoint_dir)
    run = log_dir.name
    try:
        in_use = log_dir.exists() or checkpoint_dir.exists()
    except OSError as error:
        raise unusable_folders(log_dir, checkpoint_dir, error) from None
    if resume:
        find_checkpoint(checkpoint_dir)
    elif in_use and latest_checkpoint(checkpoint_dir) is None:
        raise RunError(
            f"Run name {run!r} is already in use by a run that has no checkpoint to "
            f"go on from ({log_dir} or {checkpoint_dir} exists); pick another "
            "--run-name, or delete those folders to reuse the name."
        )
    elif in_use:
        raise RunError(
            f"Run name {run!r} is already in use ({log_dir} or {checkpoint_dir} "
            "exists); "
            f"pick another --run-name, or continue it with --resume {run}."
        )

    created = []
    for folder in (log_dir, checkpoint_dir):
        try:
            if not folder.is_dir():
                folder.mkdir(parents=True)
                created.append(folder)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            # Leave no empty run folder behind: it would block the same name next time.
            for empty in created:
                empty.rmdir()
            reason = error.strerror or str(error)
            raise RunError(
                f"Cannot write to {folder} ({reason}); choose a writable folder with "
                "--logdir or --checkpoint-dir."
            ) from None


def remove_unstarted_run(log_dir, checkpoint_dir):
    """Remove a new run's folders if it stopped before writing anything but settings.

    Such a run has nothing to resume, and its folders would keep its name in use.
    """
    folders = [Path(log_dir), Path(checkpoint_dir)]
    kept = {SETTINGS_FILE}
    for folder in folders:
        if folder.is_dir() and any(path.name not in kept for path in folder.rglob("*")):
            return
    for folder in folders:
        if folder.is_dir():
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()


@contextlib.contextmanager
def run_lock(checkpoint_dir):
    """Hold the run inside the block, so that no second process trains it meanwhile.

    The lock is the system's (flock) on the run's checkpoint folder itself: no file is
    written for it, and it ends with the process however that ends.
    """
    try:
        handle = os.open(checkpoint_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise RunError(
            f"Cannot open {checkpoint_dir} ({error.strerror or error}); choose a "
            "readable folder with --checkpoint-dir."
        ) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunError(
                f"Run {Path(checkpoint_dir).name!r} is being trained by another "
                "process right now; wait for it to end, or pick another --run-name."
            ) from None
        yield
    finally:
        os.close(handle)


def write_atomically(path, write, binary=False):
    """Call write(file) on a temporary file beside path, then move it into place.

    Readers see the old file or the new one, never half of one, even if the run is
    killed while writing.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb" if binary else "w") as file:
            write(file)
        os.chmod(temporary, 0o644)  # an ordinary data file, not mkstemp's private one
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        if error.filename is None and error.errno is not None:  # a failed write()
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_settings(checkpoint_dir, settings):
    text = json.dumps(settings, indent=2) + "\n"
    write_atomically(
        Path(checkpoint_dir) / SETTINGS_FILE, lambda file: file.write(text)
    )


def load_settings(checkpoint_dir):
    """The settings a run was started with, or {} if it saved none."""
    path = Path(checkpoint_dir) / SETTINGS_FILE
    try:
        settings = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            raise RunError(
                f"Cannot use the folder {checkpoint_dir} ({error.strerror}); choose a "
                "shorter --checkpoint-dir."
            ) from None
        settings = None
    except (ValueError, RecursionError):
        settings = None
    if not isinstance(settings, dict):
        raise RunError(
            f"{path} is unreadable or not a JSON object of settings; restore it, or "
            "delete it to resume with the flags given now."
        )
    return settings


def latest_checkpoint(checkpoint_dir):
    """The prefix of the newest whole checkpoint in the folder, or None.

    The `checkpoint` index file is replaced atomically only after a checkpoint's data is
    written, so a save that was killed half-way leaves the previous one named there.
    """
    index = Path(checkpoint_dir) / "checkpoint"
    if not index.is_file():
        return None
    try:
        text = index.read_text()
    except (OSError, UnicodeDecodeError):
        raise RunError(
            f"The checkpoint index {index} is unreadable; restore it, or start a new "
            "run."
        ) from None
    match = re.search(r'^model_checkpoint_path: "(.*)"', text, re.M)
    if not match:
        return None
    prefix = Path(match.group(1))
    if not prefix.is_absolute():
        prefix = Path(checkpoint_dir) / prefix
    return str(prefix)


def find_checkpoint(checkpoint_dir):
    """The latest checkpoint of a run, or a RunError that says there is none."""
    checkpoint = latest_checkpoint(checkpoint_dir)
    if checkpoint is None:
        raise RunError(
            f"Run {Path(checkpoint_dir).name!r} has no checkpoint in {checkpoint_dir}; "
            "check the run's name and --checkpoint-dir."
        )
    return checkpoint


# Ctrl-C, a plain kill, and the terminal closing: each stops a run the same way. A
# process started to outlive its terminal (nohup) finds SIGHUP ignored and keeps it so.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM) + (
    () if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN else (signal.SIGHUP,)
)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP before training began, raised as Ctrl-C is, so that the same
    clean-up runs; `number` is the signal."""

    def __init__(self, number):
        super().__init__()
        self.number = signal.Signals(number)


@contextlib.contextmanager
def start_up_stops():
    """Inside the block the first stop signal raises KeyboardInterrupt (SIGTERM and
    SIGHUP as Terminated) and any later one is ignored, so that the clean-up of a run
    stopped before training is not cut short. StopSignals takes them over during
    training.

    Without this a plain kill during start-up ends the process at once, without a word
    and without freeing a new run's name, and a second Ctrl-C prints a traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return

    stopped = []

    def interrupt(number, frame):
        if not stopped:
            stopped.append(number)
            raise KeyboardInterrupt() if number == signal.SIGINT else Terminated(number)

    previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class StopSignals:
    """Turn the stop signals into a flag that the loop checks between steps.

    Once training is over, stopped or not, what is left is closing files, so a stop
    signal is ignored from then on rather than taken for one before training began.
    """

    def __init__(self):
        self.received = None

    def __enter__(self):
        for number in STOP_SIGNALS:
            signal.signal(number, self._record)
        return self

    def __exit__(self, *exc):
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)

    def _record(self, number, frame):
        # A second Ctrl-C while the checkpoint is being written is ignored on purpose:
        # stopping half-way through the save is what this class exists to avoid.
        if self.received is None:
            self.received = signal.Signals(number)

    @property
    def exit_status(self):
        return 128 + self.received  # as a shell reports a process the signal ended
