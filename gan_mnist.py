"""The GAN of Matheus Facure's tutorial "Redes Adversárias Geradoras" (2017) on MNIST.

A generator turns uniform noise into 28x28 digits; a discriminator learns to tell them
from real MNIST digits; each learns against the other. Written for TensorFlow 1 and run
here through tf.compat.v1 in graph mode, with the tutorial's scopes, sizes and losses.

    python gan_mnist.py              # 30,000 steps; summaries in logs/<run>
    tensorboard --logdir logs        # loss curves, samples, the graph

`python gan_mnist.py --help` lists every setting with its default.
"""

import argparse
import math
import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

import evaluation
import image_export
import mnist_idx
import runs
import tensorflow_setup

tf = None  # tensorflow.compat.v1, imported by import_tensorflow() once flags are valid


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------

# The tutorial's constants, each one a flag.
DEFAULTS = {
    "steps": 30000,
    "batch_size": 128,
    "z_dim": 100,
    "g_hidden": 128,
    "d_hidden": 128,
    "learning_rate": 0.001,
    "label_smoothing": 0.0,
    "summary_every": 100,
    "image_every": 1000,
    "checkpoint_every": 1000,
    "eval_every": 1000,
    "eval_samples": 10000,
    "steps_per_run": 100,
    "seed": 1,
    "logdir": "logs",
    "checkpoint_dir": "tmp",
    "data_dir": str(mnist_idx.SHIPPED_DIR),
}
# The smallest value that makes sense for each count; 0 turns a cadence off. An
# evaluation needs two samples at least to measure their spread.
LOWEST_VALUES = {
    "steps": 1,
    "batch_size": 1,
    "z_dim": 1,
    "g_hidden": 1,
    "d_hidden": 1,
    "summary_every": 1,
    "steps_per_run": 1,
    "eval_samples": 2,
    "image_every": 0,
    "checkpoint_every": 0,
    "eval_every": 0,
}
# The largest value of each count that this program is built for; larger ones would
# only exhaust memory or overflow TensorFlow's integer types.
HIGHEST_VALUES = {
    "steps": 10**9,
    "z_dim": 65536,
    "g_hidden": 65536,
    "d_hidden": 65536,
    "summary_every": 10**9,
    "steps_per_run": 100000,
    "eval_samples": 100000,
    "image_every": 10**9,
    "checkpoint_every": 10**9,
    "eval_every": 10**9,
}
# The batch rows of one block of steps are handed over at once: at most this many.
MAX_BLOCK_ROWS = 2**25
# Flags about how this process runs, not about the run: never saved or restored.
PROCESS_FLAGS = ("resume", "eval_only", "verbose", "plain_loop")
IMAGE_PIXELS = 28 * 28
EVALUATION_SCALARS = (
    "classifier_score",
    "frechet_distance",
    "digits_covered",
    "largest_digit_share",
)
GRID_SIZE = 64  # the fixed-noise samples shown as one 8x8 grid
# A classifier retrained when the shipped one is damaged is cached here, under
# --checkpoint-dir; no run can take this name: run names start with a letter or digit.
CLASSIFIER_CACHE = ".classifier"


def build_parser():
    parser = argparse.ArgumentParser(
        description="Train the tutorial's GAN on MNIST and log it for TensorBoard."
    )

    def flag(name, kind, help_text):
        key = name[2:].replace("-", "_")
        parser.add_argument(
            name,
            type=kind,
            default=DEFAULTS[key],
            help=f"{help_text} (default: %(default)s)",
        )

    flag("--steps", int, "total training steps the run reaches")
    flag("--batch-size", int, "real images per step, and as many fakes")
    flag("--z-dim", int, "size of the generator's noise input")
    flag("--g-hidden", int, "units in the generator's hidden layer")
    flag("--d-hidden", int, "units in the discriminator's hidden layer")
    flag("--learning-rate", float, "Adam learning rate of both networks")
    flag("--label-smoothing", float, "one-sided smoothing: the real images' target")
    flag("--summary-every", int, "steps between loss summaries")
    flag("--image-every", int, "steps between sample images, 0 for none")
    flag("--checkpoint-every", int, "steps between checkpoints, 0 for only the last")
    flag("--eval-every", int, "steps between sample evaluations, 0 for only the last")
    flag("--eval-samples", int, "generated samples per evaluation")
    flag("--steps-per-run", int, "training steps per session.run")
    flag("--seed", int, "seed of the initial weights, the noise and the batch order")
    flag("--logdir", str, "folder of the runs' summaries, one subfolder per run")
    flag("--checkpoint-dir", str, "folder of the runs' checkpoints and settings")
    parser.add_argument(
        "--data-dir",
        default=DEFAULTS["data_dir"],
        help="folder with the four MNIST IDX files, gzip or raw (default: the copy "
        "shipped in data/mnist beside this script)",
    )
    parser.add_argument(
        "--run-name", help="name of this run's folders (default: the start time)"
    )
    parser.add_argument(
        "--resume",
        metavar="RUN",
        help="continue RUN from its latest checkpoint, with its saved settings except "
        "the flags given again",
    )
    parser.add_argument(
        "--eval-only",
        metavar="RUN",
        help="evaluate RUN's latest checkpoint, no training",
    )
    parser.add_argument(
        "--plain-loop",
        action="store_true",
        help="feed each batch from Python, one step at a time, as the tutorial did "
        "(slower; the same arithmetic, to float rounding)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's own start-up messages"
    )
    return parser


def flags_given(parser, argv):
    """The names of the flags that argv sets explicitly."""
    unset = object()
    names = vars(parser.parse_args([]))
    parsed = parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(names, unset)))
    return {name for name, value in vars(parsed).items() if value is not unset}


