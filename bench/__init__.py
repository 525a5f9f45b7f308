"""The benchmark (`python -m bench`, `make bench`): accuracy, size, latency and memory of every quantization mode,
the pipeline's wall time against a plain Keras script, the fixed cost per component, and ingestion scaling."""
