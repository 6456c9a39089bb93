"""Sample grids as pictures: 8x8 digits per image, saved as PNG, gathered in a GIF."""

import numpy as np
from PIL import Image

from runs import write_atomically

IMAGE_SIDE = 28
GIF_FRAME_MS = 200


def grid(images, columns=8):
    """Tile flat 784-pixel images in [0, 1] into one uint8 picture, row by row."""
    images = np.asarray(images).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    rows = len(images) // columns
    tiles = images[: rows * columns].reshape(rows, columns, IMAGE_SIDE, IMAGE_SIDE)
    picture = tiles.transpose(0, 2, 1, 3).reshape(rows * IMAGE_SIDE, -1)
    return np.round(np.clip(picture, 0.0, 1.0) * 255).astype(np.uint8)


def save_png(picture, path):
    """Write a grid as PNG, atomically, so a stopped run never leaves half a file."""
    image = Image.fromarray(picture)  # uint8, two axes: greyscale
    write_atomically(path, lambda file: image.save(file, format="PNG"), binary=True)


def save_gif(png_paths, path):
    """Gather grid PNGs, in the order given, into one looping animated GIF."""
    frames = [Image.open(png).convert("L") for png in png_paths]
    if not frames:
        return

    def write(file):
        frames[0].save(
            file,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=GIF_FRAME_MS,
            loop=0,
        )

    write_atomically(path, write, binary=True)
