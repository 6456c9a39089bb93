"""Judge generated MNIST digits with a small classifier that the project trains itself.

A convolutional network trained on the shipped MNIST training set reads each sample and
gives two things: the probability of each digit, and 64 features from its last hidden
layer. From them come the figures of an evaluation:

- the classifier score, exp(mean KL(p(y|x) || p(y))): the Inception score's formula with
  this classifier; 10 is the most ten digits allow, 1 means all samples look alike;
- the Frechet distance between the features of the samples and those of the 10,000 real
  test images (0 for identical distributions);
- the share of samples classified as each digit, and how many digits are covered;
- the classifier's mean confidence, low when the samples are not digits at all.

The trained weights ship in data/classifier/ with their SHA-256 below. The classifier
lives in its own graph and session, so it can sit beside a GAN's graph in one process.

    python evaluation.py              # reference figures of real images, and timing
    python evaluation.py --retrain    # retrain the shipped weights, print the checksum
"""

import argparse
import hashlib
import io
import math
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

import mnist_idx
import runs
import tensorflow_setup

tf = None  # tensorflow.compat.v1, imported on first use so that --help stays quick

CLASSIFIER_DIR = Path(__file__).resolve().parent / "data" / "classifier"
CLASSIFIER_FILE = CLASSIFIER_DIR / "mnist_classifier.npz"
CLASSIFIER_SHA256 = "ba08963cb34fddaa7329dea7aaf4534bf29935b55638bfcf83ff933829b0e1a4"
DEFAULT_CACHE_DIR = Path("tmp") / ".classifier"  # as gan_mnist.py uses it

