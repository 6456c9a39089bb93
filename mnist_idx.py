"""Read and check MNIST-format IDX files (gzip or raw) without any network access.

The four canonical MNIST files ship in data/mnist/. Any folder holding the same four
file names in the same format (Fashion-MNIST, for one) can be read too.
"""

import gzip
import hashlib
import io
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

SHIPPED_DIR = Path(__file__).resolve().parent / "data" / "mnist"

# File stems, the IDX magic number each must carry, and the MD5 of the canonical
# MNIST file's uncompressed content.
FILES = {
    "train_images": (
        "train-images-idx3-ubyte",
        0x803,
        "6bbc9ace898e44ae57da46a324031adb",
    ),
    "train_labels": (
        "train-labels-idx1-ubyte",
        0x801,
        "a25bea736e30d166cdddb491f175f624",
    ),
    "test_images": (
        "t10k-images-idx3-ubyte",
        0x803,
        "2646ac647ad5339dbf082846283269ea",
    ),
    "test_labels": (
        "t10k-labels-idx1-ubyte",
        0x801,
        "27ae3e4e09519cfbb04c329615203637",
    ),
}
IMAGE_SIDE = 28
GZIP_MAGIC = b"\x1f\x8b"
# No MNIST-format file this program is meant for unpacks to more (EMNIST's largest is
# about 550 MB); a gzip file that does is refused before it can fill the memory.
MAX_UNPACKED_BYTES = 2**30


class DataError(Exception):
    """A data file is missing or damaged; the message is one sentence for the user."""


class Mnist(NamedTuple):
    train_images: np.ndarray  # uint8, [n, 784]
    train_labels: np.ndarray  # uint8, [n]
    test_images: np.ndarray
    test_labels: np.ndarray
    canonical: bool  # every file matches the canonical MNIST digits


def load_mnist(data_dir=SHIPPED_DIR):
    """Read and check the four files in data_dir; raise DataError if one is bad."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(
            f"The data folder {data_dir} does not exist; pass --data-dir with a folder "
            "that holds the four MNIST IDX files."
        )
    shipped = data_dir.resolve() == SHIPPED_DIR
    fix = (
        "restore the shipped copy with `git checkout -- data/mnist`"
        if shipped
        else "replace it with an intact copy"
    )

    arrays, canonical = {}, True
    for key, (stem, magic, md5) in FILES.items():
        path, content = _read(data_dir, stem, fix)
        arrays[key] = _parse(path, content, magic, fix)
        if hashlib.md5(content).hexdigest() != md5:
            if shipped:
                raise DataError(
                    f"{path} does not match the canonical MNIST file (MD5 differs); "
                    f"{fix}."
                )
            canonical = False

    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(images) != len(labels):
            raise DataError(
                f"The {part} files in {data_dir} disagree: {len(images)} images but "
                f"{len(labels)} labels; {fix}."
            )
    return Mnist(canonical=canonical, **arrays)


def _read(data_dir, stem, fix):
    """Return (path, uncompressed bytes) of stem.gz or stem, whichever exists."""
    for path in (data_dir / f"{stem}.gz", data_dir / stem):
        if path.is_file():
            break
    else:
        raise DataError(
            f"{data_dir / stem}.gz is missing (a raw {stem} would do too); {fix}."
        )

    try:
        too_large = path.stat().st_size > MAX_UNPACKED_BYTES
        raw = None if too_large else path.read_bytes()
    except OSError as error:
        raise DataError(f"{path} cannot be read ({error.strerror}); {fix}.") from None
    if too_large:
        raise DataError(
            f"{path} is larger than {MAX_UNPACKED_BYTES // 2**20} MiB, far more than "
            f"any MNIST-format file; {fix}."
        )
    if raw[:2] != GZIP_MAGIC:
        if path.suffix == ".gz":
            raise DataError(
                f"{path} is not gzip data (it starts with {raw[:16]!r}, perhaps a web "
                f"page saved under that name); {fix}."
            )
        return path, raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unpacking:
            content = unpacking.read(MAX_UNPACKED_BYTES + 1)
    except (EOFError, OSError, zlib.error):
        raise DataError(f"{path} is a truncated or corrupt gzip file; {fix}.") from None
    if len(content) > MAX_UNPACKED_BYTES:
        raise DataError(
            f"{path} unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB, far more "
            f"than any MNIST-format file; {fix}."
        )
    return path, content


def _parse(path, content, magic, fix):
    """Check an IDX header and size, and return the array (images flattened to 784)."""
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(content) < header_size or int.from_bytes(content[:4], "big") != magic:
        raise DataError(
            f"{path} is not an MNIST IDX file of the expected kind (magic number "
            f"{content[:4].hex() or 'missing'}, expected {magic:08x}); {fix}."
        )

    dims = [int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header_size + int(np.prod(dims))
    if len(content) != expected:
        state = (
            "truncated" if len(content) < expected else "longer than its header says"
        )
        raise DataError(
            f"{path} is {state} ({len(content)} bytes uncompressed, its header "
            f"promises {expected}); {fix}."
        )
    if ndim == 3 and dims[1:] != [IMAGE_SIDE, IMAGE_SIDE]:
        raise DataError(
            f"{path} holds {dims[1]}x{dims[2]} images, but this model needs "
            f"{IMAGE_SIDE}x{IMAGE_SIDE}; use MNIST-sized data."
        )

    array = np.frombuffer(content, dtype=np.uint8, offset=header_size)
    if ndim == 3:
        return array.reshape(dims[0], IMAGE_SIDE * IMAGE_SIDE)
    if array.size and array.max() > 9:
        raise DataError(f"{path} holds label {int(array.max())}, outside 0-9; {fix}.")
    return array
