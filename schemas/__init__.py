"""The curated data schema, `schema.pbtxt` (installed with the package; `pipeline.config.DEFAULT_SCHEMA`)."""
