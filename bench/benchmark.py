"""Time gan_mnist.py against the tutorial's own training loop and other frameworks.

Every contender trains the same GAN (the tutorial's sizes, losses and Adam settings) on
MNIST in its own subprocess, one after another, round after round; the table gives
each contender's median steps/s, wall time, start-up time and peak memory, set against
the tutorial's loop (TensorFlow 1 graph mode, one feed_dict session.run per step).
A compute bound from the step's matrix products closes the report.

    python bench/benchmark.py                       # 30,000 steps each, one round
    python bench/benchmark.py --quick               # 300 steps each, a smoke run
    python bench/benchmark.py --only tutorial,gan_mnist --rounds 3
    python bench/benchmark.py --peer-python /tmp/venv-peers/bin/python

PyTorch and JAX are optional: a peer whose package the peer Python cannot import is
skipped with a one-line note. `--ideas` adds variants of the tutorial's loop that test
ways to make a graph-mode loop faster.
"""

import argparse
import collections
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
THIS_FILE = Path(__file__).resolve()

# The tutorial's model.
BATCH_SIZE = 128
Z_DIM = 100
G_HIDDEN = 128
D_HIDDEN = 128
IMAGE_PIXELS = 28 * 28
LEARNING_RATE = 0.001
SUMMARY_EVERY = 100
IMAGE_EVERY = 1000
IMAGES_IN_SUMMARY = 8
PEAK_SIDE = 2048  # of the square matmul that measures the machine's peak rate

# Lines a worker prints for the parent; the parent timestamps READY as it arrives.
READY = "BENCH READY"
RESULT = "BENCH RESULT "
SKIP = "BENCH SKIP "
SKIP_EXIT_CODE = 3

GAN_READY = "Training from step"
GAN_RATE = re.compile(r"\(([\d.]+) steps/s\)")
GAN_NO_EXTRAS = ["--eval-every", "0", "--image-every", "0", "--checkpoint-every", "0"]


# --------------------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------------------

# name -> (how it runs, worker options). "tf" workers run with this Python, "peer"
# workers with --peer-python, "gan" runs gan_mnist.py itself.
CONTENDERS = {
    "tutorial": ("tf", {}),
    "gan_mnist": ("gan", {"extras": True}),
    "gan_mnist-no-extras": ("gan", {"extras": False}),
    "pytorch-eager": ("peer", {"worker": "torch", "flush_denormal": True}),
    "pytorch-eager-denormals": ("peer", {"worker": "torch", "flush_denormal": False}),
    "pytorch-compile": ("peer", {"worker": "torch-compile", "flush_denormal": True}),
    "jax-jit": ("peer", {"worker": "jax"}),
    # Ways to speed up the tutorial's own loop, run with --ideas or named in --only.
    "tutorial-threads-1-1": ("tf", {"intra": 1, "inter": 1}),
    "tutorial-threads-1-2": ("tf", {"intra": 1, "inter": 2}),
    "tutorial-threads-2-1": ("tf", {"intra": 2, "inter": 1}),
    "tutorial-callable": ("tf", {"callable": True}),
    "tutorial-resource-vars": ("tf", {"resource": True}),
    "tutorial-in-graph-data": ("tf", {"in_graph_data": True}),
    "tutorial-combined": (
        "tf",
        {"intra": 1, "inter": 1, "callable": True, "in_graph_data": True},
    ),
}
DEFAULT_CONTENDERS = [
    "tutorial",
    "gan_mnist",
    "gan_mnist-no-extras",
    "pytorch-eager",
    "pytorch-eager-denormals",
    "pytorch-compile",
    "jax-jit",
]
IDEAS = [name for name in CONTENDERS if name.startswith("tutorial-")]
LABELS = {
    "tutorial": "tutorial loop (TF1 feed_dict)",
    "gan_mnist": "gan_mnist.py",
    "gan_mnist-no-extras": "gan_mnist.py (no extras)",
    "pytorch-eager": "pytorch eager",
    "pytorch-eager-denormals": "pytorch eager (denormals kept)",
    "pytorch-compile": "pytorch compile",
    "jax-jit": "jax jit",
    "tutorial-threads-1-1": "tutorial, 1 intra + 1 inter thread",
    "tutorial-threads-1-2": "tutorial, 1 intra + 2 inter threads",
    "tutorial-threads-2-1": "tutorial, 2 intra + 1 inter thread",
    "tutorial-callable": "tutorial, Session.make_callable",
    "tutorial-resource-vars": "tutorial, resource variables",
    "tutorial-in-graph-data": "tutorial, batches gathered in the graph",
    "tutorial-combined": "tutorial, 1+1 threads, callable, in-graph batches",
}


