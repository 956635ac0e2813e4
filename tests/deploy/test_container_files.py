"""What CI can check of the Docker image and compose file without a Docker engine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.unit

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (it is in the dev extra)")
    return path


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "deploy/Dockerfile.ray"])
def test_dockerfile_is_hadolint_clean(dockerfile):
    result = subprocess.run([tool("hadolint"), "--failure-threshold", "error", dockerfile], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape():
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert "bash scripts/install.sh" in text  # the README's install steps, not a copy of them
    deps = text.index("install.sh --deps-only")
    assert deps < text.index("COPY README.md") < text.index("COPY app app")  # dependencies before docs and code
    assert "\nUSER 10001" in text and "HEALTHCHECK" in text and "/readyz" in text and "/healthz" not in text
    assert "COPY checkpoints checkpoints" in text and "VOLUME" in text
    assert "ARG TORCH_VARIANT" in text and "ARG TORCH_INDEX_URL" in text
    assert "ENV TORCH" not in text and "TORCH_INDEX_URL=${" not in text  # build settings stay out of the runtime
    assert text.count("\nFROM ") == 2 and "EDITABLE=0" in text  # multi-stage, a copy of the code, not a link


def test_serving_installs_leave_out_training_dependencies():
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    serving = " ".join(project["dependencies"])
    assert "scipy" not in serving and "tqdm" not in serving and "ray" not in serving
    assert {"scipy", "tqdm"} <= {d.split("==")[0] for d in project["optional-dependencies"]["train"]}
    for dep in project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]:
        assert "==" in dep or dep.startswith(project["name"] + "["), f"{dep} is not pinned"  # or its own extras


def compose_config(*profile: str) -> dict:
    result = subprocess.run([tool("docker-compose"), "-f", "docker-compose.yml", *profile, "config", "--format",
                             "json"], cwd=REPO_ROOT, capture_output=True, text=True)
    # compose can print validation errors and still exit 0: both must be clean
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid_with_cpu_and_gpu_services():
    cpu = compose_config()["services"]
    assert set(cpu) == {"gan-studio"}
    service = cpu["gan-studio"]
    assert service["ports"][0]["target"] == 8000 and service["restart"] == "unless-stopped"
    assert "/readyz" in " ".join(service["healthcheck"]["test"])
    assert any(v["target"] == "/models" for v in service["volumes"])
    gpu = compose_config("--profile", "gpu")["services"]["gan-studio-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert gpu["environment"]["GAN_DEVICE"] == "cuda"
    assert gpu["build"]["args"]["TORCH_VARIANT"] == "cuda"
    assert service["ports"][0]["published"] != gpu["ports"][0]["published"]  # both can run at once


def test_readme_commands_match_the_makefile():
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make serve" in readme and "make test" in readme
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "scripts/install.sh" in makefile and "pytest" in makefile
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
    assert "make container-test" in (REPO_ROOT / ".ci" / "run").read_text()


def test_every_setting_is_in_the_readmes_table():
    from app.config import Settings

    rows = "\n".join(line for line in (REPO_ROOT / "README.md").read_text().splitlines() if line.startswith("| `GAN_"))
    missing = [f"GAN_{name.upper()}" for name in Settings.model_fields if f"`GAN_{name.upper()}`" not in rows]
    assert not missing, f"settings the README's table does not list: {missing}"
