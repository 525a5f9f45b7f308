"""Packaging for the MobileNet TFX pipeline (install: `make setup`; `pip install .` works too, from any folder)."""

from setuptools import find_packages, setup

setup(
    name="mobilenet-pipeline",
    version="0.1.0",
    description="TFX pipeline that turns labelled images into versioned, Android-ready MobileNet models",
    python_requires=">=3.10,<3.11",
    packages=find_packages(include=["pipeline*", "components*", "kubeflow*", "schemas", "bench"]),
    package_data={"schemas": ["*.pbtxt"], "pipeline": ["profiles/*.yaml"], "kubeflow": ["Dockerfile*", "README.md"]},
    entry_points={"console_scripts": ["mobilenet-pipeline=pipeline.cli:command"]},
)
