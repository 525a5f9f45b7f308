"""The model registry: versioned TFLite models with manifests, an index and release channels, and its Pusher."""