def parse_settings(argv):
    """Parse and check the flags; on resume, fill unset ones from the run's settings."""
    parser = build_parser()
    settings = vars(parser.parse_args(argv))
    given = flags_given(parser, argv)

    if settings["resume"] is not None and settings["eval_only"] is not None:
        parser.error("give either --resume or --eval-only, not both")
    for flag in ("resume", "eval_only"):
        if settings[flag] is not None:
            run_to_open = settings[flag]
            problem = runs.check_run_name(run_to_open, "--" + flag.replace("_", "-"))
            if problem:
                parser.exit(2, f"Error: {problem}\n")
            break
    else:
        run_to_open = None
    if run_to_open is not None:
        if "run_name" in given and settings["run_name"] != run_to_open:
            parser.error("--run-name cannot rename a run being resumed or evaluated")
        settings["run_name"] = run_to_open
        checkpoint_dir = Path(settings["checkpoint_dir"]) / run_to_open
        try:
            saved = runs.load_settings(checkpoint_dir)
        except runs.RunError as error:
            parser.exit(2, f"Error: {error}\n")
        # Where the run's folders are is given by this command, never by the run.
        for key in DEFAULTS.keys() - given - {"logdir", "checkpoint_dir"}:
            if key not in saved:
                continue
            kind = type(DEFAULTS[key])
            if type(saved[key]) not in ({int, float} if kind is float else {kind}):
                parser.exit(
                    2,
                    f"Error: {checkpoint_dir / runs.SETTINGS_FILE} holds "
                    f"{key}={saved[key]!r}, not of type {kind.__name__}; correct it, "
                    f"or give --{key.replace('_', '-')} on the command line.\n",
                )
            settings[key] = saved[key]

    problem = find_problem(settings)
    if problem and run_to_open is not None:
        problem = blame_saved_setting(problem, given, saved, checkpoint_dir)
    if problem:
        parser.exit(2, f"Error: {problem}\n")
    if settings["run_name"] is None:
        try:
            settings["run_name"] = runs.timestamp_name(
                settings["logdir"], settings["checkpoint_dir"]
            )
        except runs.RunError as error:
            parser.exit(2, f"Error: {error}\n")
    return settings


def blame_saved_setting(problem, given, saved, checkpoint_dir):
    """The problem sentence, saying where a bad value came from when the run's saved
    settings gave it rather than the command line."""
    flag = problem.split()[0]
    key = flag[2:].replace("-", "_")
    if not flag.startswith("--") or key in given or key not in saved:
        return problem
    return (
        f"{checkpoint_dir / runs.SETTINGS_FILE} holds {key}={saved[key]!r}, but "
        f"{problem.rstrip('.')}; correct it there, or give {flag} again."
    )


def find_problem(settings):
    """One sentence about the first nonsensical setting, or None. Each sentence
    starts with the flag at fault, which blame_saved_setting relies on."""
    for key, lowest in LOWEST_VALUES.items():
        flag = "--" + key.replace("_", "-")
        if settings[key] < lowest:
            return f"{flag} must be at least {lowest} (got {settings[key]})."
        if settings[key] > HIGHEST_VALUES.get(key, math.inf):
            return (
                f"{flag} must be at most {HIGHEST_VALUES[key]} (got {settings[key]})."
            )
    if block_steps(settings) * settings["batch_size"] > MAX_BLOCK_ROWS:
        return (
            f"--steps-per-run {settings['steps_per_run']} with --batch-size "
            f"{settings['batch_size']} would hand over more than {MAX_BLOCK_ROWS} "
            "image rows at once; give a smaller --steps-per-run."
        )
    if not 0 <= settings["seed"] < 2**31:
        return f"--seed must lie in 0..{2**31 - 1} (got {settings['seed']})."
    # Both end up as float32 in the graph, where 1e-50 is 0 and 1e50 is infinite.
    rate = settings["learning_rate"]
    with np.errstate(over="ignore"):
        rate_in_graph = np.float32(rate)
    if not (math.isfinite(rate) and rate > 0 and 0 < rate_in_graph < math.inf):
        return (
            "--learning-rate must be a positive number that float32 can hold, "
            f"between about 1e-45 and 3e38 (got {rate})."
        )
    if not 0 <= np.float32(settings["label_smoothing"]) < 1:
        return (
            "--label-smoothing must lie in [0, 1), the real images' target "
            f"(got {settings['label_smoothing']})."
        )
    if not os.path.isdir(settings["data_dir"]):  # False for a name too long, too
        return (
            f"--data-dir {settings['data_dir']} does not exist or is not a folder; "
            "give a folder holding the four MNIST IDX files."
        )
    if settings["run_name"] is not None:
        return runs.check_run_name(settings["run_name"])
    return None


def run_settings(settings):
    """What defines a run, saved beside its checkpoints: the flags that shape it."""
    saved = {key: value for key, value in settings.items() if key not in PROCESS_FLAGS}
    saved["tensorflow_version"] = tf.__version__
    return saved


def import_tensorflow(verbose):
    global tf
    tf = tensorflow_setup.import_tensorflow(verbose)
    return tf


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def load_data(data_dir):
    """The four IDX files, checked; a note if they are not MNIST's own digits."""
    data = mnist_idx.load_mnist(data_dir)
    if not data.canonical:
        print(
            f"Note: the files in {data_dir} are not the canonical MNIST digits; "
            "training on them all the same."
        )
    return data


def batch_indices(seed, step, batch_size, num_examples):
    """Rows of the training set that make up the batch of `step`.

    Each epoch is a fresh permutation drawn from (seed, epoch) alone, so the batch of a
    step never depends on how many times the process was started. The last partial
    batch of an epoch is dropped, so every batch has exactly batch_size rows.
    """
    batches_per_epoch = num_examples // batch_size
    epoch, position = divmod(step, batches_per_epoch)
    order = _epoch_order(seed, epoch, num_examples)
    return order[position * batch_size : (position + 1) * batch_size]


_order_cache = {}


def _epoch_order(seed, epoch, num_examples):
    key = (seed, epoch, num_examples)
    if key not in _order_cache:
        _order_cache.clear()
        _order_cache[key] = np.random.default_rng([seed, epoch]).permutation(
            num_examples
        )
    return _order_cache[key]


def real_batch(images, seed, step, batch_size):
    """The float32 batch in [0, 1] that the tutorial fed at `step`."""
    rows = batch_indices(seed, step, batch_size, len(images))
    return images[rows].astype(np.float32) / 255


# --------------------------------------------------------------------------------------
# The graph, scope by scope
# --------------------------------------------------------------------------------------


def dense(inputs, units, scope, activation=None):
    """A fully connected layer with the tutorial's initial values."""
    with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
        kernel = tf.get_variable(
            "kernel",
            [inputs.shape[-1], units],
            initializer=tf.truncated_normal_initializer(stddev=1.0),
        )
        bias = tf.get_variable("bias", [units], initializer=tf.zeros_initializer())
        outputs = tf.matmul(inputs, kernel) + bias
        return activation(outputs) if activation else outputs