# The network. The sizes are the cheapest we measured that still pass 99% on the test
# set: classifying is the cost that every evaluation of a training run pays again.
SIDE = 28
PIXELS = SIDE * SIDE
DIGITS = 10
FIRST_KERNEL = 5
FIRST_CHANNELS = 8
SECOND_KERNEL = 3
SECOND_CHANNELS = 32
FEATURES = 64
WEIGHT_SHAPES = {
    "first_kernel": (FIRST_KERNEL, FIRST_KERNEL, 1, FIRST_CHANNELS),
    "first_bias": (FIRST_CHANNELS,),
    "second_kernel": (SECOND_KERNEL, SECOND_KERNEL, FIRST_CHANNELS, SECOND_CHANNELS),
    "second_bias": (SECOND_CHANNELS,),
    "features_weights": ((SIDE // 4) ** 2 * SECOND_CHANNELS, FEATURES),
    "features_bias": (FEATURES,),
    "logits_weights": (FEATURES, DIGITS),
    "logits_bias": (DIGITS,),
}

# Training.
TRAINING_SEED = 1
TRAINING_EPOCHS = 20
BATCH_SIZE = 100
LEARNING_RATE = 0.002
# Training images move by up to 2 pixels each way, as generated digits are not always
# centred as MNIST's are; it also gained 0.2 points of test accuracy when we tried it.
MAX_SHIFT = 2

# Images per session.run when classifying: of the sizes from 250 to 10,000 that we
# timed, 1,000 and 2,000 were the fastest.
CLASSIFY_BATCH = 1000

# A digit is covered when at least 1% of the samples are classified as it (a tenth of
# its fair share of 10%), so that a few stray samples do not count as covering it.
COVERED_SHARE = 0.01
# The samples have collapsed when one digit takes more than half of them, or when fewer
# than 5 of the 10 digits are covered.
COLLAPSED_SHARE = 0.5
MIN_DIGITS_COVERED = 5
# Below this mean probability of the most probable digit, a collapse warning adds that
# the samples may not be digits at all: real test digits give 0.99, the speckled
# samples of the tutorial's first thousands of steps 0.65-0.77, uniform noise 0.61.
UNSURE_CONFIDENCE = 0.9
# The discriminator has won outright when its loss stays below 0.01 at every loss
# summary for 1,000 steps or more: the generator then gets almost no gradient.
D_LOSS_FLOOR = 0.01
D_LOSS_PATIENCE_STEPS = 1000


class EvaluationError(Exception):
    """Evaluation cannot go on; the message is one sentence for the user."""


def import_tensorflow(verbose=False):
    global tf
    if tf is None:
        tf = tensorflow_setup.import_tensorflow(verbose)
    return tf


def new_session(graph):
    """A session for graph, without the notices TensorFlow prints at its first one."""
    with tensorflow_setup.native_notices_hidden():
        return tf.Session(graph=graph)


def as_pixels(images):
    """Images as float32 [n, 784] in [0, 1]; uint8 images are scaled from 0-255."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255
    return images.astype(np.float32, copy=False).reshape(-1, PIXELS)


# --------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------


def column_placement(kernel_size, stride):
    """A 0/1 array [kernel column, input column, output column] for SAME padding.

    Entry (k, i, o) is 1 when column k of the kernel, centred on output column o, reads
    input column i; TensorFlow pads the odd extra column on the right, and so do we.
    """
    output_columns = -(-SIDE // stride)
    padding = max((output_columns - 1) * stride + kernel_size - SIDE, 0) // 2
    placement = np.zeros([kernel_size, SIDE, output_columns], np.float32)
    for offset in range(kernel_size):
        for column in range(output_columns):
            source = column * stride + offset - padding
            if 0 <= source < SIDE:
                placement[offset, source, column] = 1
    return placement


def first_layer_by_rows(images, kernel, bias, stride):
    """relu(conv2d(images, kernel, stride, "SAME") + bias) for one-channel images.

    TensorFlow's CPU convolution is slow when the input has a single channel: done
    directly, this first layer took two thirds of the time of the whole network. Here
    the kernel becomes a banded matrix that places a row of it at every output column,
    and each output row is one matrix product of the image rows it covers, gathered
    side by side. That costs more arithmetic but runs several times faster.
    """
    kernel_size, _, _, channels = (int(size) for size in kernel.shape)
    placement = column_placement(kernel_size, stride)
    output_columns = placement.shape[-1]

    banded = tf.einsum("rkc,kio->rioc", kernel[:, :, 0, :], placement)
    banded = tf.reshape(banded, [kernel_size * SIDE, output_columns * channels])
    # SAME padding, the odd extra row at the bottom, as TensorFlow pads.
    padding = max((output_columns - 1) * stride + kernel_size - SIDE, 0)
    rows = tf.pad(
        tf.reshape(images, [-1, SIDE, SIDE]),
        [[0, 0], [padding // 2, padding - padding // 2], [0, 0]],
    )
    covered = np.arange(output_columns)[:, None] * stride + np.arange(kernel_size)
    patches = tf.reshape(tf.gather(rows, covered, axis=1), [-1, kernel_size * SIDE])
    outputs = tf.matmul(patches, banded)
    outputs = tf.nn.relu(tf.nn.bias_add(outputs, tf.tile(bias, [output_columns])))
    return tf.reshape(outputs, [-1, output_columns, output_columns, channels])


def network(images, weights):
    """Features [n, 64] and logits [n, 10] of images [n, 784], given weight tensors."""
    with tf.name_scope("First_layer"):
        hidden = first_layer_by_rows(
            images, weights["first_kernel"], weights["first_bias"], stride=2
        )

    with tf.name_scope("Second_layer"):
        hidden = tf.nn.conv2d(hidden, weights["second_kernel"], 2, "SAME")
        hidden = tf.nn.relu(tf.nn.bias_add(hidden, weights["second_bias"]))

    with tf.name_scope("Features"):
        hidden = tf.reshape(hidden, [-1, WEIGHT_SHAPES["features_weights"][0]])
        features = tf.matmul(hidden, weights["features_weights"])
        features = tf.nn.relu(tf.nn.bias_add(features, weights["features_bias"]))

    with tf.name_scope("Logits"):
        logits = tf.matmul(features, weights["logits_weights"])
        logits = tf.nn.bias_add(logits, weights["logits_bias"])
    return features, logits


class Classifier:
    """The trained network in a graph and session of its own."""

    def __init__(self, weights, source):
        import_tensorflow()
        self.source = source
        self.graph = tf.Graph()
        with self.graph.as_default(), tf.name_scope("Classifier"):
            self._images = tf.placeholder(tf.float32, [None, PIXELS], name="images")
            constants = {
                name: tf.constant(value, name=name) for name, value in weights.items()
            }
            # Two halves of each batch, two independent chains of ops: they run side
            # by side even where the process allows one thread per op, as the
            # training loop does.
            middle = tf.shape(self._images)[0] // 2
            halves = [self._images[:middle], self._images[middle:]]
            features, logits = zip(*(network(half, constants) for half in halves))
            self._features = tf.concat(features, axis=0)
            self._probabilities = tf.nn.softmax(
                tf.concat(logits, axis=0), name="probabilities"
            )
        self.graph.finalize()
        self.session = new_session(self.graph)

    def classify(self, images):
        """Features float32 [n, 64] and digit probabilities float32 [n, 10]."""
        images = as_pixels(images)
        features, probabilities = [], []
        for start in range(0, len(images), CLASSIFY_BATCH):
            batch = images[start : start + CLASSIFY_BATCH]
            results = self.session.run(
                [self._features, self._probabilities], {self._images: batch}
            )
            features.append(results[0])
            probabilities.append(results[1])
        return np.concatenate(features), np.concatenate(probabilities)

    def accuracy(self, images, labels):
        """The share of images whose most probable digit is their label."""
        _, probabilities = self.classify(images)
        return float(np.mean(probabilities.argmax(axis=1) == np.asarray(labels)))

    def close(self):
        self.session.close()


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


def shifted(images, rng):
    """Each image [n, 784] moved up to MAX_SHIFT pixels each way, zeros filling in."""
    count = len(images)
    padded = np.pad(
        images.reshape(count, SIDE, SIDE), [(0, 0)] + [(MAX_SHIFT,) * 2] * 2
    )
    down = rng.integers(0, 2 * MAX_SHIFT + 1, count)[:, None, None]
    right = rng.integers(0, 2 * MAX_SHIFT + 1, count)[:, None, None]
    rows = down + np.arange(SIDE)[None, :, None]
    columns = right + np.arange(SIDE)[None, None, :]
    return padded[np.arange(count)[:, None, None], rows, columns].reshape(count, PIXELS)


def train_classifier(
    mnist, seed=TRAINING_SEED, epochs=TRAINING_EPOCHS, train_size=None, report=None
):
    """Train the network on mnist's training set; return its weights as numpy arrays.

    The same seed gives the same weights: the graph's initial values come from the seed,
    and so do the order of the images and their shifts. train_size keeps only the first
    images, for quick trainings.
    """
    import_tensorflow()
    images = as_pixels(mnist.train_images[:train_size])
    labels = mnist.train_labels[:train_size].astype(np.int64)
    steps_per_epoch = len(images) // BATCH_SIZE
    total_steps = epochs * steps_per_epoch

    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        weights = {
            name: tf.get_variable(
                name,
                shape,
                initializer=(
                    tf.glorot_uniform_initializer()
                    if len(shape) > 1
                    else tf.zeros_initializer()
                ),
            )
            for name, shape in WEIGHT_SHAPES.items()
        }
        image_batch = tf.placeholder(tf.float32, [None, PIXELS], name="images")
        label_batch = tf.placeholder(tf.int64, [None], name="labels")
        learning_rate = tf.placeholder(tf.float32, [], name="learning_rate")
        _, logits = network(image_batch, weights)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=label_batch, logits=logits
            )
        )
        train = tf.train.AdamOptimizer(learning_rate).minimize(loss)
        initialize = tf.global_variables_initializer()

    rng = np.random.default_rng(seed)
    with new_session(graph) as session:
        session.run(initialize)
        step = 0
        for epoch in range(epochs):
            order = rng.permutation(len(images))
            for position in range(steps_per_epoch):
                rows = order[position * BATCH_SIZE : (position + 1) * BATCH_SIZE]
                # A learning rate that falls to zero along a cosine lets the last epochs
                # settle instead of jumping around the minimum.
                rate = (
                    LEARNING_RATE * 0.5 * (1 + math.cos(math.pi * step / total_steps))
                )
                feed = {
                    image_batch: shifted(images[rows], rng),
                    label_batch: labels[rows],
                    learning_rate: rate,
                }
                session.run(train, feed)
                step += 1
            if report:
                report(f"Epoch {epoch + 1} of {epochs} done.")
        return session.run(weights)


# --------------------------------------------------------------------------------------
# The weights file and its checksum
# --------------------------------------------------------------------------------------


def weights_file_bytes(weights):
    """An .npz archive of the weights whose bytes depend on the weights alone.

    numpy's savez stamps each entry with the current time, which would change the
    checksum of identical weights; here every entry carries the same fixed date.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(weights):
            array = io.BytesIO()
            np.lib.format.write_array(
                array, np.ascontiguousarray(weights[name], np.float32)
            )
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, array.getvalue())
    return buffer.getvalue()


def save_weights(weights, path):
    """Write the weights to path and return the file's SHA-256."""
    path = Path(path)
    content = weights_file_bytes(weights)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        runs.write_atomically(path, lambda file: file.write(content), binary=True)
    except OSError as error:
        raise EvaluationError(
            f"The classifier cannot be saved to {path} ({error.strerror}); choose a "
            "writable folder for it."
        ) from None
    return hashlib.sha256(content).hexdigest()


def cache_weights(weights, path):
    """Save retrained weights with their checksum beside them, to know them intact."""
    checksum = save_weights(weights, path)
    save_text = f"{checksum}  {path.name}\n".encode()
    try:
        runs.write_atomically(
            checksum_path(path), lambda file: file.write(save_text), binary=True
        )
    except OSError as error:
        raise EvaluationError(
            f"The classifier's checksum cannot be saved beside {path} "
            f"({error.strerror}); choose a writable folder for it."
        ) from None


def checksum_path(path):
    return path.with_name(path.name + ".sha256")


def recorded_checksum(path):
    """The checksum saved beside a retrained file, or None if there is none."""
    try:
        return checksum_path(path).read_text().split()[0]
    except (OSError, IndexError):
        return None


def read_weights(path, expected_sha256):
    """(weights, None) if path holds intact weights, else (None, what is wrong)."""
    try:
        content = Path(path).read_bytes()
    except FileNotFoundError:
        return None, "is missing"
    except OSError as error:
        return None, f"cannot be read ({error.strerror})"
    if hashlib.sha256(content).hexdigest() != expected_sha256:
        return None, "does not match its SHA-256 checksum"

    try:
        with np.load(io.BytesIO(content)) as archive:
            weights = {name: archive[name] for name in WEIGHT_SHAPES}
    except (KeyError, ValueError, OSError, zipfile.BadZipFile):
        return None, "does not hold this network's weights"
    if any(weights[name].shape != shape for name, shape in WEIGHT_SHAPES.items()):
        return None, "holds weights of another shape than this network's"
    return weights, None


def load_classifier(
    cache_dir=DEFAULT_CACHE_DIR,
    shipped_file=CLASSIFIER_FILE,
    shipped_sha256=CLASSIFIER_SHA256,
    epochs=TRAINING_EPOCHS,
    train_size=None,
    report=print,
):
    """The shipped classifier, or if it is missing or damaged, one retrained and cached.

    A retrained classifier is saved in cache_dir with its checksum and reused while
    intact. report receives the one line that says the shipped file was not used.
    """
    weights, problem = read_weights(shipped_file, shipped_sha256)
    if weights is not None:
        return Classifier(weights, shipped_file)

    cached_file = Path(cache_dir) / CLASSIFIER_FILE.name
    weights, _ = read_weights(cached_file, recorded_checksum(cached_file))
    if weights is not None:
        report(
            f"Note: the shipped classifier {shipped_file} {problem}; using the one "
            f"retrained in {cached_file}."
        )
        return Classifier(weights, cached_file)

    check_writable(Path(cache_dir))
    report(
        f"Note: the shipped classifier {shipped_file} {problem}; training a new one "
        f"into {cached_file}, which takes a few minutes."
    )
    weights = train_classifier(
        mnist_idx.load_mnist(), epochs=epochs, train_size=train_size
    )
    cache_weights(weights, cached_file)
    return Classifier(weights, cached_file)


def check_writable(folder):
    """Raise EvaluationError if folder cannot be written: now, not after training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise EvaluationError(
            f"The classifier cache folder {folder} cannot be written "
            f"({error.strerror}); make it writable or choose another folder."
        ) from None


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


class Metrics(NamedTuple):
    score: float  # exp(mean KL(p(y|x) || p(y))), from 1 to 10
    frechet_distance: float  # to the features of the real test images
    digit_shares: tuple  # share of samples classified as each digit 0-9
    digits_covered: int  # digits with at least COVERED_SHARE of the samples
    num_samples: int
    mean_confidence: float  # mean probability of each sample's most probable digit

    @property
    def most_common_digit(self):
        return int(np.argmax(self.digit_shares))

    def summary(self):
        """The figures as one line, with the number of samples they come from."""
        digit = self.most_common_digit
        return (
            f"classifier score {self.score:.2f}, Frechet distance "
            f"{self.frechet_distance:.2f}, {self.digits_covered} of 10 digits covered, "
            f"most common {digit} ({self.digit_shares[digit]:.0%}) "
            f"[N={self.num_samples:,}]"
        )


def classifier_score(probabilities):
    """exp of the mean KL divergence between each p(y|x) and their mean p(y)."""
    probabilities = np.asarray(probabilities, np.float64)
    # A tiny floor keeps log(0) out; it changes no figure at the printed precision.
    log_probabilities = np.log(np.maximum(probabilities, 1e-12))
    log_marginal = np.log(np.maximum(probabilities.mean(axis=0), 1e-12))
    divergences = np.sum(probabilities * (log_probabilities - log_marginal), axis=1)
    return float(np.exp(divergences.mean()))


def feature_statistics(features):
    """Mean and covariance of features [n, d], in float64."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def symmetric_square_root(matrix):
    """The square root of a symmetric positive semi-definite matrix.

    Rounding leaves eigenvalues of about -1e-12 where the true ones are 0; they are
    clipped to 0 before the root is taken.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    roots = np.sqrt(np.clip(eigenvalues, 0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def frechet_distance(mean, covariance, reference_mean, reference_covariance_root):
    """The Frechet distance between a Gaussian and a reference one, whose covariance
    is given by its square root R.

    trace(sqrt(C R R)) is the sum of the square roots of the eigenvalues of R C R,
    which is symmetric, so no general matrix square root is needed.
    """
    difference = mean - reference_mean
    product = reference_covariance_root @ covariance @ reference_covariance_root
    eigenvalues = np.clip(np.linalg.eigvalsh((product + product.T) / 2), 0, None)
    reference_trace = np.sum(reference_covariance_root**2)
    distance = (
        difference @ difference
        + np.trace(covariance)
        + reference_trace
        - 2 * np.sum(np.sqrt(eigenvalues))
    )
    # The distance is never negative; rounding can take identical sets to -1e-12.
    return float(max(distance, 0.0))


def digit_shares(probabilities):
    """The share of samples whose most probable digit is each of 0-9."""
    predictions = np.asarray(probabilities).argmax(axis=1)
    counts = np.bincount(predictions, minlength=DIGITS)
    return tuple(float(share) for share in counts / len(predictions))


class Evaluator:
    """Metrics of image batches, against the real test images' features kept once."""

    def __init__(self, classifier, real_images):
        self.classifier = classifier
        features, _ = classifier.classify(real_images)
        self.real_mean, covariance = feature_statistics(features)
        self.real_covariance_root = symmetric_square_root(covariance)
        self.num_real = len(features)

    def evaluate(self, images):
        """Metrics of images [n, 784] in [0, 1] (uint8 0-255 is accepted too)."""
        if len(images) < 2:
            raise EvaluationError(
                f"An evaluation needs at least 2 samples to measure their spread, but "
                f"got {len(images)}; ask for more samples."
            )
        features, probabilities = self.classifier.classify(images)
        mean, covariance = feature_statistics(features)
        shares = digit_shares(probabilities)
        return Metrics(
            score=classifier_score(probabilities),
            frechet_distance=frechet_distance(
                mean, covariance, self.real_mean, self.real_covariance_root
            ),
            digit_shares=shares,
            digits_covered=sum(share >= COVERED_SHARE for share in shares),
            num_samples=len(features),
            mean_confidence=float(probabilities.max(axis=1).mean()),
        )

    def close(self):
        self.classifier.close()


def open_evaluator(cache_dir=DEFAULT_CACHE_DIR, mnist=None, report=print):
    """An Evaluator with the shipped (or retrained) classifier and MNIST's test images.

    The reference is always the shipped MNIST test set, whatever data a GAN trains on,
    since the classifier knows only MNIST's digits.
    """
    if mnist is None or not mnist.canonical:
        mnist = mnist_idx.load_mnist()
    return Evaluator(load_classifier(cache_dir, report=report), mnist.test_images)


# --------------------------------------------------------------------------------------
# Reference figures of real images
# --------------------------------------------------------------------------------------


class ReferenceFigures(NamedTuple):
    test_accuracy: float  # of the classifier, on all 10,000 test images
    test_metrics: Metrics  # the real test images against themselves
    train_metrics: Metrics  # the first 10,000 training images against the test set


def reference_figures(evaluator, mnist, train_samples=10000):
    """What real digits score, as a yardstick for generated ones."""
    return ReferenceFigures(
        test_accuracy=evaluator.classifier.accuracy(
            mnist.test_images, mnist.test_labels
        ),
        test_metrics=evaluator.evaluate(mnist.test_images),
        train_metrics=evaluator.evaluate(mnist.train_images[:train_samples]),
    )


# --------------------------------------------------------------------------------------
# Warnings of collapse
# --------------------------------------------------------------------------------------


class CollapseWatch:
    """Warn when the samples collapse or the discriminator wins outright.

    The training loop passes every evaluation to check_samples and every loss summary to
    check_d_loss. Each returns a warning line when its condition begins and None
    otherwise; a condition that ends and later begins again is warned about again.
    """

    def __init__(self):
        self._collapsed_since = None
        self._low_d_loss_since = None
        self._low_d_loss_warned = False

    def check_samples(self, step, metrics):
        digit = metrics.most_common_digit
        share = metrics.digit_shares[digit]
        collapsed = (
            share > COLLAPSED_SHARE or metrics.digits_covered < MIN_DIGITS_COVERED
        )
        if not collapsed:
            self._collapsed_since = None
            return None
        if self._collapsed_since is not None:
            return None
        self._collapsed_since = step
        warning = (
            f"Warning: the samples at step {step} have collapsed: {share:.0%} of "
            f"them are classified as {digit} ({metrics.digits_covered} of 10 digits "
            "covered)"
        )
        if metrics.mean_confidence < UNSURE_CONFIDENCE:
            warning += (
                ", but the classifier is unsure of them (mean top probability "
                f"{metrics.mean_confidence:.2f}), so they may not look like digits yet"
            )
        return warning + "."

    def check_d_loss(self, step, d_loss):
        # Written so that a NaN loss counts as not low: it is another failure.
        if not d_loss < D_LOSS_FLOOR:
            self._low_d_loss_since = None
            self._low_d_loss_warned = False
            return None
        if self._low_d_loss_since is None:
            self._low_d_loss_since = step
        lasted = step - self._low_d_loss_since
        if self._low_d_loss_warned or lasted < D_LOSS_PATIENCE_STEPS:
            return None
        self._low_d_loss_warned = True
        return (
            f"Warning: the discriminator's loss has stayed below {D_LOSS_FLOOR} since "
            f"step {self._low_d_loss_since} ({d_loss:.2g} at step {step}): it tells "
            "every fake apart, so the generator gets almost no gradient."
        )


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_flags(argv):
    parser = argparse.ArgumentParser(
        description="Print what real MNIST images score, or retrain the classifier."
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help=f"train the classifier again, rewrite {CLASSIFIER_FILE.name} and print "
        "its SHA-256 (default: off)",
    )
    parser.add_argument(
        "--cache-dir",
        default=str(DEFAULT_CACHE_DIR),
        help="folder for a classifier retrained because the shipped one is missing or "
        f"damaged (default: {DEFAULT_CACHE_DIR})",
    )
    return parser.parse_args(argv)


def retrain(mnist):
    """Train the shipped classifier again and print what to paste into this file."""
    started = time.perf_counter()
    weights = train_classifier(mnist, report=print)
    minutes = (time.perf_counter() - started) / 60
    checksum = save_weights(weights, CLASSIFIER_FILE)
    classifier = Classifier(weights, CLASSIFIER_FILE)
    accuracy = classifier.accuracy(mnist.test_images, mnist.test_labels)
    print(f"Trained in {minutes:.1f} minutes; test accuracy {accuracy:.2%}.")
    print(f"Wrote {CLASSIFIER_FILE} with SHA-256 {checksum}.")
    if checksum != CLASSIFIER_SHA256:
        print("Set CLASSIFIER_SHA256 in evaluation.py to this checksum.")


def best_seconds(function, repeats=5):
    """The shortest (wall-clock, processor) seconds of a few calls of function.

    Processor seconds, summed over threads, are the cost to a machine that others
    share; wall-clock seconds alone would count their work as ours.
    """
    timings = []
    for _ in range(repeats):
        started, started_processor = time.perf_counter(), time.process_time()
        function()
        timings.append(
            (time.perf_counter() - started, time.process_time() - started_processor)
        )
    return min(wall for wall, _ in timings), min(processor for _, processor in timings)


def print_references(mnist, cache_dir):
    """Print the reference figures, the classifier's accuracy and its timing."""
    evaluator = open_evaluator(cache_dir, mnist)
    figures = reference_figures(evaluator, mnist)
    print(f"Classifier: {evaluator.classifier.source}")
    print(f"Test accuracy: {figures.test_accuracy:.2%} of 10,000 test images.")
    print(f"Real test images: {figures.test_metrics.summary()}")
    print(
        f"Real training images 0-9,999 against the test images: "
        f"{figures.train_metrics.summary()}"
    )

    images = as_pixels(mnist.test_images)
    for task, function in [
        ("Classifying 10,000 images", evaluator.classifier.classify),
        ("A whole evaluation of 10,000 images", evaluator.evaluate),
    ]:
        wall, processor = best_seconds(lambda: function(images))
        print(
            f"{task} takes {wall:.3f} s ({processor:.3f} s of processor time; best "
            "of 5)."
        )
    evaluator.close()


def main(argv=None):
    flags = parse_flags(argv)
    try:
        mnist = mnist_idx.load_mnist()
        if flags.retrain:
            retrain(mnist)
        else:
            print_references(mnist, flags.cache_dir)
    except (EvaluationError, mnist_idx.DataError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