# --------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------


def build_parser():
    """The command line; worker flags are hidden, the parent passes them itself."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=30000,
        help="training steps per contender (default: 30000, a full default run)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds of all contenders, interleaved; the table shows medians "
        "(default: 1)",
    )
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_CONTENDERS),
        help="comma-separated contenders to run, from: "
        f"{', '.join(CONTENDERS)} (default: {','.join(DEFAULT_CONTENDERS)})",
    )
    parser.add_argument(
        "--ideas",
        action="store_true",
        help="also run the tutorial-* variants that try to speed up its loop "
        "(default: off)",
    )
    parser.add_argument(
        "--peer-python",
        default=sys.executable,
        help="the Python that runs the PyTorch and JAX peers (default: this Python, "
        f"{sys.executable})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 300 steps per contender unless --steps is given "
        "(default: off)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--logdir", help=argparse.SUPPRESS)
    return parser


def runs_as_python(command):
    """Whether command is a program that runs Python 3 code."""
    if not shutil.which(command):
        return False
    try:
        answer = subprocess.run(
            [command, "-c", "import sys; print(sys.version_info[0])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0 and answer.stdout.strip() == "3"


def parse_flags(argv):
    """Flags with --quick applied and the contenders checked; exits on a bad one."""
    parser = build_parser()
    flags = parser.parse_args(argv)
    if flags.quick and "--steps" not in (argv or []):
        flags.steps = 300
    if flags.steps < 1 or flags.rounds < 1:
        parser.error("--steps and --rounds must each be at least 1.")

    names = [name.strip() for name in flags.only.split(",") if name.strip()]
    names = list(dict.fromkeys(names))  # each contender once, in the order given
    if not names:
        parser.error("--only names no contender; give one or more, comma-separated.")
    unknown = [name for name in names if name not in CONTENDERS]
    if unknown:
        parser.error(
            f"unknown contender {', '.join(unknown)}; "
            f"choose from {', '.join(CONTENDERS)}."
        )
    if not flags.worker and not runs_as_python(flags.peer_python):
        parser.error(f"--peer-python {flags.peer_python} is not an executable Python.")
    if flags.ideas:
        names += [name for name in IDEAS if name not in names]
    flags.contenders = names
    return flags


# --------------------------------------------------------------------------------------
# Data (workers)
# --------------------------------------------------------------------------------------


def training_images():
    """MNIST's 60,000 training images as float32 [60000, 784] in [0, 1]."""
    sys.path.insert(0, str(REPO))
    import mnist_idx

    return mnist_idx.load_mnist().train_images.astype(np.float32) / 255.0


def batch_order(num_examples, seed=0):
    """Yield the row indices of each batch forever, reshuffled every epoch."""
    rng = np.random.default_rng(seed)
    per_epoch = num_examples // BATCH_SIZE  # the short last batch is dropped
    while True:
        order = rng.permutation(num_examples)
        for batch in range(per_epoch):
            yield order[batch * BATCH_SIZE : (batch + 1) * BATCH_SIZE]


def report_result(steps, seconds):
    """Print the worker's result line for the parent."""
    print(RESULT + json.dumps({"steps": steps, "seconds": seconds}), flush=True)


def skip(reason):
    """Tell the parent this peer cannot run here, and stop."""
    print(SKIP + reason, flush=True)
    sys.exit(SKIP_EXIT_CODE)


# --------------------------------------------------------------------------------------
# The tutorial's loop: TensorFlow 1 graph mode, one feed_dict session.run per step
# --------------------------------------------------------------------------------------


def tutorial_dense(tf, inputs, units, activation, name):
    """A dense layer initialised as the tutorial does: N(0, 1) truncated, zero bias."""
    with tf.variable_scope(name):
        weights = tf.get_variable(
            "weights",
            [inputs.shape[1], units],
            initializer=tf.truncated_normal_initializer(stddev=1.0),
        )
        biases = tf.get_variable("biases", [units], initializer=tf.zeros_initializer())
    outputs = tf.matmul(inputs, weights) + biases
    return activation(outputs) if activation else outputs


