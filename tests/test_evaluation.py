"""The sample classifier and its metrics, on the shipped weights and real digits."""

import hashlib
import shutil

import numpy as np
import pytest

import evaluation

# Short trainings for the tests of retraining: the mechanics, not the accuracy.
QUICK_TRAINING = {"epochs": 2, "train_size": 3000}


@pytest.fixture(scope="module")
def evaluator(mnist, tmp_path_factory):
    def shipped_file_not_used(line):
        pytest.fail(f"the shipped classifier was not used: {line}")

    cache_dir = tmp_path_factory.mktemp("classifier_cache")
    evaluator = evaluation.open_evaluator(
        cache_dir, mnist, report=shipped_file_not_used
    )
    yield evaluator
    evaluator.close()


@pytest.fixture(scope="module")
def references(evaluator, mnist):
    return evaluation.reference_figures(evaluator, mnist)


@pytest.fixture(scope="module")
def ones(evaluator, mnist):
    """Metrics of a batch of one repeated digit: every real test image of a 1."""
    return evaluator.evaluate(mnist.test_images[mnist.test_labels == 1])


def test_shipped_classifier_matches_its_checksum_and_reaches_99_percent(
    evaluator, references
):
    content = evaluation.CLASSIFIER_FILE.read_bytes()
    assert hashlib.sha256(content).hexdigest() == evaluation.CLASSIFIER_SHA256
    assert evaluator.classifier.source == evaluation.CLASSIFIER_FILE
    assert references.test_accuracy >= 0.99


