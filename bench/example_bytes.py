"""Bytes per example on disk: what ExampleGen stores (the encoded file), what the Transform stores now (uint8
pixels as a serialized tensor, or with `data.example_jpeg_quality` a JPEG of them), and what it stored before
(float32 pixels in [-1, 1]), each as a GZIP TFRecord of tf.Examples, the format both components write. Only images
larger than the input size (both sides) count towards the "uint8/raw, larger" and "jpeg/raw, larger" ratios.

    python -m bench.example_bytes DATA_FOLDER --sizes 96 224 [--limit 500] [--jpeg-quality 95]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

from PIL import Image

from components.ingestion import image_files
from pipeline.reporting.tables import text_table


def _gzip_bytes(path: str, examples: list[Any]) -> int:
    import tensorflow as tf

    with tf.io.TFRecordWriter(path, options=tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for example in examples:
            writer.write(example.SerializeToString())
    return os.path.getsize(path)


def measure(files: list[tuple[str, str]], size: int, scratch: str, jpeg_quality: int = 95) -> dict[str, Any]:
    """Bytes per example of (filename, label) pairs at input `size`: raw, uint8 and JPEG (now), float32 (before),
    over all images and over those larger than `size`."""
    import tensorflow as tf

    from components import contracts
    from components.transform import image_codec, preprocessing

    def feature(**kwargs: Any) -> Any:
        return tf.train.Feature(**kwargs)

    label_index = {name: index for index, name in enumerate(sorted({label for _, label in files}))}
    raw, uint8, jpeg, float32, larger = [], [], [], [], []
    for path, label in files:
        with open(path, "rb") as handle:
            encoded = handle.read()
        with Image.open(path) as image:  # the header only
            larger.append(min(image.size) > size)
        pixels = image_codec.decode_images(tf.constant([encoded]), size)
        label_feature = feature(int64_list=tf.train.Int64List(value=[label_index[label]]))
        raw.append(
            tf.train.Example(
                features=tf.train.Features(
                    feature={
                        contracts.IMAGE_KEY: feature(bytes_list=tf.train.BytesList(value=[encoded])),
                        contracts.LABEL_KEY: feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
                        "filename": feature(bytes_list=tf.train.BytesList(value=[os.path.basename(path).encode()])),
                    }
                )
            )
        )
        uint8.append(
            tf.train.Example(
                features=tf.train.Features(
                    feature={
                        preprocessing.IMAGE_XF: feature(
                            bytes_list=tf.train.BytesList(value=[image_codec.encode_pixels(pixels)[0].numpy()])
                        ),
                        preprocessing.LABEL_XF: label_feature,
                    }
                )
            )
        )
        jpeg.append(
            tf.train.Example(
                features=tf.train.Features(
                    feature={
                        preprocessing.IMAGE_XF: feature(
                            bytes_list=tf.train.BytesList(
                                value=[image_codec.encode_jpeg(pixels, jpeg_quality)[0].numpy()]
                            )
                        ),
                        preprocessing.LABEL_XF: label_feature,
                    }
                )
            )
        )
        float32.append(
            tf.train.Example(
                features=tf.train.Features(
                    feature={
                        preprocessing.IMAGE_XF: feature(
                            float_list=tf.train.FloatList(
                                value=image_codec.scale_to_model_range(pixels).numpy().ravel()
                            )
                        ),
                        preprocessing.LABEL_XF: label_feature,
                    }
                )
            )
        )
    count = len(files)
    result = {
        "input_size": size,
        "examples": count,
        "larger_examples": sum(larger),
        "jpeg_quality": jpeg_quality,
        "uint8_pixel_bytes": size * size * 3,
    }
    encodings = (("raw", raw), ("uint8", uint8), ("jpeg", jpeg), ("float32", float32))
    for name, examples in encodings:
        result[f"{name}_bytes_per_example"] = _gzip_bytes(os.path.join(scratch, f"{name}-{size}.gz"), examples) / count
        if any(larger) and name != "float32":
            chosen = [example for example, keep in zip(examples, larger) if keep]
            result[f"{name}_bytes_per_larger_example"] = _gzip_bytes(
                os.path.join(scratch, f"{name}-{size}-larger.gz"), chosen
            ) / len(chosen)
    result["uint8_over_pixels"] = round(result["uint8_bytes_per_example"] / result["uint8_pixel_bytes"], 3)
    result["uint8_over_raw"] = round(result["uint8_bytes_per_example"] / result["raw_bytes_per_example"], 3)
    result["jpeg_over_raw"] = round(result["jpeg_bytes_per_example"] / result["raw_bytes_per_example"], 3)
    for name in ("uint8", "jpeg"):
        result[f"{name}_over_raw_larger"] = (
            round(result[f"{name}_bytes_per_larger_example"] / result["raw_bytes_per_larger_example"], 3)
            if any(larger)
            else None
        )
    result["float32_over_uint8"] = round(result["float32_bytes_per_example"] / result["uint8_bytes_per_example"], 2)
    return result


def image_list(root: str, limit: int) -> list[tuple[str, str]]:
    """Up to `limit` (path, label) pairs from the class folders of `root`, spread over the classes."""
    summary = image_files.scan_folder(root)
    per_class = {name: sorted(os.listdir(os.path.join(root, name))) for name in summary.classes}
    chosen: list[tuple[str, str]] = []
    for rank in range(max(map(len, per_class.values()), default=0)):
        for name, files in per_class.items():
            if rank < len(files) and len(chosen) < limit and not image_files.is_hidden(files[rank]):
                chosen.append((os.path.join(root, name, files[rank]), name))
    return chosen


def main(argv: list[str] | None = None) -> int:
    """Print bytes per example for a folder of class sub-folders at each input size."""
    parser = argparse.ArgumentParser(prog="python -m bench.example_bytes", description=__doc__.split("\n")[0])
    parser.add_argument("data", help="folder of class sub-folders of images")
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 224], help="input sizes (default 96 224)")
    parser.add_argument("--limit", type=int, default=500, help="images to measure (default 500)")
    parser.add_argument(
        "--jpeg-quality",
        type=int,
        default=95,
        choices=range(1, 101),
        metavar="1-100",
        help="quality of the JPEG encoding measured (data.example_jpeg_quality; default 95)",
    )
    args = parser.parse_args(argv)
    files = image_list(args.data, args.limit)
    if not files:
        sys.stderr.write(f"error: no images in class folders under {args.data}\n")
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        rows = [measure(files, size, scratch, args.jpeg_quality) for size in args.sizes]
    headers = [
        "size",
        "images",
        "larger",
        "raw B/ex",
        "uint8 B/ex",
        f"jpeg q{args.jpeg_quality} B/ex",
        "float32 B/ex",
        "uint8/pixels",
        "uint8/raw",
        "jpeg/raw",
        "uint8/raw, larger",
        "jpeg/raw, larger",
        "float32/uint8",
    ]
    sys.stdout.write(
        text_table(
            headers,
            [
                [
                    r["input_size"],
                    r["examples"],
                    r["larger_examples"],
                    f"{r['raw_bytes_per_example']:,.0f}",
                    f"{r['uint8_bytes_per_example']:,.0f}",
                    f"{r['jpeg_bytes_per_example']:,.0f}",
                    f"{r['float32_bytes_per_example']:,.0f}",
                    r["uint8_over_pixels"],
                    r["uint8_over_raw"],
                    r["jpeg_over_raw"],
                    "-" if r["uint8_over_raw_larger"] is None else r["uint8_over_raw_larger"],
                    "-" if r["jpeg_over_raw_larger"] is None else r["jpeg_over_raw_larger"],
                    r["float32_over_uint8"],
                ]
                for r in rows
            ],
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