def tutorial_graph(tf, real_images):
    """The tutorial's generator, discriminator, losses and two Adam updates."""
    with tf.variable_scope("Generator"):
        z = tf.random_uniform([BATCH_SIZE, Z_DIM], -1.0, 1.0, name="z")
        hidden = tutorial_dense(tf, z, G_HIDDEN, tf.nn.relu, "hidden")
        # Sigmoid keeps every generated pixel in [0, 1], the range of the real ones.
        fake_images = tutorial_dense(tf, hidden, IMAGE_PIXELS, tf.nn.sigmoid, "out")

    with tf.variable_scope("Discriminator"):
        images = tf.concat([real_images, fake_images], 0)
        hidden = tutorial_dense(tf, images, D_HIDDEN, tf.nn.relu, "hidden")
        logits = tutorial_dense(tf, hidden, 1, None, "logits")

    labels = tf.concat([tf.zeros([BATCH_SIZE, 1]), tf.ones([BATCH_SIZE, 1])], 0)
    with tf.name_scope("D_Loss"):
        d_loss = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        )
    with tf.name_scope("G_loss"):
        # The generator wants its fakes called real (label 0); multiplying by the
        # labels drops the real rows, which the generator cannot change.
        fooled = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.zeros_like(logits), logits=logits
        )
        g_loss = tf.reduce_mean(fooled * labels)

    with tf.name_scope("Train"):
        d_train = tf.train.AdamOptimizer(LEARNING_RATE).minimize(
            d_loss, var_list=tf.trainable_variables("Discriminator")
        )
        g_train = tf.train.AdamOptimizer(LEARNING_RATE).minimize(
            g_loss, var_list=tf.trainable_variables("Generator")
        )

    scalars = tf.summary.merge(
        [tf.summary.scalar("D_loss", d_loss), tf.summary.scalar("G_loss", g_loss)]
    )
    samples = tf.reshape(fake_images[:IMAGES_IN_SUMMARY], [-1, 28, 28, 1])
    images = tf.summary.image("Generated", samples, max_outputs=IMAGES_IN_SUMMARY)
    return d_train, g_train, scalars, images


def session_config(tf, options):
    """A ConfigProto with the thread counts an idea asks for (0 lets TF choose)."""
    return tf.ConfigProto(
        intra_op_parallelism_threads=options.get("intra", 0),
        inter_op_parallelism_threads=options.get("inter", 0),
    )


