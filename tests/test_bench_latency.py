"""`bench.latency`: int8 against float32 on LiteRT and TensorFlow's interpreter, from real conversions (at 32 px
here, to stay quick; `make bench` measures 224 px)."""

from bench import latency
from components.tflite import runtimes


def test_each_network_runtime_and_thread_count_gets_a_measured_row(tmp_path):
    rows = latency.measure(32, (1, 2), runs=3, warmup=1, scratch=str(tmp_path), alphas={"v1": 0.25, "v2": 0.35})
    assert [(r["architecture"], r["runtime"], r["threads"]) for r in rows] == [
        (architecture, runtime, threads)
        for architecture in ("v1", "v2")
        for runtime in (runtimes.LITERT, runtimes.TENSORFLOW)
        for threads in (1, 2)
    ]
    for row in rows:
        assert row["float32_ms"] > 0 and row["int8_ms"] > 0
        assert abs(row["ratio"] * row["float32_ms"] - row["int8_ms"]) <= 0.002  # both medians rounded to 1 us
        assert row["int8_bytes"] < row["float32_bytes"] / 2
        assert row["int8_quantize_ops"] == 1 and row["int8_dequantize_ops"] == 1  # float input and output only
    assert "v1 0.25 32 px" in latency.table(rows) and "ai-edge-litert" in latency.table(rows)


def test_litert_rows_also_time_uint8_io_and_the_int8_file_without_xnnpack(tmp_path):
    rows = latency.measure(32, (1,), runs=3, warmup=1, scratch=str(tmp_path), alphas={"v1": 0.25, "v2": 0.35})
    litert = [row for row in rows if row["runtime"] == runtimes.LITERT]
    assert litert and all(row["int8_uint8_io_ratio"] > 0 and row["int8_without_xnnpack_ratio"] > 0 for row in litert)
    assert not any("int8_uint8_io_ratio" in row for row in rows if row["runtime"] == runtimes.TENSORFLOW)
    assert all(row["ops"] > 10 for row in rows)