def test_first_layer_by_rows_equals_tensorflows_convolution():
    tf = evaluation.import_tensorflow()
    rng = np.random.default_rng(0)
    images = rng.random((5, evaluation.PIXELS), dtype=np.float32)
    kernel = rng.standard_normal((5, 5, 1, 8)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    with tf.Graph().as_default():
        ours = evaluation.first_layer_by_rows(tf.constant(images), kernel, bias, 2)
        theirs = tf.nn.conv2d(tf.reshape(images, [-1, 28, 28, 1]), kernel, 2, "SAME")
        theirs = tf.nn.relu(theirs + bias)
        with tf.Session() as session:
            ours, theirs = session.run([ours, theirs])
    assert ours.shape == (5, 14, 14, 8)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_classifier_leaves_the_default_graph_alone(evaluator, mnist):
    tf = evaluation.import_tensorflow()
    with tf.Graph().as_default() as graph:
        weights, _ = evaluation.read_weights(
            evaluation.CLASSIFIER_FILE, evaluation.CLASSIFIER_SHA256
        )
        classifier = evaluation.Classifier(weights, evaluation.CLASSIFIER_FILE)
        classifier.classify(mnist.test_images[:10])
        evaluator.evaluate(mnist.test_images[:100])
        classifier.close()
        assert graph.get_operations() == []


def test_real_test_images_score_near_the_reference_and_cover_all_digits(
    evaluator, references, mnist
):
    reference = references.test_metrics
    assert reference.digits_covered == 10
    assert reference.num_samples == 10000
    # Each half of the test set is another sample of real digits (MNIST's two halves
    # come from different writers). With a classifier this accurate, the score is
    # close to exp(entropy of the digit shares); it moved by 0.9% from the whole set
    # to either half, and we allow 2%.
    for half in (mnist.test_images[:5000], mnist.test_images[5000:]):
        metrics = evaluator.evaluate(half)
        assert metrics.score == pytest.approx(reference.score, rel=0.02)
        assert metrics.digits_covered == 10
        assert metrics.num_samples == 5000
    assert 9 < reference.score < 10


def test_identical_sets_have_frechet_distance_near_zero(references):
    assert references.test_metrics.frechet_distance < 1e-6


def test_real_training_images_are_close_and_one_repeated_digit_is_far(references, ones):
    train = references.train_metrics
    assert train.num_samples == 10000
    assert train.digits_covered == 10
    assert 0 < train.frechet_distance < ones.frechet_distance / 20


def test_one_repeated_digit_covers_one_digit_and_scores_near_one(ones):
    assert ones.digits_covered == 1
    assert ones.most_common_digit == 1
    assert ones.digit_shares[1] > 0.98
    assert 1 <= ones.score < 1.1
    assert ones.mean_confidence > 0.98


def test_summary_line_carries_the_sample_count(references, ones):
    assert "[N=10,000]" in references.test_metrics.summary()
    assert "[N=1,135]" in ones.summary()
    assert "\n" not in ones.summary()


def test_collapse_is_warned_once_when_it_begins(references, ones):
    watch = evaluation.CollapseWatch()
    healthy = references.test_metrics

    assert watch.check_samples(1000, healthy) is None
    warning = watch.check_samples(2000, ones)
    assert warning == (
        "Warning: the samples at step 2000 have collapsed: 100% of them are "
        "classified as 1 (1 of 10 digits covered)."
    )
    assert watch.check_samples(3000, ones) is None
    assert watch.check_samples(4000, healthy) is None
    assert "at step 5000 have collapsed" in watch.check_samples(5000, ones)


def test_few_digits_covered_is_a_collapse_even_without_a_majority_digit():
    shares = (0.4, 0.3, 0.25, 0.05) + (0.0,) * 6
    metrics = evaluation.Metrics(2.9, 100.0, shares, 4, 10000, 0.98)
    warning = evaluation.CollapseWatch().check_samples(7000, metrics)
    assert warning == (
        "Warning: the samples at step 7000 have collapsed: 40% of them are "
        "classified as 0 (4 of 10 digits covered)."
    )


def test_collapse_into_samples_the_classifier_is_unsure_of_says_so(evaluator):
    noise = np.random.default_rng(0).random((10000, evaluation.PIXELS))
    metrics = evaluator.evaluate(noise)
    assert metrics.mean_confidence < evaluation.UNSURE_CONFIDENCE
    warning = evaluation.CollapseWatch().check_samples(1000, metrics)
    assert warning.startswith("Warning: the samples at step 1000 have collapsed")
    assert warning.endswith("so they may not look like digits yet.")


def test_low_d_loss_warning_begins_at_the_right_step_and_is_not_repeated():
    watch = evaluation.CollapseWatch()
    warnings = {}
    for step in range(0, 6000, 100):
        low = 1000 <= step < 2500 or step >= 3000
        warning = watch.check_d_loss(step, 0.004 if low else 0.6)
        if warning:
            warnings[step] = warning

    # Low from step 1000: warned 1,000 steps later, once. Ended at 2500, low again from
    # 3000: warned again at 4000.
    assert sorted(warnings) == [2000, 4000]
    assert "below 0.01 since step 1000 (0.004 at step 2000)" in warnings[2000]
    assert "since step 3000" in warnings[4000]


def test_a_nan_d_loss_is_not_taken_for_a_winning_discriminator():
    watch = evaluation.CollapseWatch()
    for step in range(0, 3000, 100):
        assert watch.check_d_loss(step, float("nan")) is None


def damage(path):
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


def test_damaged_shipped_file_is_retrained_into_the_cache_and_reused(
    tmp_path, mnist, monkeypatch
):
    shipped = tmp_path / "mnist_classifier.npz"
    shutil.copy(evaluation.CLASSIFIER_FILE, shipped)
    damage(shipped)
    cache_dir = tmp_path / "cache"
    lines = []

    def load():
        return evaluation.load_classifier(
            cache_dir,
            shipped,
            evaluation.CLASSIFIER_SHA256,
            report=lines.append,
            **QUICK_TRAINING,
        )

    classifier = load()
    assert lines == [
        f"Note: the shipped classifier {shipped} does not match its SHA-256 checksum; "
        f"training a new one into {cache_dir / 'mnist_classifier.npz'}, which takes a "
        "few minutes."
    ]
    cached = cache_dir / "mnist_classifier.npz"
    assert classifier.source == cached
    assert (
        evaluation.recorded_checksum(cached)
        == hashlib.sha256(cached.read_bytes()).hexdigest()
    )
    # 60 steps of training reach about 83%; chance is 10%.
    assert classifier.accuracy(mnist.test_images[:1000], mnist.test_labels[:1000]) > 0.6
    classifier.close()

    def no_training(*args, **kwargs):
        raise AssertionError("an intact cache was trained again")

    with monkeypatch.context() as patch:
        patch.setattr(evaluation, "train_classifier", no_training)
        load().close()
    assert "using the one retrained in" in lines[-1]

    damage(cached)
    load().close()
    assert "training a new one" in lines[-1]


def test_missing_shipped_file_is_said_in_one_line(tmp_path, monkeypatch):
    lines = []
    monkeypatch.setattr(evaluation, "train_classifier", lambda *a, **k: None)
    monkeypatch.setattr(evaluation, "cache_weights", lambda *a: None)
    monkeypatch.setattr(evaluation, "Classifier", lambda weights, source: source)
    evaluation.load_classifier(tmp_path, tmp_path / "absent.npz", report=lines.append)
    assert len(lines) == 1
    assert f"{tmp_path / 'absent.npz'} is missing; training a new one" in lines[0]


def test_unwritable_cache_folder_is_one_sentence_before_any_training(
    tmp_path, monkeypatch
):
    def no_training(*args, **kwargs):
        raise AssertionError("trained although the result could not be kept")

    monkeypatch.setattr(evaluation, "train_classifier", no_training)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(evaluation.EvaluationError) as raised:
        evaluation.load_classifier(
            blocker / "cache", tmp_path / "absent.npz", report=lambda line: None
        )
    message = str(raised.value)
    assert message.startswith(f"The classifier cache folder {blocker / 'cache'}")
    assert message.endswith("make it writable or choose another folder.")
    assert "\n" not in message


def test_training_gives_the_same_weights_for_the_same_seed(mnist):
    first = evaluation.train_classifier(mnist, seed=5, **QUICK_TRAINING)
    second = evaluation.train_classifier(mnist, seed=5, **QUICK_TRAINING)
    other = evaluation.train_classifier(mnist, seed=6, **QUICK_TRAINING)
    assert evaluation.weights_file_bytes(first) == evaluation.weights_file_bytes(second)
    assert evaluation.weights_file_bytes(first) != evaluation.weights_file_bytes(other)


def test_fewer_than_two_samples_is_one_sentence(evaluator, mnist):
    with pytest.raises(evaluation.EvaluationError, match=r"at least 2 samples.*\.$"):
        evaluator.evaluate(mnist.test_images[:1])
