"""The tutorial's graph: scopes and names, what each optimizer touches, the losses."""

import numpy as np
import pytest

import gan_mnist

SETTINGS = dict(gan_mnist.DEFAULTS, batch_size=4, z_dim=5, g_hidden=6, d_hidden=7)


@pytest.fixture
def graph(tf):
    with tf.Graph().as_default() as tf_graph:
        ops = gan_mnist.build_graph(dict(SETTINGS, run_name="t"), num_examples=20)
        yield tf_graph, ops


def test_scopes_and_names_are_the_tutorials(tf, graph):
    tf_graph, _ = graph
    names = {op.name for op in tf_graph.get_operations()}
    for scope in ("Generator", "Discriminator"):
        for layer in ("Input_layer", "First_layer", "Output_layer"):
            assert any(name.startswith(f"{scope}/{layer}/") for name in names), layer
    assert "Discriminator/D_logit" in names
    assert "real_images" in names
    for scope in ("D_Loss", "G_loss", "Train"):
        assert any(name.startswith(f"{scope}/") for name in names), scope
    assert tf_graph.get_tensor_by_name("real_images:0").op.type == "Placeholder"


def run_update(tf, ops, update, feed_rows=False):
    with tf.Session() as session:
        session.run(tf.global_variables_initializer())
        variables = tf.trainable_variables()
        before = session.run(variables)
        real = np.random.default_rng(0).random((4, 784), dtype=np.float32)
        session.run(ops[update], {ops["real_images"]: real})
        after = session.run(variables)
    return {
        variable.op.name: not np.array_equal(old, new)
        for variable, old, new in zip(variables, before, after)
    }


def test_discriminator_update_leaves_the_generator_unchanged(tf, graph):
    changed = run_update(tf, graph[1], "d_train")
    assert all(changed[name] for name in changed if name.startswith("Discriminator/"))
    assert not any(changed[name] for name in changed if name.startswith("Generator/"))


def test_generator_update_leaves_the_discriminator_unchanged(tf, graph):
    changed = run_update(tf, graph[1], "g_train")
    assert all(changed[name] for name in changed if name.startswith("Generator/"))
    assert not any(
        changed[name] for name in changed if name.startswith("Discriminator/")
    )


def numpy_sigmoid_cross_entropy(logits, targets):
    probability = 1.0 / (1.0 + np.exp(-logits))
    return -(targets * np.log(probability) + (1 - targets) * np.log(1 - probability))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_losses_match_numpy_with_masked_real_terms(tf, smoothing):
    logits = np.array([[2.0], [-1.5], [0.3], [-0.7], [1.1], [-2.2]], dtype=np.float32)
    labels = np.array([[0], [0], [0], [1], [1], [1]], dtype=np.float32)
    with tf.Graph().as_default(), tf.Session() as session:
        d_loss, g_loss = session.run(
            [
                gan_mnist.discriminator_loss(
                    tf.constant(logits), tf.constant(labels), smoothing
                ),
                gan_mnist.generator_loss(tf.constant(logits), tf.constant(labels)),
            ]
        )

    # Smoothing moves only the real rows' target (0 -> smoothing); fakes keep 1.
    targets = np.where(labels == 1, 1.0, smoothing)
    expected_d = numpy_sigmoid_cross_entropy(logits, targets).mean()
    # The generator's loss: fakes against target 0, real rows multiplied away, yet the
    # mean still divides by all six rows.
    expected_g = (numpy_sigmoid_cross_entropy(logits, 0.0) * labels).sum() / 6
    assert d_loss == pytest.approx(expected_d, rel=1e-5)
    assert g_loss == pytest.approx(expected_g, rel=1e-5)
    assert g_loss < numpy_sigmoid_cross_entropy(logits, 0.0).mean()


def test_label_smoothing_changes_only_the_real_targets(tf):
    logits = np.array([[1.5], [0.25], [0.5], [-0.5]], dtype=np.float32)
    real_only = np.array([[0], [0], [1], [1]], dtype=np.float32)
    with tf.Graph().as_default(), tf.Session() as session:

        def loss(smoothing):
            return session.run(
                gan_mnist.discriminator_loss(
                    tf.constant(logits), tf.constant(real_only), smoothing
                )
            )

        plain, smoothed = loss(0.0), loss(0.1)
    per_row_plain = numpy_sigmoid_cross_entropy(
        logits, np.where(real_only == 1, 1.0, 0.0)
    )
    per_row_smoothed = numpy_sigmoid_cross_entropy(
        logits, np.where(real_only == 1, 1.0, 0.1)
    )
    # The fake rows contribute the same; the whole difference comes from the real rows.
    np.testing.assert_allclose(per_row_plain[2:], per_row_smoothed[2:])
    assert smoothed != plain
    assert smoothed - plain == pytest.approx(
        (per_row_smoothed[:2] - per_row_plain[:2]).sum() / 4, rel=1e-5
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_loss_slopes_match_tensorflows_own_gradient(tf, smoothing):
    logits = np.array([[2.0], [-1.5], [0.3], [-0.7], [1.1], [-9.0]], dtype=np.float32)
    labels = np.array([[0], [0], [0], [1], [1], [1]], dtype=np.float32)
    targets = labels + (1 - labels) * smoothing
    with tf.Graph().as_default(), tf.Session() as session:
        logits_in = tf.constant(logits)
        d_loss = gan_mnist.discriminator_loss(logits_in, tf.constant(labels), smoothing)
        g_loss = gan_mnist.generator_loss(logits_in, tf.constant(labels))
        # The same losses through TensorFlow's own cross-entropy and its gradient.
        own_d = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits_in)
        )
        own_g = tf.reduce_mean(
            labels
            * tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.zeros_like(logits_in), logits=logits_in
            )
        )
        losses = (d_loss, g_loss, own_d, own_g)
        slopes = session.run([tf.gradients(loss, logits_in)[0] for loss in losses])

    d_slope, g_slope, own_d_slope, own_g_slope = slopes
    probability = 1.0 / (1.0 + np.exp(-logits))
    np.testing.assert_allclose(d_slope, own_d_slope, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(g_slope, own_g_slope, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(d_slope, (probability - targets) / 6, rtol=1e-5)
    # The real rows get no slope from the generator's loss.
    np.testing.assert_array_equal(g_slope[:3], 0.0)
    np.testing.assert_allclose(g_slope[3:], probability[3:] / 6, rtol=1e-5)
