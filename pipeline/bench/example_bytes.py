"""Bytes per example on disk: what ExampleGen stores (the encoded file), what the Transform stores now (uint8
pixels as a serialized tensor), and what it stored before (float32 pixels in [-1, 1]), each as a GZIP TFRecord of
tf.Examples, the format both components write.

    python -m pipeline.bench.example_bytes DATA_FOLDER --sizes 96 224 [--limit 500]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

from components.ingestion import image_files
from pipeline.run_summary import render_table


def _gzip_bytes(path: str, examples: list[Any]) -> int:
    import tensorflow as tf

    with tf.io.TFRecordWriter(path, options=tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for example in examples:
            writer.write(example.SerializeToString())
    return os.path.getsize(path)


def measure(files: list[tuple[str, str]], size: int, scratch: str) -> dict[str, Any]:
    """Bytes per example of (filename, label) pairs at input `size`: raw, uint8 (now), float32 (before)."""
    import tensorflow as tf

    from components.transform import preprocessing

    def feature(**kwargs: Any) -> Any:
        return tf.train.Feature(**kwargs)

    label_index = {name: index for index, name in enumerate(sorted({label for _, label in files}))}
    raw, uint8, float32 = [], [], []
    for path, label in files:
        with open(path, "rb") as handle:
            encoded = handle.read()
        pixels = preprocessing.decode_images(tf.constant([encoded]), size)
        label_feature = feature(int64_list=tf.train.Int64List(value=[label_index[label]]))
        raw.append(tf.train.Example(features=tf.train.Features(feature={
            preprocessing.IMAGE_KEY: feature(bytes_list=tf.train.BytesList(value=[encoded])),
            preprocessing.LABEL_KEY: feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
            "filename": feature(bytes_list=tf.train.BytesList(value=[os.path.basename(path).encode()]))})))
        uint8.append(tf.train.Example(features=tf.train.Features(feature={
            preprocessing.IMAGE_XF: feature(bytes_list=tf.train.BytesList(
                value=[preprocessing.encode_pixels(pixels)[0].numpy()])),
            preprocessing.LABEL_XF: label_feature})))
        float32.append(tf.train.Example(features=tf.train.Features(feature={
            preprocessing.IMAGE_XF: feature(float_list=tf.train.FloatList(
                value=preprocessing.scale_to_model_range(pixels).numpy().ravel())),
            preprocessing.LABEL_XF: label_feature})))
    count = len(files)
    result = {"input_size": size, "examples": count, "uint8_pixel_bytes": size * size * 3}
    for name, examples in (("raw", raw), ("uint8", uint8), ("float32", float32)):
        result[f"{name}_bytes_per_example"] = _gzip_bytes(os.path.join(scratch, f"{name}-{size}.gz"), examples) / count
    result["uint8_over_pixels"] = round(result["uint8_bytes_per_example"] / result["uint8_pixel_bytes"], 3)
    result["uint8_over_raw"] = round(result["uint8_bytes_per_example"] / result["raw_bytes_per_example"], 3)
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
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench.example_bytes", description=__doc__.split("\n")[0])
    parser.add_argument("data", help="folder of class sub-folders of images")
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 224], help="input sizes (default 96 224)")
    parser.add_argument("--limit", type=int, default=500, help="images to measure (default 500)")
    args = parser.parse_args(argv)
    files = image_list(args.data, args.limit)
    if not files:
        sys.stderr.write(f"error: no images in class folders under {args.data}\n")
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        rows = [measure(files, size, scratch) for size in args.sizes]
    headers = ["size", "images", "raw B/ex", "uint8 B/ex", "float32 B/ex", "uint8/pixels", "uint8/raw", "float32/uint8"]
    sys.stdout.write(render_table(headers, [[
        r["input_size"], r["examples"], f"{r['raw_bytes_per_example']:,.0f}", f"{r['uint8_bytes_per_example']:,.0f}",
        f"{r['float32_bytes_per_example']:,.0f}", r["uint8_over_pixels"], r["uint8_over_raw"],
        r["float32_over_uint8"]] for r in rows]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
