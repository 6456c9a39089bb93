"""The IDX loader on the shipped MNIST files and on damaged copies, and the batches."""

import gzip
import shutil

import numpy as np
import pytest

import gan_mnist
import mnist_idx


def test_shipped_files_load_with_the_canonical_shapes_and_labels(mnist):
    assert mnist.canonical
    assert mnist.train_images.shape == (60000, 784)
    assert mnist.test_images.shape == (10000, 784)
    assert mnist.train_images.dtype == np.uint8
    assert list(mnist.train_labels[:5]) == [5, 0, 4, 1, 9]
    assert set(np.unique(mnist.test_labels)) == set(range(10))


def copy_of_shipped(tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(mnist_idx.SHIPPED_DIR, folder)
    return folder


def load_error(folder):
    with pytest.raises(mnist_idx.DataError) as caught:
        mnist_idx.load_mnist(folder)
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".")
    return message


def test_missing_file_is_named(tmp_path):
    folder = copy_of_shipped(tmp_path)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    assert "train-labels-idx1-ubyte.gz is missing" in load_error(folder)


def test_web_page_saved_under_the_name_is_not_gzip(tmp_path):
    folder = copy_of_shipped(tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").write_text("<!DOCTYPE html><html>Not found")
    message = load_error(folder)
    assert "t10k-images-idx3-ubyte.gz is not gzip data" in message


def test_half_a_gzip_file_is_truncated(tmp_path):
    folder = copy_of_shipped(tmp_path)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert (
        "train-images-idx3-ubyte.gz is a truncated or corrupt gzip file"
        in load_error(folder)
    )


def test_gzip_bomb_is_refused_before_it_fills_the_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_idx, "MAX_UNPACKED_BYTES", 2**20)  # 1 MiB, not 1 GiB
    folder = copy_of_shipped(tmp_path)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(2**21)))
    message = load_error(folder)
    assert "train-images-idx3-ubyte.gz unpacks to more than 1 MiB" in message


def test_a_file_too_large_for_mnist_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_idx, "MAX_UNPACKED_BYTES", 2**20)
    folder = copy_of_shipped(tmp_path)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with open(folder / "train-images-idx3-ubyte", "wb") as raw:
        raw.truncate(2**21)  # sparse: 2 MiB that take no room
    message = load_error(folder)
    assert "train-images-idx3-ubyte is larger than 1 MiB" in message


def test_raw_file_cut_short_is_truncated(tmp_path):
    folder = copy_of_shipped(tmp_path)
    packed = folder / "t10k-labels-idx1-ubyte.gz"
    content = gzip.decompress(packed.read_bytes())
    packed.unlink()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(content[:-100])
    message = load_error(folder)
    assert "t10k-labels-idx1-ubyte is truncated" in message


def test_wrong_magic_number_is_refused(tmp_path):
    folder = copy_of_shipped(tmp_path)
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(labels))
    assert "magic number 00000801, expected 00000803" in load_error(folder)


def test_label_outside_0_to_9_is_refused(tmp_path):
    folder = copy_of_shipped(tmp_path)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[8 + 17] = 12
    path.write_bytes(gzip.compress(bytes(content)))
    assert "holds label 12, outside 0-9" in load_error(folder)


def test_tampered_shipped_copy_fails_its_md5(tmp_path, monkeypatch):
    folder = copy_of_shipped(tmp_path)
    path = folder / "t10k-images-idx3-ubyte.gz"
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[1000] ^= 0xFF  # same size, same header: only the checksum can tell
    path.write_bytes(gzip.compress(bytes(content)))
    monkeypatch.setattr(mnist_idx, "SHIPPED_DIR", folder.resolve())
    assert "does not match the canonical MNIST file" in load_error(folder)


def test_other_data_in_mnist_format_loads_as_not_canonical(tmp_path):
    folder = copy_of_shipped(tmp_path)
    path = folder / "t10k-images-idx3-ubyte.gz"
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[1000] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(content)))
    data = mnist_idx.load_mnist(folder)
    assert not data.canonical
    assert data.test_images.shape == (10000, 784)


def test_batches_are_exact_in_range_and_set_by_the_seed(mnist):
    images = mnist.train_images
    batch = gan_mnist.real_batch(images, seed=3, step=0, batch_size=128)
    assert batch.shape == (128, 784) and batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 1.0 and batch.max() > 0.99

    same = gan_mnist.real_batch(images, seed=3, step=0, batch_size=128)
    other_seed = gan_mnist.real_batch(images, seed=4, step=0, batch_size=128)
    np.testing.assert_array_equal(batch, same)
    assert not np.array_equal(batch, other_seed)


def test_each_epoch_is_a_fresh_permutation_without_repeats(mnist):
    per_epoch = 60000 // 128
    first = [gan_mnist.batch_indices(3, step, 128, 60000) for step in range(per_epoch)]
    second = [
        gan_mnist.batch_indices(3, step, 128, 60000)
        for step in range(per_epoch, 2 * per_epoch)
    ]
    first, second = np.concatenate(first), np.concatenate(second)
    assert len(np.unique(first)) == len(first) == per_epoch * 128
    assert not np.array_equal(first, second)
    assert len(np.unique(second)) == len(second)