def tutorial_worker(steps, logdir, options):
    """Train with the tutorial's loop: the next batch fed into one run per step."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow.compat.v1 as tf

    # The tutorial was written for TF 1.x, whose variables were reference variables;
    # resource variables are an idea to test, not the baseline.
    tf.disable_v2_behavior()
    if options.get("resource"):
        tf.enable_resource_variables()
    data = training_images()
    batches = batch_order(len(data))

    if options.get("in_graph_data"):
        # Fed once into a variable: a constant would copy 188 MB into the graph.
        all_images_feed = tf.placeholder(tf.float32, data.shape)
        all_images = tf.Variable(all_images_feed, trainable=False)
        rows = tf.placeholder(tf.int32, [BATCH_SIZE], "rows")
        real_images = tf.gather(all_images, rows)
    else:
        real_images = tf.placeholder(tf.float32, [BATCH_SIZE, IMAGE_PIXELS], "real")
    d_train, g_train, scalars, images = tutorial_graph(tf, real_images)

    with tf.Session(config=session_config(tf, options)) as session:
        initial = {all_images_feed: data} if options.get("in_graph_data") else None
        session.run(tf.global_variables_initializer(), initial)
        writer = tf.summary.FileWriter(logdir, session.graph)
        feed = rows if options.get("in_graph_data") else real_images
        fetches = {
            "train": [d_train, g_train],
            "scalars": [d_train, g_train, scalars],
            "images": [d_train, g_train, scalars, images],
        }
        if options.get("callable"):
            runners = {
                kind: session.make_callable(fetch, feed_list=[feed])
                for kind, fetch in fetches.items()
            }
        else:
            runners = {
                kind: (lambda value, fetch=fetch: session.run(fetch, {feed: value}))
                for kind, fetch in fetches.items()
            }

        print(READY, flush=True)
        start = time.perf_counter()
        for step in range(1, steps + 1):
            indices = next(batches)
            value = indices if options.get("in_graph_data") else data[indices]
            if step % IMAGE_EVERY == 0:
                *_, scalar_summary, image_summary = runners["images"](value)
                writer.add_summary(scalar_summary, step)
                writer.add_summary(image_summary, step)
            elif step % SUMMARY_EVERY == 0:
                *_, scalar_summary = runners["scalars"](value)
                writer.add_summary(scalar_summary, step)
            else:
                runners["train"](value)
        seconds = time.perf_counter() - start
        writer.close()
    report_result(steps, seconds)


# --------------------------------------------------------------------------------------
# Peer: PyTorch, eager or compiled
# --------------------------------------------------------------------------------------


def torch_worker(steps, options, compiled):
    """Train the same GAN in PyTorch; both updates come from one forward pass."""
    try:
        import torch
    except ImportError:
        skip(f"PyTorch is not importable with {sys.executable}.")
    # Denormal floats (tiny Adam second moments, saturated sigmoids) can be far slower
    # on x86; TensorFlow flushes them to zero in its own threads.
    torch.set_flush_denormal(options["flush_denormal"])
    torch.manual_seed(0)
    data = torch.from_numpy(training_images())
    batches = batch_order(len(data))

    def dense(inputs, units):
        layer = torch.nn.Linear(inputs, units)
        torch.nn.init.trunc_normal_(layer.weight, std=1.0, a=-2.0, b=2.0)
        torch.nn.init.zeros_(layer.bias)
        return layer

    generator = torch.nn.Sequential(
        dense(Z_DIM, G_HIDDEN),
        torch.nn.ReLU(),
        dense(G_HIDDEN, IMAGE_PIXELS),
        torch.nn.Sigmoid(),
    )
    discriminator = torch.nn.Sequential(
        dense(IMAGE_PIXELS, D_HIDDEN), torch.nn.ReLU(), dense(D_HIDDEN, 1)
    )
    d_params = list(discriminator.parameters())
    g_params = list(generator.parameters())
    d_optimizer = torch.optim.Adam(d_params, lr=LEARNING_RATE, eps=1e-8)
    g_optimizer = torch.optim.Adam(g_params, lr=LEARNING_RATE, eps=1e-8)
    labels = torch.cat([torch.zeros(BATCH_SIZE, 1), torch.ones(BATCH_SIZE, 1)])
    cross_entropy = torch.nn.functional.binary_cross_entropy_with_logits

    def train_step(real_images):
        z = torch.rand(BATCH_SIZE, Z_DIM) * 2.0 - 1.0
        fake_images = generator(z)
        logits = discriminator(torch.cat([real_images, fake_images]))
        d_loss = cross_entropy(logits, labels)
        fooled = cross_entropy(logits, torch.zeros_like(logits), reduction="none")
        g_loss = (fooled * labels).mean()
        # As in one TF1 run: both gradients from this forward pass, then both updates.
        d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, g_params)
        for param, grad in zip(d_params + g_params, d_grads + g_grads):
            param.grad = grad
        d_optimizer.step()
        g_optimizer.step()

    if compiled:
        train_step = torch.compile(train_step)
        # Compiling happens on the first call; it belongs to start-up, not to the rate.
        train_step(data[next(batches)])

    print(READY, flush=True)
    start = time.perf_counter()
    for _ in range(steps):
        train_step(data[next(batches)])
    report_result(steps, time.perf_counter() - start)


# --------------------------------------------------------------------------------------
# Peer: JAX, one jitted step with Adam written out
# --------------------------------------------------------------------------------------


def jax_worker(steps):
    """Train the same GAN in JAX: a jitted step holding both Adam updates."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        skip(f"JAX is not importable with {sys.executable}.")
    data = training_images()
    batches = batch_order(len(data))

    def dense_params(key, inputs, units):
        weights = jax.random.truncated_normal(key, -2.0, 2.0, (inputs, units))
        return {"weights": weights, "biases": jnp.zeros(units)}

    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    generator = [
        dense_params(keys[0], Z_DIM, G_HIDDEN),
        dense_params(keys[1], G_HIDDEN, IMAGE_PIXELS),
    ]
    discriminator = [
        dense_params(keys[2], IMAGE_PIXELS, D_HIDDEN),
        dense_params(keys[3], D_HIDDEN, 1),
    ]
    labels = jnp.concatenate([jnp.zeros((BATCH_SIZE, 1)), jnp.ones((BATCH_SIZE, 1))])

    def generate(params, z):
        hidden = jax.nn.relu(z @ params[0]["weights"] + params[0]["biases"])
        return jax.nn.sigmoid(hidden @ params[1]["weights"] + params[1]["biases"])

    def discriminate(params, images):
        hidden = jax.nn.relu(images @ params[0]["weights"] + params[0]["biases"])
        return hidden @ params[1]["weights"] + params[1]["biases"]

    def cross_entropy(logits, targets):
        return (
            jnp.maximum(logits, 0)
            - logits * targets
            + jnp.log1p(jnp.exp(-jnp.abs(logits)))
        )

    def d_loss(d_params, real_images, fake_images):
        logits = discriminate(d_params, jnp.concatenate([real_images, fake_images]))
        return cross_entropy(logits, labels).mean()

    def g_loss(g_params, d_params, real_images, z):
        images = jnp.concatenate([real_images, generate(g_params, z)])
        logits = discriminate(d_params, images)
        return (cross_entropy(logits, jnp.zeros_like(logits)) * labels).mean()

    def adam(params, grads, moments, step):
        """Adam's defaults (lr 1e-3, betas 0.9 and 0.999, epsilon 1e-8), as TF1 does it.

        TF1 folds both bias corrections into the rate and adds epsilon to sqrt(v)
        uncorrected; PyTorch adds it to the corrected sqrt(v), a negligible change.
        """
        first, second = moments
        first = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, first, grads)
        second = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, second, grads)
        rate = LEARNING_RATE * jnp.sqrt(1 - 0.999**step) / (1 - 0.9**step)
        params = jax.tree.map(
            lambda p, m, v: p - rate * m / (jnp.sqrt(v) + 1e-8), params, first, second
        )
        return params, (first, second)

    def zeros_like_tree(tree):
        return jax.tree.map(jnp.zeros_like, tree)

    # Donating the old state lets XLA update the parameters in place.
    @partial(jax.jit, donate_argnums=0)
    def train_step(state, real_images):
        g_params, d_params, g_moments, d_moments, step, key = state
        key, noise_key = jax.random.split(key)
        z = jax.random.uniform(noise_key, (BATCH_SIZE, Z_DIM), minval=-1.0, maxval=1.0)
        fake_images = generate(g_params, z)
        # Both gradients see the same parameters, as in the tutorial's single run.
        d_grads = jax.grad(d_loss)(d_params, real_images, fake_images)
        g_grads = jax.grad(g_loss)(g_params, d_params, real_images, z)
        step = step + 1
        d_params, d_moments = adam(d_params, d_grads, d_moments, step)
        g_params, g_moments = adam(g_params, g_grads, g_moments, step)
        return g_params, d_params, g_moments, d_moments, step, key

    state = (
        generator,
        discriminator,
        (zeros_like_tree(generator), zeros_like_tree(generator)),
        (zeros_like_tree(discriminator), zeros_like_tree(discriminator)),
        jnp.zeros((), jnp.float32),
        keys[4],
    )
    # The first call traces and compiles: start-up, not part of the rate.
    state = jax.block_until_ready(train_step(state, data[next(batches)]))

    print(READY, flush=True)
    start = time.perf_counter()
    for _ in range(steps):
        state = train_step(state, data[next(batches)])
    jax.block_until_ready(state)
    report_result(steps, time.perf_counter() - start)


