"""Start TensorFlow 1's API in graph mode without its start-up chatter.

TensorFlow's native code prints notices (oneDNN, CPU features, missing CUDA drivers)
straight to file descriptor 2 before its own log level applies, so setting
TF_CPP_MIN_LOG_LEVEL alone does not hide them. We catch that output while TensorFlow
starts and replay every line that is not one of those notices.
"""

import contextlib
import os
import re
import sys
import tempfile

START_UP_NOTICES = re.compile(
    r"absl::InitializeLog|cudart_stub|cuda_platform|cuInit|cuda_(dnn|fft|blas|executor)"
    r"|oneDNN custom operations|cpu_feature_guard|This TensorFlow binary is optimized"
    r"|To enable the following instructions|Unable to register cu|TF-TRT Warning"
    r"|computation_placer|Created device /job"
)


@contextlib.contextmanager
def native_output_caught(keep_line):
    """Catch what native code writes to file descriptor 2 inside this block, then
    replay the lines for which keep_line(line, failed) is true; `failed` says whether
    the block raised."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = True
    with tempfile.TemporaryFile(mode="w+b") as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines():
                if keep_line(line, failed):
                    print(line, file=sys.stderr)


def native_notices_hidden(verbose=False):
    """Hide TensorFlow's start-up notices printed by native code inside this block."""
    if verbose:
        return contextlib.nullcontext()
    return native_output_caught(lambda line, _: not START_UP_NOTICES.search(line))


def native_errors_hidden():
    """Inside this block, TensorFlow's native warnings are dropped if the block raises:
    they say what the error does, which the caller turns into one sentence."""
    return native_output_caught(lambda _, failed: not failed)


def import_tensorflow(verbose=False):
    """Return tensorflow.compat.v1 in graph mode, with TensorFlow 1's control flow."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    with native_notices_hidden(verbose):
        import tensorflow.compat.v1 as tf

    if not verbose:
        # Deprecation notices of the v1 API are for TensorFlow's developers, not ours.
        tf.get_logger().setLevel("ERROR")
    tf.disable_eager_execution()
    # TensorFlow 1's while loop runs a step's independent ops side by side in the
    # session's own threads; version 2's runs its body as a function, which measured
    # a quarter slower here on the training loop.
    tf.disable_control_flow_v2()
    return tf


def session_config():
    """Threads for the training loop's two halves of the batch.

    Two ops run at once, each on its own share of the cores. On two cores, one
    thread per op measured a fifth faster than TensorFlow's default, which lets the
    small element-wise ops of one half compete with the other half's products.
    """
    import tensorflow.compat.v1 as tf

    cores = len(os.sched_getaffinity(0))
    return tf.ConfigProto(
        inter_op_parallelism_threads=2,
        intra_op_parallelism_threads=max(1, cores // 2),
    )