def noise(settings, count, stream):
    """Uniform noise in [-1, 1], a pure function of (seed, stream).

    `stream` is the training step for the noise of that step, so a resumed run draws
    exactly what an uninterrupted run would have drawn.
    """
    seed = tf.stack(
        [tf.constant(settings["seed"], tf.int64), tf.cast(stream, tf.int64)]
    )
    return tf.random.stateless_uniform(
        [count, settings["z_dim"]],
        seed=seed,
        minval=-1.0,
        maxval=1.0,
        alg="philox",  # named, so that every device draws the same numbers
        name="z",
    )


def generator(z, settings, scope="Generator"):
    with tf.name_scope(scope), tf.variable_scope(
        "Generator", reuse=tf.AUTO_REUSE, auxiliary_name_scope=False
    ):
        with tf.name_scope("Input_layer"):
            z = tf.identity(z, name="z")
        hidden = dense(z, settings["g_hidden"], "First_layer", tf.nn.relu)
        # Sigmoid keeps every generated pixel in [0, 1], the range of the real ones.
        return dense(hidden, IMAGE_PIXELS, "Output_layer", tf.nn.sigmoid)


def discriminator(real_images, fake_images, settings, scope="Discriminator"):
    """The logit that an image is fake, for the real batch stacked on the fake one
    (or for the fakes alone when real_images is None)."""
    with tf.name_scope(scope), tf.variable_scope(
        "Discriminator", reuse=tf.AUTO_REUSE, auxiliary_name_scope=False
    ):
        with tf.name_scope("Input_layer"):
            parts = [fake_images] if real_images is None else [real_images, fake_images]
            images = tf.concat(parts, axis=0, name="images")
        hidden = dense(images, settings["d_hidden"], "First_layer", tf.nn.relu)
        logits = dense(hidden, 1, "Output_layer")
        return tf.identity(logits, name="D_logit")