def run_worker(flags):
    """Entry point of a worker subprocess."""
    options = json.loads(flags.options)
    if flags.worker == "tf":
        tutorial_worker(flags.steps, flags.logdir, options)
    elif flags.worker in ("torch", "torch-compile"):
        torch_worker(flags.steps, options, compiled=flags.worker == "torch-compile")
    elif flags.worker == "jax":
        jax_worker(flags.steps)
    elif flags.worker == "bound":
        bound_worker()


# --------------------------------------------------------------------------------------
# Measuring one contender in its own process
# --------------------------------------------------------------------------------------


def contender_command(name, flags, workdir, round_index):
    """The command line that runs one contender, or None with a note if it cannot."""
    kind, options = CONTENDERS[name]
    if kind == "gan":
        script = REPO / "gan_mnist.py"
        if not script.is_file():
            return None, f"{script} does not exist yet."
        command = [
            sys.executable,
            str(script),
            "--steps",
            str(flags.steps),
            "--logdir",
            str(workdir / "logs"),
            "--checkpoint-dir",
            str(workdir / "checkpoints"),
            "--run-name",
            f"bench-{round_index}-{name}",
        ]
        return command + ([] if options["extras"] else GAN_NO_EXTRAS), None

    python = sys.executable if kind == "tf" else flags.peer_python
    worker = "tf" if kind == "tf" else options["worker"]
    command = [python, str(THIS_FILE), "--worker", worker, "--steps", str(flags.steps)]
    command += ["--options", json.dumps(options), "--logdir", str(workdir / name)]
    return command, None


