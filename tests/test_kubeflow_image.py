"""The container images' inputs: the GPU lock adds CUDA's wheels without moving a pin of the project's lock, and the
Dockerfile installs it only for ACCELERATOR=gpu. (No Docker engine runs here: the images themselves are not built.)"""

import re

from pipeline.config import REPO_ROOT


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", line):
            pins[re.sub(r"\[.*\]", "", match.group(1)).lower()] = match.group(2)
    return pins


def test_the_gpu_lock_adds_cuda_and_moves_no_pin():
    project, gpu = _pins(REPO_ROOT / "requirements.lock"), _pins(REPO_ROOT / "kubeflow" / "requirements-gpu.lock")
    assert {name: version for name, version in gpu.items() if name in project and project[name] != version} == {}
    added = sorted(set(gpu) - set(project))
    assert added and all(name.startswith("nvidia-") for name in added), added
    assert gpu["tensorflow"] == project["tensorflow"] and "nvidia-cudnn-cu12" in added


def test_the_dockerfile_installs_the_gpu_lock_only_for_a_gpu_image():
    text = (REPO_ROOT / "kubeflow" / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG ACCELERATOR=cpu" in text
    assert 'if [ "$ACCELERATOR" = gpu ]; then' in text and "-r requirements-gpu.lock" in text
    assert "COPY requirements.lock kubeflow/requirements-gpu.lock ./" in text