def halves(count):
    """The sizes of the two halves of count rows (one half when count is 1)."""
    return [size for size in (count - count // 2, count // 2) if size]


def fake_labels(batch_size):
    """0 for each real image, 1 for each fake one, in the stacking order above."""
    return tf.concat([tf.zeros([batch_size, 1]), tf.ones([batch_size, 1])], axis=0)


# --------------------------------------------------------------------------------------
# The losses
# --------------------------------------------------------------------------------------


def mean_cross_entropy(logits, targets, weights=None):
    """The mean of the (weighted) sigmoid cross-entropies of logits against targets.

    Its slope in each logit is written out, (sigmoid(logit) - target) * weight / count:
    three ops, where TensorFlow's own gradient of the cross-entropy takes about a
    dozen small ones, which the training loop would pay for at every step.
    """

    @tf.custom_gradient
    def mean(logits):
        cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=targets, logits=logits
        )
        if weights is not None:
            cross_entropy *= weights
        count = tf.cast(tf.size(logits), tf.float32)

        def slope(upstream):
            error = tf.nn.sigmoid(logits) - targets
            if weights is not None:
                error *= weights
            return error * (upstream / count)

        return tf.reduce_mean(cross_entropy), slope

    return mean(logits)


def discriminator_loss(logits, labels, label_smoothing):
    with tf.name_scope("D_Loss"):
        # One-sided label smoothing moves only the real images' target, from 0 to the
        # smoothing value; fakes keep their target of 1.
        targets = labels + (1.0 - labels) * label_smoothing
        return mean_cross_entropy(logits, targets)


def generator_loss(logits, labels):
    with tf.name_scope("G_loss"):
        # The generator wants its fakes called real (target 0). Multiplying by the
        # labels drops the real images' terms, which the generator cannot change.
        return mean_cross_entropy(logits, tf.zeros_like(logits), weights=labels)


def loss_summary(d_loss, g_loss, real_logits, fake_logits):
    """The scalars logged every summary_every steps: both losses, and the
    discriminator's mean belief that real images are real, and fakes too."""
    with tf.name_scope("D_output"):
        real_score = tf.reduce_mean(1.0 - tf.nn.sigmoid(real_logits), name="real")
        fake_score = tf.reduce_mean(1.0 - tf.nn.sigmoid(fake_logits), name="fake")
    # Graph op names are unique regardless of case, so tf.summary.scalar("G_loss")
    # would be tagged "G_loss_1" beside the G_loss scope; the raw ops take the tag as
    # given, keeping the tutorial's plain names.
    return tf.summary.merge(
        [
            tf.raw_ops.ScalarSummary(tags=tag, values=value, name=f"{tag}_summary")
            for tag, value in (
                ("D_loss", d_loss),
                ("G_loss", g_loss),
                ("D_of_real_images", real_score),
                ("D_of_fake_images", fake_score),
            )
        ]
    )


def all_weights_finite():
    return tf.reduce_all(
        [tf.reduce_all(tf.is_finite(variable)) for variable in tf.trainable_variables()]
    )


# --------------------------------------------------------------------------------------
# The whole graph: the tutorial's step, the fast training loop, summaries
# --------------------------------------------------------------------------------------


def build_graph(settings, num_examples):
    """Build every op of a run into the default graph and return them by name."""
    tf.set_random_seed(settings["seed"])
    batch_size = settings["batch_size"]
    graph = {}

    global_step = tf.train.get_or_create_global_step()
    real_images = tf.placeholder(tf.float32, [batch_size, IMAGE_PIXELS], "real_images")
    labels = fake_labels(batch_size)

    fake_images = generator(noise(settings, batch_size, global_step), settings)
    logits = discriminator(real_images, fake_images, settings)
    d_loss = discriminator_loss(logits, labels, settings["label_smoothing"])
    g_loss = generator_loss(logits, labels)
    d_variables = tf.trainable_variables("Discriminator")
    g_variables = tf.trainable_variables("Generator")

    with tf.name_scope("Train"):
        d_optimizer = tf.train.AdamOptimizer(settings["learning_rate"], name="D_Adam")
        g_optimizer = tf.train.AdamOptimizer(settings["learning_rate"], name="G_Adam")
        # The tutorial ran both updates in one session.run, leaving their order to
        # chance; here the generator always learns against the updated discriminator.
        graph["d_train"] = d_optimizer.minimize(d_loss, var_list=d_variables)
        graph["g_train"] = g_optimizer.minimize(
            g_loss, var_list=g_variables, global_step=global_step
        )
        graph.update(
            training_loop(settings, num_examples, d_optimizer, g_optimizer, global_step)
        )

    graph["loss_summary"] = loss_summary(
        d_loss, g_loss, logits[:batch_size], logits[batch_size:]
    )
    images_28x28 = tf.reshape(fake_images, [-1, 28, 28, 1])
    graph["image_summary"] = tf.raw_ops.ImageSummary(
        tag="Generated_images", tensor=images_28x28, max_images=8
    )
    graph["grid_picture"] = tf.placeholder(tf.uint8, [None, None], "grid_picture")
    graph["grid_summary"] = tf.raw_ops.ImageSummary(
        tag="Fixed_noise_grid",
        tensor=graph["grid_picture"][None, :, :, None],
        max_images=1,
    )

    with tf.name_scope("Evaluation"):
        # In two halves, which run side by side like the training loop's.
        eval_noise = noise(settings, settings["eval_samples"], -2)
        graph["eval_images"] = tf.concat(
            [
                generator(part, settings, scope="Generator")
                for part in tf.split(eval_noise, halves(settings["eval_samples"]))
            ],
            axis=0,
        )
        graph["eval_values"] = {
            tag: tf.placeholder(tf.float32, [], tag) for tag in EVALUATION_SCALARS
        }
        graph["eval_digits"] = tf.placeholder(tf.int32, [None], "predicted_digits")
    graph["eval_summary"] = tf.summary.merge(
        [
            tf.raw_ops.ScalarSummary(tags=f"Evaluation/{tag}", values=value)
            for tag, value in graph["eval_values"].items()
        ]
        + [
            tf.raw_ops.HistogramSummary(
                tag="Evaluation/predicted_digits", values=graph["eval_digits"]
            )
        ]
    )

    with tf.name_scope("Fixed_noise"):
        # Drawn from a stream no training step uses, so it is the same on every
        # start of the run and its grids can be compared frame by frame.
        graph["grid_images"] = generator(
            noise(settings, GRID_SIZE, -1), settings, scope="Generator"
        )

    graph["weights_finite"] = all_weights_finite()
    # The training images variable is local: it is fed at start-up, never saved.
    graph["saver"] = tf.train.Saver(max_to_keep=5, save_relative_paths=True)
    table = "".join(
        f"| {key} | {value} |\n" for key, value in run_settings(settings).items()
    )
    graph["settings_summary"] = tf.summary.text(
        "Settings", tf.constant("| setting | value |\n|---|---|\n" + table)
    )
    graph.update(
        global_step=global_step,
        real_images=real_images,
        d_loss=d_loss,
        g_loss=g_loss,
    )
    return graph


def training_loop(settings, num_examples, d_optimizer, g_optimizer, global_step):
    """Many training steps in one session.run, with the data already on the graph.

    Each step is the tutorial's step: the same batch rows, the same noise, the
    discriminator's update and then the generator's. Python only hands over which rows
    each step takes; the images live in a graph variable (fed once, not saved in
    checkpoints or written into the graph's definition).
    """
    batch_size = settings["batch_size"]
    with tf.name_scope("Steps"):
        all_images_feed = tf.placeholder(
            tf.uint8, [num_examples, IMAGE_PIXELS], "all_images"
        )
        all_images = tf.Variable(
            all_images_feed,
            trainable=False,
            collections=[tf.GraphKeys.LOCAL_VARIABLES],
            name="all_images",
        )
        # Always the same number of sets of batch rows, only the first `count` used:
        # one shape for every block.
        rows = tf.placeholder(tf.int32, [block_steps(settings), batch_size], "rows")
        count = tf.placeholder(tf.int64, [], "count")
        first_step = tf.identity(global_step)
        last_step = first_step + count
        half_sizes = halves(batch_size)
        smoothing = settings["label_smoothing"]

        def batch_mean(half_means):
            """The whole batch's mean loss from the mean losses of its halves."""
            return tf.add_n(
                [mean * size / batch_size for mean, size in zip(half_means, half_sizes)]
            )

        def real_images_in_halves(current):
            """The real images of step `current`, as the two halves of its batch."""
            index = tf.minimum(current - first_step, block_steps(settings) - 1)
            return [
                tf.cast(tf.gather(all_images, part), tf.float32) / 255.0
                for part in tf.split(rows[index], half_sizes)
            ]

        def noise_in_halves(current):
            return tf.split(noise(settings, batch_size, current), half_sizes)

        def step(current, real_halves, z_halves, first_logits, all_finite, *losses):
            # The batch goes through both networks in two halves: two independent
            # chains of matrix products, which TensorFlow runs side by side, one per
            # core. The losses and gradients are still the whole batch's.
            fake_halves, d_logits, d_losses = [], [], []
            for real_half, z_half in zip(real_halves, z_halves):
                fake_half = generator(z_half, settings)
                logits = discriminator(real_half, fake_half, settings)
                labels = fake_labels(fake_half.shape[0])
                d_losses.append(discriminator_loss(logits, labels, smoothing))
                fake_halves.append(fake_half)
                d_logits.append(logits)
            d_loss = batch_mean(d_losses)
            d_gradients = d_optimizer.compute_gradients(
                d_loss, var_list=tf.trainable_variables("Discriminator")
            )
            d_update = d_optimizer.apply_gradients(d_gradients)
            # The next step's inputs depend on nothing this step computes. Each
            # update ends with Adam on one large weight matrix, which keeps one core
            # busy and leaves the other free: the next images are gathered beside
            # the discriminator's update, the next noise drawn beside the generator's.
            with tf.control_dependencies([gradient for gradient, _ in d_gradients]):
                next_real_halves = real_images_in_halves(current + 1)

            # The generator learns against the updated discriminator, which only the
            # fakes need: the label mask zeroes the real rows of G_loss whatever their
            # logits, so they stand in as zeros and the real half is not recomputed.
            g_losses = []
            with tf.control_dependencies([d_update]):
                for fake_half in fake_halves:
                    fake_logits = discriminator(None, fake_half, settings)
                    real_rows = tf.zeros_like(fake_logits)
                    logits = tf.concat([real_rows, fake_logits], axis=0)
                    labels = fake_labels(fake_half.shape[0])
                    g_losses.append(generator_loss(logits, labels))
            g_loss = batch_mean(g_losses)
            g_gradients = g_optimizer.compute_gradients(
                g_loss, var_list=tf.trainable_variables("Generator")
            )
            g_update = g_optimizer.apply_gradients(g_gradients)
            with tf.control_dependencies([gradient for gradient, _ in g_gradients]):
                next_z_halves = noise_in_halves(current + 1)

            # The first step's logits are kept for the block's loss summary.
            is_first = tf.equal(current, first_step)
            first_logits = [
                tf.where(is_first, new, kept)
                for new, kept in zip(d_logits, first_logits)
            ]
            finite = tf.logical_and(tf.is_finite(d_loss), tf.is_finite(g_loss))
            # The next step's number waits for this step's last update, and so does
            # every op of the next step: TensorFlow runs a loop body's ops only once
            # the loop's condition, which reads that number, lets the step begin. So
            # the next step reads updated weights even while this one's last small
            # ops are still running.
            with tf.control_dependencies([g_update]):
                return (
                    current + 1,
                    next_real_halves,
                    next_z_halves,
                    first_logits,
                    finite,
                    tf.identity(d_loss),
                    tf.identity(g_loss),
                )

        def keep_going(current, real_halves, z_halves, first_logits, all_finite, *_):
            return tf.logical_and(current < last_step, all_finite)

        reached, _, _, first_logits, _, d_loss, g_loss = tf.while_loop(
            keep_going,
            step,
            [
                first_step,
                real_images_in_halves(first_step),
                noise_in_halves(first_step),
                [tf.zeros([2 * size, 1]) for size in half_sizes],
                tf.constant(True),
                tf.constant(0.0),
                tf.constant(0.0),
            ],
            # Two steps in flight: the next one starts as soon as its number is
            # known rather than after every op of this one, which measured 1.06x.
            parallel_iterations=2,
        )
        run_steps = tf.assign(global_step, reached)
        with tf.control_dependencies([run_steps]):
            weights_finite = all_weights_finite()

        # The loss summary of the block's first step, from the logits its
        # discriminator update saw: what the tutorial logged, with no extra run.
        first_labels = [fake_labels(size) for size in half_sizes]
        first_d_loss = batch_mean(
            [
                discriminator_loss(logits, labels, smoothing)
                for logits, labels in zip(first_logits, first_labels)
            ]
        )
        first_g_loss = batch_mean(
            [
                generator_loss(logits, labels)
                for logits, labels in zip(first_logits, first_labels)
            ]
        )
        # Each half's logits are those of its real images, then of its fakes.
        split_logits = [tf.split(logits, 2) for logits in first_logits]
        real_logits = tf.concat([real for real, _ in split_logits], axis=0)
        fake_logits = tf.concat([fake for _, fake in split_logits], axis=0)
    return {
        "all_images_feed": all_images_feed,
        "all_images": all_images,
        "rows": rows,
        "count": count,
        "run_steps": run_steps,
        "run_d_loss": d_loss,
        "run_g_loss": g_loss,
        "run_weights_finite": weights_finite,
        "run_first_d_loss": first_d_loss,
        "run_loss_summary": loss_summary(
            first_d_loss, first_g_loss, real_logits, fake_logits
        ),
    }


# --------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------


def block_steps(settings):
    """The most steps one session.run of the training loop takes."""
    return min(settings["steps_per_run"], settings["steps"])


def next_stop(step, settings):
    """The next step at which the loop must hand control back to Python."""
    stops = [settings["steps"], step + settings["steps_per_run"]]
    for key in ("summary_every", "image_every", "checkpoint_every", "eval_every"):
        if settings[key]:
            stops.append((step // settings[key] + 1) * settings[key])
    return min(stops)


def is_due(step, every):
    return every > 0 and step % every == 0


def duration(seconds):
    """Seconds as H:MM:SS, hours counting past a day."""
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


class Progress:
    """One updating line on a terminal; a plain line every 1,000 steps otherwise."""

    def __init__(self, first_step, last_step):
        self.first_step, self.last_step = first_step, last_step
        self.started = time.perf_counter()
        self.on_terminal = sys.stdout.isatty()
        self.printed_upto = first_step
        self.line_open = False

    def steps_per_second(self, step):
        return (step - self.first_step) / max(time.perf_counter() - self.started, 1e-9)

    def update(self, step, d_loss, g_loss):
        if not self.on_terminal and step // 1000 == self.printed_upto // 1000:
            return
        self.printed_upto = step
        rate = self.steps_per_second(step)
        left = (self.last_step - step) / rate if rate > 0 else 0
        line = (
            f"step {step}/{self.last_step}  D_loss {d_loss:.4f}  G_loss {g_loss:.4f}  "
            f"{rate:.0f} steps/s  {duration(left)} left"
        )
        if self.on_terminal:
            print(f"\r{line}\033[K", end="", flush=True)
            self.line_open = True
        else:
            print(line, flush=True)

    def say(self, message, file=None):
        """A line of its own, which the updating progress line does not overwrite."""
        self.close()
        print(message, file=file or sys.stdout, flush=True)

    def close(self):
        if self.line_open:
            print()
            self.line_open = False


class Run:
    """One run's session and everything it writes: summaries, grids, checkpoints."""

    def __init__(self, settings, graph, session, folders):
        self.settings, self.graph, self.session = settings, graph, session
        self.log_dir, self.checkpoint_dir = folders
        self.grid_dir = self.log_dir / "grids"
        self.writer = None
        self.evaluator = None
        self.finished = False  # the last grid and evaluation are written

    def save_checkpoint(self, step):
        with tensorflow_setup.native_errors_hidden():
            self.graph["saver"].save(
                self.session,
                str(self.checkpoint_dir / runs.CHECKPOINT_PREFIX),
                global_step=step,
                write_meta_graph=False,
            )

    def keep_step(self):
        """Checkpoint the step reached unless it is saved already or its weights are
        not finite; returns the step and whether they are finite."""
        step = int(self.session.run(self.graph["global_step"]))
        finite = self.session.run(self.graph["weights_finite"])
        latest = runs.latest_checkpoint(self.checkpoint_dir)
        if finite and not (latest and latest.endswith(f"-{step}")):
            self.save_checkpoint(step)
        return step, finite

    def write_losses(self, step, real_images):
        """The loss summaries of `step`, before its update; returns the D loss."""
        graph = self.graph
        summary, d_loss = self.session.run(
            [graph["loss_summary"], graph["d_loss"]],
            {graph["real_images"]: real_images},
        )
        self.writer.add_summary(summary, step)
        return d_loss

    def write_images(self, step, real_images):
        """The tutorial's 8 samples, and the fixed-noise grid as summary and PNG."""
        graph = self.graph
        summary, grid_images = self.session.run(
            [graph["image_summary"], graph["grid_images"]],
            {graph["real_images"]: real_images},
        )
        picture = image_export.grid(grid_images)
        self.writer.add_summary(summary, step)
        self.writer.add_summary(
            self.session.run(graph["grid_summary"], {graph["grid_picture"]: picture}),
            step,
        )
        self.grid_dir.mkdir(exist_ok=True)
        image_export.save_png(picture, self.grid_dir / f"step_{step:06d}.png")

    def write_gif(self):
        """Animate the grids; returns the lines to print about them at the end."""
        frames = sorted(self.grid_dir.glob("step_*.png"))
        try:
            image_export.save_gif(frames, self.grid_dir / "progress.gif")
        except (OSError, ValueError) as error:
            print(
                f"Warning: no progress.gif in {self.grid_dir}, as the grids cannot be "
                f"read or the GIF written ({error}); the PNG grids are kept.",
                file=sys.stderr,
            )
            return []
        return [f"The sample grids and progress.gif are in {self.grid_dir}"]

    def evaluate(self, step=None):
        """Judge eval_samples samples; log the figures at `step` if given."""
        graph = self.graph
        metrics = self.evaluator.evaluate(self.session.run(graph["eval_images"]))
        if step is not None:
            values = {
                "classifier_score": metrics.score,
                "frechet_distance": metrics.frechet_distance,
                "digits_covered": metrics.digits_covered,
                "largest_digit_share": max(metrics.digit_shares),
            }
            feed = {graph["eval_values"][tag]: value for tag, value in values.items()}
            counts = np.round(np.array(metrics.digit_shares) * metrics.num_samples)
            feed[graph["eval_digits"]] = np.repeat(np.arange(10), counts.astype(int))
            self.writer.add_summary(self.session.run(graph["eval_summary"], feed), step)
        return metrics


def open_run(settings, data, folders):
    """Build the graph, open a session and the evaluator; restore the latest checkpoint.

    Returns the Run and the step it stands at. A checkpoint that does not fit the
    graph is refused before anything is written.
    """
    with tensorflow_setup.native_notices_hidden(settings["verbose"]):
        graph = build_graph(settings, len(data.train_images))
        session = tf.Session(config=tensorflow_setup.session_config())
    run = Run(settings, graph, session, folders)
    checkpoint = runs.latest_checkpoint(run.checkpoint_dir)
    if checkpoint:
        using = "evaluate it" if settings["eval_only"] is not None else "resume"
        check_checkpoint_fits(checkpoint, using)
        # The saver keeps only the last few checkpoints it knows of; tell it about the
        # earlier processes' ones, so a resumed run does not pile them up.
        state = tf.train.get_checkpoint_state(str(run.checkpoint_dir))
        graph["saver"].recover_last_checkpoints(list(state.all_model_checkpoint_paths))
        try:
            with tensorflow_setup.native_errors_hidden():
                graph["saver"].restore(session, checkpoint)
        except tf.errors.OpError:
            raise runs.RunError(
                f"The checkpoint {checkpoint} is damaged (its data cannot be read); "
                "restore it, or start a new run."
            ) from None
    else:
        session.run(tf.global_variables_initializer())
    run.evaluator = evaluation.open_evaluator(
        Path(settings["checkpoint_dir"]) / CLASSIFIER_CACHE, data
    )
    return run, int(session.run(graph["global_step"]))


def train(settings, data, folders):
    """Train to settings['steps'], resuming where the run's checkpoint left off.

    Returns the process exit status: 0 when done, 128 + the signal when stopped by one,
    1 when the losses stopped being finite.
    """
    with tf.Graph().as_default():
        run, step = open_run(settings, data, folders)
        if step >= settings["steps"]:
            print(
                f"Run {settings['run_name']!r} has already reached step {step}; give a "
                "larger --steps to train it further."
            )
            return 0

        runs.save_settings(run.checkpoint_dir, run_settings(settings))
        with run.session, runs.StopSignals() as signals:
            run.writer = tf.summary.FileWriter(str(run.log_dir), run.session.graph)
            try:
                return training_steps(run, settings, data.train_images, step, signals)
            except BrokenPipeError:
                return output_closed_while_training(run, settings, data.train_images)
            except (OSError, tf.errors.OpError) as error:
                return write_failed_while_training(run, settings, error)
            finally:
                run.writer.close()
                run.evaluator.close()


def output_closed():
    """Send what is still printed to stdout nowhere, once its reader has gone."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def failure_reason(error):
    """What went wrong, in a few words: the system's words, or TensorFlow's."""
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror}{where}"
    text = getattr(error, "message", None) or str(error)
    # A graph's error wraps the kernel's message, "<file>; <what>", in a heading, the
    # place in the Python code where the op was made, and hints.
    for line in text.splitlines():
        if "; " in line and not line.startswith((" ", "\t")):
            where, what = line.rsplit("; ", 1)
            return f"{what} ({re.sub(r'[.]tempstate[0-9]+$', '', where)})"
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def write_failed_while_training(run, settings, error):
    """Keep what is whole when the run fails mid-way, mostly at a write (a full disk,
    a terminal gone): a checkpoint if one can still be saved, one sentence."""
    reason = failure_reason(error)
    try:
        output_closed()  # the output may be what failed; only stderr is used now
    except (OSError, ValueError):
        pass
    try:
        step, _ = run.keep_step()
    except (OSError, tf.errors.OpError):  # the disk is still full
        step = int(run.session.run(run.graph["global_step"]))
    latest = runs.latest_checkpoint(run.checkpoint_dir)
    if latest:
        after = (
            f"its last whole checkpoint is {Path(latest).name}; make room or fix that, "
            f"then resume with: {resume_command(settings)}"
        )
    else:
        after = (
            "no checkpoint was written; make room or fix that, then start the run "
            f"again after deleting {run.log_dir} and {run.checkpoint_dir}."
        )
    message = f"Error: the run stopped at step {step}: {reason}; {after}"
    try:
        print(message, file=sys.stderr, flush=True)
    except OSError:
        pass  # stderr went with the terminal
    return 1


def output_closed_while_training(run, settings, images):
    """Keep the run when its output pipe closes (`| head`): checkpoint, one sentence."""
    output_closed()
    step, finite = run.keep_step()
    if finite and step >= settings["steps"]:
        if not run.finished:
            final_outputs(run, settings, images, step)
        saved = "checkpoint, grids" if settings["image_every"] else "checkpoint"
        print(
            f"Error: the output was closed (a reader such as head ended) before the "
            f"run's last lines; it finished at step {step}, with its {saved} and "
            "figures saved.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Error: the output was closed (a reader such as head ended), so the run "
        f"stopped at step {step} with a checkpoint; resume with: "
        f"{resume_command(settings)}",
        file=sys.stderr,
    )
    return 1


def evaluate_only(settings, data, folders):
    """Print the figures of a run's latest checkpoint; write nothing."""
    with tf.Graph().as_default():
        run, step = open_run(settings, data, folders)
        with run.session:
            metrics = run.evaluate()
        run.evaluator.close()
    print(f"Run {settings['run_name']!r} at step {step}: {metrics.summary()}")
    warning = evaluation.CollapseWatch().check_samples(step, metrics)
    if warning:
        print(warning)
    return 0


def check_checkpoint_fits(checkpoint, using="resume"):
    """Refuse, in one sentence, a checkpoint whose variables differ from the graph's;
    `using` names what the fitting flags are for ("resume", "evaluate it")."""
    try:
        saved = dict(tf.train.list_variables(checkpoint))
    except Exception:  # TensorFlow raises several kinds for an unreadable bundle
        raise runs.RunError(
            f"The checkpoint {checkpoint} is damaged or missing (its index cannot be "
            "read); restore it, or start a new run."
        ) from None

    fitting_flags = " ".join(
        f"--{flag.replace('_', '-')} {value}"
        for flag, value in model_flags_of(saved).items()
    )
    advice = (
        f"{using} with {fitting_flags}"
        if fitting_flags
        else "it comes from another model, so start a new run instead"
    )
    for variable in tf.global_variables():
        name, shape = variable.op.name, variable.shape.as_list()
        if name not in saved:
            raise runs.RunError(
                f"The checkpoint {checkpoint} does not fit this model: it has no "
                f"variable {name}; {advice}."
            )
        if list(saved[name]) != shape:
            raise runs.RunError(
                f"The checkpoint {checkpoint} does not fit these flags: {name} is "
                f"{list(saved[name])} there but {shape} here; {advice}."
            )


def model_flags_of(saved_shapes):
    """The model-size flags that a checkpoint's variable shapes imply."""
    generator_kernel = saved_shapes.get("Generator/First_layer/kernel")
    discriminator_kernel = saved_shapes.get("Discriminator/First_layer/kernel")
    if generator_kernel is None or discriminator_kernel is None:
        return {}
    return {
        "z_dim": generator_kernel[0],
        "g_hidden": generator_kernel[1],
        "d_hidden": discriminator_kernel[1],
    }


def training_steps(run, settings, images, step, signals):
    """The loop proper: summaries and evaluations on their cadence, blocks of steps,
    checkpoints. Returns the exit status."""
    graph, session, writer = run.graph, run.session, run.writer
    seed, batch_size = settings["seed"], settings["batch_size"]
    # A START event at the resumed step tells TensorBoard to drop anything the earlier
    # process logged past its last checkpoint, so curves go on with no doubled steps.
    writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), step)
    writer.add_summary(session.run(graph["settings_summary"]), step)
    if not settings["plain_loop"]:
        session.run(graph["all_images"].initializer, {graph["all_images_feed"]: images})
        # A block of no steps: TensorFlow prepares what a session.run needs on its
        # first call (a few tenths of a second here), which is start-up, as
        # compiling is, rather than training time.
        log_losses = is_due(step, settings["summary_every"])
        fast_steps(run, settings, len(images), step, step, log_losses)

    print(f"Training from step {step} to {settings['steps']}.", flush=True)
    progress = Progress(step, settings["steps"])
    watch = evaluation.CollapseWatch()
    started = time.perf_counter()
    first_step = step
    while step < settings["steps"]:
        # Checked before each block, so that a stop asked for while the loop was
        # being prepared does not train a block first.
        if signals.received:
            run.save_checkpoint(step)
            writer.flush()
            progress.say(
                f"Stopped by {signals.received.name} at step {step} with a checkpoint; "
                f"resume with: {resume_command(settings)}"
            )
            return signals.exit_status
        if is_due(step, settings["image_every"]):
            run.write_images(step, real_batch(images, seed, step, batch_size))
        if is_due(step, settings["eval_every"]):
            warning = watch.check_samples(step, run.evaluate(step))
            if warning:
                progress.say(warning)

        stop = next_stop(step, settings)
        log_losses = is_due(step, settings["summary_every"])
        if settings["plain_loop"]:
            block = plain_steps(run, settings, images, step, stop, log_losses)
        else:
            block = fast_steps(run, settings, len(images), step, stop, log_losses)
        if log_losses:
            warning = watch.check_d_loss(step, block.first_d_loss)
            if warning:
                progress.say(warning)
        step, d_loss, g_loss = block.step, block.d_loss, block.g_loss
        # A finite loss can still come with an update that overflowed the weights, so
        # both are checked before anything is saved from this state.
        if not (math.isfinite(d_loss) and math.isfinite(g_loss) and block.finite):
            kept = runs.latest_checkpoint(run.checkpoint_dir)
            kept = (
                f"the last finite checkpoint, {Path(kept).name}, is kept"
                if kept
                else "no checkpoint was written"
            )
            progress.say(
                f"Error: the losses or weights stopped being finite at step {step - 1} "
                f"(D_loss {d_loss}, G_loss {g_loss}); lower --learning-rate and start "
                f"a new run ({kept}).",
                file=sys.stderr,
            )
            return 1

        if is_due(step, settings["checkpoint_every"]) or step == settings["steps"]:
            run.save_checkpoint(step)
        progress.update(step, d_loss, g_loss)

    progress.close()
    elapsed = time.perf_counter() - started
    closing = [
        f"Finished at step {step} in {elapsed:.1f} s of training "
        f"({(step - first_step) / max(elapsed, 1e-9):.1f} steps/s)."
    ]
    metrics, lines = final_outputs(run, settings, images, step)
    closing += lines + [f"Samples at step {step}: {metrics.summary()}"]
    warning = watch.check_samples(step, metrics)
    if warning:
        closing.append(warning)
    print("\n".join(closing), flush=True)
    return 0


def final_outputs(run, settings, images, step):
    """The last grid, the GIF and the last evaluation, written before the closing lines
    are printed, so that a reader that ends early (`| head`) cannot cut them short.

    Returns the metrics and the lines to print about the grids.
    """
    lines = []
    if settings["image_every"]:
        batch = real_batch(images, settings["seed"], step, settings["batch_size"])
        run.write_images(step, batch)
        lines = run.write_gif()
    metrics = run.evaluate(step)
    run.finished = True
    return metrics, lines


def resume_command(settings):
    """The command line that continues this run, its folders included.

    The script is named as it was started, so the command works from the same folder
    (the default folders are relative to it too).
    """
    words = ["python", shlex.quote(sys.argv[0]), "--resume", settings["run_name"]]
    for key in ("logdir", "checkpoint_dir", "data_dir"):
        if settings[key] != DEFAULTS[key]:
            words += ["--" + key.replace("_", "-"), shlex.quote(settings[key])]
    return " ".join(words)


class Block(NamedTuple):
    """What a block of training steps ends with."""

    step: int  # the step reached
    d_loss: float  # the losses of its last step
    g_loss: float
    finite: bool  # whether every weight is still finite
    first_d_loss: float | None  # D_loss of its first step, None if not logged


def fast_steps(run, settings, num_examples, step, stop, log_losses):
    """Steps step..stop-1 in one session.run of the in-graph training loop, which
    also logs the first step's losses when log_losses is true (and there is one)."""
    graph = run.graph
    rows = np.zeros(graph["rows"].shape, np.int32)
    for index, current in enumerate(range(step, stop)):
        rows[index] = batch_indices(
            settings["seed"], current, settings["batch_size"], num_examples
        )
    fetches = {
        key: graph[f"run_{key}"]
        for key in ("steps", "d_loss", "g_loss", "weights_finite")
        + (("loss_summary", "first_d_loss") if log_losses else ())
    }
    results = run.session.run(
        fetches, {graph["rows"]: rows, graph["count"]: stop - step}
    )
    if log_losses and stop > step:
        run.writer.add_summary(results["loss_summary"], step)
    return Block(
        results["steps"],
        results["d_loss"],
        results["g_loss"],
        results["weights_finite"],
        results.get("first_d_loss"),
    )


def plain_steps(run, settings, images, step, stop, log_losses):
    """The tutorial's way: feed each batch from Python, one step at a time."""
    graph, session = run.graph, run.session
    seed, batch_size = settings["seed"], settings["batch_size"]
    first_d_loss = None
    if log_losses:
        first_d_loss = run.write_losses(
            step, real_batch(images, seed, step, batch_size)
        )
    d_loss = g_loss = float("nan")
    for current in range(step, stop):
        feed = {graph["real_images"]: real_batch(images, seed, current, batch_size)}
        _, d_loss = session.run([graph["d_train"], graph["d_loss"]], feed)
        # G_loss as the generator's update sees it, against the updated
        # discriminator, as the fast loop reports it.
        _, g_loss = session.run([graph["g_train"], graph["g_loss"]], feed)
        if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
            stop = current + 1
            break
    finite = session.run(graph["weights_finite"])
    return Block(stop, d_loss, g_loss, finite, first_d_loss)


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def closed_stream():
    """One sentence when the process started with stdout or stderr closed (`>&-`).

    Python then holds None for the stream, and the next file the run opened would take
    its number: what is printed there, TensorFlow's own messages too, would land in it.
    """
    for stream, name, redirect in (
        (sys.stdout, "standard output", ">/dev/null"),
        (sys.stderr, "standard error", "2>/dev/null"),
    ):
        if stream is None:
            return (
                f"Error: the {name} is closed; give it a file to run without it, "
                f"such as {redirect}."
            )
    return None


def main(argv=None):
    problem = closed_stream()
    if problem:
        print(problem, file=sys.stderr or sys.stdout)
        return 2
    settings = parse_settings(argv)
    # Until training takes the stop signals over, Ctrl-C or a plain kill ends the
    # start-up through one clean-up, which a second signal does not cut short.
    with runs.start_up_stops():
        return start(settings)


def start(settings):
    """Train, resume or evaluate as the settings ask; returns the exit status."""
    evaluating = settings["eval_only"] is not None
    unwritten = "nothing was written" if evaluating else "no checkpoint was written"
    try:
        data = load_data(settings["data_dir"])
        if settings["batch_size"] > len(data.train_images):
            raise mnist_idx.DataError(
                f"--batch-size {settings['batch_size']} is larger than the "
                f"{len(data.train_images)} training images in {settings['data_dir']}; "
                "give a smaller --batch-size."
            )
        log_dir = Path(settings["logdir"]).resolve() / settings["run_name"]
        checkpoint_dir = (
            Path(settings["checkpoint_dir"]).resolve() / settings["run_name"]
        )
        folders = (log_dir, checkpoint_dir)
        if settings["eval_only"] is not None:
            runs.find_checkpoint(checkpoint_dir)
            import_tensorflow(settings["verbose"])
            return evaluate_only(settings, data, folders)

        new_run = settings["resume"] is None
        runs.prepare_run_folders(log_dir, checkpoint_dir, resume=not new_run)
        try:
            with runs.run_lock(checkpoint_dir):
                import_tensorflow(settings["verbose"])
                print(f"Run {settings['run_name']!r}: summaries in {log_dir}")
                print(f"Checkpoints and settings in {checkpoint_dir}")
                print(
                    f"Watch it with: tensorboard --logdir {log_dir.parent}", flush=True
                )
                return train(settings, data, folders)
        except BaseException:
            # A new run that ends before training leaves no folders holding its name.
            if new_run:
                runs.remove_unstarted_run(log_dir, checkpoint_dir)
            raise
    except (mnist_idx.DataError, runs.RunError, evaluation.EvaluationError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        number = getattr(interrupt, "number", signal.SIGINT)
        how = "Interrupted" if number == signal.SIGINT else f"Stopped by {number.name}"
        when = "" if evaluating else " before training began"
        print(f"{how}{when}; {unwritten}.", file=sys.stderr)
        return 128 + number
    except BrokenPipeError:
        output_closed()
        when = "the figures were printed" if evaluating else "training began"
        print(
            f"Error: the output was closed before {when} (a reader such as head "
            f"ended); {unwritten}.",
            file=sys.stderr,
        )
        return 1
    except OSError as error:  # a full disk, or an output that cannot be written
        reason = failure_reason(error)
        try:
            output_closed()
        except (OSError, ValueError):
            pass
        print(
            f"Error: the run could not start: {reason}; {unwritten}.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    # Outside main()'s own handling of them, stop signals are ignored, so that a late
    # Ctrl-C cannot turn a finished or stopped run into a traceback at exit.
    for number in runs.STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    sys.exit(main())