def measure(command, cwd):
    """Run a command; return its figures, its exit code and its last output lines."""
    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        figures, tail = read_output(process, started)
    except BaseException:
        # Interrupted: stop the contender too, so nothing writes into folders that
        # are about to be removed.
        process.kill()
        process.wait()
        raise

    # wait4, not wait: it also returns the child's own resource use, its peak memory
    # (the largest of it and its own children, such as torch.compile's workers).
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    figures["wall_s"] = time.perf_counter() - started
    figures["peak_gb"] = usage.ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux
    return figures, process.returncode, tail


def read_output(process, started):
    """Read a contender's output as it comes, timestamping its first-step line."""
    figures, tail = {}, collections.deque(maxlen=20)
    for line in process.stdout:
        now = time.perf_counter()
        line = line.rstrip("\n")
        tail.append(line)
        if "startup_s" not in figures and line.startswith((READY, GAN_READY)):
            figures["startup_s"] = now - started
        elif line.startswith(RESULT):
            result = json.loads(line[len(RESULT) :])
            figures["steps_per_s"] = result["steps"] / result["seconds"]
        elif line.startswith(SKIP):
            figures["skip"] = line[len(SKIP) :]
        elif line.startswith("Finished at step") and GAN_RATE.search(line):
            figures["steps_per_s"] = float(GAN_RATE.search(line).group(1))
    process.stdout.close()
    return figures, tail


def run_rounds(flags):
    """Every contender, round after round; returns name -> list of figure dicts."""
    results = {name: [] for name in flags.contenders}
    skipped = {}
    with tempfile.TemporaryDirectory(prefix="gan-bench-") as tmp:
        for round_index in range(1, flags.rounds + 1):
            for name in flags.contenders:
                if name in skipped:
                    continue
                workdir = Path(tmp) / f"round-{round_index}"
                command, problem = contender_command(name, flags, workdir, round_index)
                if problem:
                    skipped[name] = problem
                    print(f"Skipping {LABELS[name]}: {problem}", flush=True)
                    continue

                figures, code, tail = measure(command, REPO)
                if code == SKIP_EXIT_CODE and "skip" in figures:
                    skipped[name] = figures["skip"]
                    print(f"Skipping {LABELS[name]}: {figures['skip']}", flush=True)
                    continue
                if code != 0 or not {"steps_per_s", "startup_s"} <= figures.keys():
                    skipped[name] = f"failed with exit code {code}"
                    print(f"{LABELS[name]} failed (exit code {code}); its last lines:")
                    print("    " + "\n    ".join(tail), flush=True)
                    continue
                results[name].append(figures)
                print(
                    f"round {round_index}/{flags.rounds} {LABELS[name]}: "
                    f"{figures['steps_per_s']:.1f} steps/s, "
                    f"wall {figures['wall_s']:.1f} s, "
                    f"start-up {figures['startup_s']:.1f} s, "
                    f"peak {figures['peak_gb']:.2f} GB, "
                    f"load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    return {name: runs for name, runs in results.items() if runs}


# --------------------------------------------------------------------------------------
# Compute bound: the step's matrix products at this machine's measured rates
# --------------------------------------------------------------------------------------


def step_products():
    """(what, m, k, n) of every matrix product in one step of the tutorial's graph."""
    real_and_fake = 2 * BATCH_SIZE
    return [
        ("G forward: z @ W1", BATCH_SIZE, Z_DIM, G_HIDDEN),
        ("G forward: h @ W2", BATCH_SIZE, G_HIDDEN, IMAGE_PIXELS),
        ("D forward: x @ W1", real_and_fake, IMAGE_PIXELS, D_HIDDEN),
        ("D forward: h @ W2", real_and_fake, D_HIDDEN, 1),
        ("D loss grad: dW2", D_HIDDEN, real_and_fake, 1),
        ("D loss grad: dh", real_and_fake, 1, D_HIDDEN),
        ("D loss grad: dW1", IMAGE_PIXELS, real_and_fake, D_HIDDEN),
        ("G loss grad: dh (D)", real_and_fake, 1, D_HIDDEN),
        # TF takes the gradient of the whole concat input, real rows included.
        ("G loss grad: dx (D)", real_and_fake, D_HIDDEN, IMAGE_PIXELS),
        ("G loss grad: dW2", G_HIDDEN, BATCH_SIZE, IMAGE_PIXELS),
        ("G loss grad: dh", BATCH_SIZE, IMAGE_PIXELS, G_HIDDEN),
        ("G loss grad: dW1", Z_DIM, BATCH_SIZE, G_HIDDEN),
    ]


def best_seconds(function, repeats=7, min_seconds=0.05):
    """The fastest time of one call, over several timed batches of calls."""
    function()
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            function()
        if time.perf_counter() - start >= min_seconds:
            break
        calls *= 2
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def bound_worker():
    """Time each product of the step, and a large square one, with numpy."""
    rng = np.random.default_rng(0)
    seconds = []
    for _, m, k, n in step_products():
        left = rng.standard_normal((m, k), dtype=np.float32)
        right = rng.standard_normal((k, n), dtype=np.float32)
        seconds.append(best_seconds(lambda: left @ right))

    square = rng.standard_normal((PEAK_SIDE, PEAK_SIDE), dtype=np.float32)
    peak = best_seconds(lambda: square @ square, repeats=5)
    print(RESULT + json.dumps({"products": seconds, "peak": peak}), flush=True)


def compute_bound():
    """FLOPs per step, the best measured time of its products, the peak matmul rate.

    Small products often run fastest on one BLAS thread, large ones on all cores, so
    each is timed both ways, in its own process, and the faster time counts. A loop
    that runs independent products side by side, one per core, can beat that sum:
    its ceiling is the products' one-thread times shared among the cores.
    """
    timings = []
    for threads in ("1", str(os.cpu_count())):
        environment = dict(os.environ, OPENBLAS_NUM_THREADS=threads)
        environment.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        output = subprocess.run(
            [sys.executable, str(THIS_FILE), "--worker", "bound"],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        line = next(line for line in output.splitlines() if line.startswith(RESULT))
        timings.append(json.loads(line[len(RESULT) :]))

    products = step_products()
    return {
        "flops": sum(2 * m * k * n for _, m, k, n in products),
        "seconds": sum(
            min(timing["products"][index] for timing in timings)
            for index in range(len(products))
        ),
        # Products on one thread each, every core busy with one of them.
        "seconds_side_by_side": sum(timings[0]["products"]) / os.cpu_count(),
        "peak_flops": 2 * PEAK_SIDE**3 / min(timing["peak"] for timing in timings),
    }


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def tensorflow_version():
    """TensorFlow's version, read from its package metadata without importing it."""
    from importlib import metadata

    try:
        return metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        return "not installed"


def print_header(flags):
    """Date, versions, machine and run settings."""
    print(f"# GAN on MNIST: training-loop benchmark, {datetime.date.today()}")
    print()
    print(f"- TensorFlow {tensorflow_version()}, Python {platform.python_version()}")
    print(f"- CPU: {cpu_model()}, {os.cpu_count()} cores")
    print(
        f"- {flags.steps} steps per contender, {flags.rounds} round(s), medians shown"
    )
    print(f"- peers run with {flags.peer_python}")
    print(flush=True)
    warn_if_busy()


def warn_if_busy():
    """One line if other processes keep the CPUs busy: every figure would be low."""
    load = os.getloadavg()[0]
    if load > 0.5:
        print(
            f"Warning: the load average is {load:.1f} on {os.cpu_count()} cores; other "
            "processes share the CPUs, so the figures will be low and noisy.",
            flush=True,
        )


def median_figures(runs):
    """The median of each figure across rounds."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def paired_ratios(results, name):
    """name's steps/s over the tutorial's, round by round.

    The two ran minutes apart within each round, so a slow spell of the machine
    weighs on both; the ratio of the medians can pair a fast round with a slow one.
    """
    pairs = zip(results[name], results.get("tutorial", []))
    return [run["steps_per_s"] / base["steps_per_s"] for run, base in pairs]


def print_table(results):
    """One markdown row per contender, each set against the tutorial's loop."""
    medians = {name: median_figures(runs) for name, runs in results.items()}
    baseline = medians.get("tutorial")
    print(
        "| contender | steps/s | vs tutorial | round by round | wall s | start-up s "
        "| peak GB | memory vs tutorial |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, figures in medians.items():
        speed = paired = memory = "-"
        if baseline:
            speed = f"{figures['steps_per_s'] / baseline['steps_per_s']:.2f}x"
            memory = f"{figures['peak_gb'] / baseline['peak_gb']:.2f}x"
            ratios = paired_ratios(results, name)
            paired = f"{statistics.median(ratios):.2f}x"
            if len(ratios) > 1 and name != "tutorial":
                paired += f" ({min(ratios):.2f}-{max(ratios):.2f})"
        print(
            f"| {LABELS[name]} | {figures['steps_per_s']:.1f} | {speed} | {paired} "
            f"| {figures['wall_s']:.1f} | {figures['startup_s']:.1f} "
            f"| {figures['peak_gb']:.2f} | {memory} |"
        )
    print()
    if baseline:
        print(
            "vs tutorial: the ratio of the medians; round by round: the median (and "
            "the range) of each round's ratio to the tutorial's loop in that round."
        )
        print()
    return medians


def print_extras_overhead(medians):
    """What evaluation, image grids and checkpoints add to gan_mnist.py's wall time."""
    if "gan_mnist" not in medians or "gan_mnist-no-extras" not in medians:
        return
    full = medians["gan_mnist"]["wall_s"]
    bare = medians["gan_mnist-no-extras"]["wall_s"]
    if full < bare:
        print(
            f"Evaluation, image grids and checkpoints add nothing measurable here: "
            f"gan_mnist.py took {full:.1f} s with them, {bare:.1f} s without; the "
            "difference is the machine's noise."
        )
    else:
        print(
            f"Evaluation, image grids and checkpoints add "
            f"{100 * (full - bare) / bare:.1f}% to gan_mnist.py's wall time "
            f"({full:.1f} s against {bare:.1f} s without them)."
        )
    print()


def print_compute_bound(bound, medians):
    """The step's FLOPs, the time its products take here, and the implied ceilings."""
    milliseconds = 1000 * bound["seconds"]
    side_by_side = 1000 * bound["seconds_side_by_side"]
    at_peak = 1000 * bound["flops"] / bound["peak_flops"]
    print(
        f"Compute bound: {bound['flops'] / 1e6:.1f} MFLOP of matrix products per step; "
        f"numpy runs them one after another in {milliseconds:.3f} ms "
        "(each shape at its best measured rate), "
        f"a ceiling of {1000 / milliseconds:.0f} steps/s."
    )
    print(
        f"Side by side, one thread each on {os.cpu_count()} cores: "
        f"{side_by_side:.3f} ms "
        f"per step, a ceiling of {1000 / side_by_side:.0f} steps/s."
    )
    print(
        f"Peak matmul rate ({PEAK_SIDE}x{PEAK_SIDE} float32, numpy): "
        f"{bound['peak_flops'] / 1e9:.1f} GFLOP/s, which would allow {at_peak:.3f} ms "
        f"per step, {1000 / at_peak:.0f} steps/s."
    )
    print()
    print(
        "| contender | share of the one-after-another ceiling "
        "| of the side-by-side one |"
    )
    print("|---|---:|---:|")
    for name, figures in medians.items():
        rate = figures["steps_per_s"]
        print(
            f"| {LABELS[name]} | {rate * milliseconds / 10:.0f}% "
            f"| {rate * side_by_side / 10:.0f}% |"
        )


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C is."""


def stop_on_sigterm(number, frame):
    raise Terminated()


def main(argv=None):
    """Parse flags; run as a worker, or run every contender and print the report."""
    argv = sys.argv[1:] if argv is None else argv
    flags = parse_flags(argv)
    if flags.worker:
        run_worker(flags)
        return 0

    # A plain kill stops the benchmark as Ctrl-C does, so the temporary folders are
    # still removed and one line says what happened.
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    print_header(flags)
    if flags.steps < 10000:
        print(
            f"Note: {flags.steps} steps measure start-up and the first blocks more "
            "than speed; compare speeds with 10,000 steps or more.",
            flush=True,
        )
    try:
        results = run_rounds(flags)
        print()
        medians = print_table(results) if results else {}
        print_extras_overhead(medians)
        print_compute_bound(compute_bound(), medians)
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        how = "Stopped by SIGTERM" if terminated else "Interrupted"
        print(
            f"{how}; the benchmark stopped before its report was complete.",
            file=sys.stderr,
        )
        return 143 if terminated else 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
