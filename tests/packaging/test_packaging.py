"""What each install gives: the dev extra everything the tests need, the service none of training's libraries,
and the client nothing of the server."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from tests.helpers import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]


def names(requirements: list[str]) -> set[str]:
    return {r.split("==")[0].split("[")[0].strip().lower() for r in requirements}


@pytest.mark.unit
def test_the_dev_extra_brings_training_and_ray_along():
    extras = PROJECT["optional-dependencies"]
    dev = extras["dev"]
    brought = set()
    for requirement in dev:
        if requirement.startswith(PROJECT["name"] + "["):  # the project's own extras
            for extra in requirement.split("[", 1)[1].rstrip("]").split(","):
                brought |= names(extras[extra.strip()])
    assert names(extras["train"]) <= brought | names(dev)  # scipy, tqdm, scikit-learn: the evaluator's tests
    assert names(extras["ray"]) <= brought | names(dev)


@pytest.mark.unit
def test_serving_installs_no_training_library():
    assert not names(PROJECT["dependencies"]) & names(PROJECT["optional-dependencies"]["train"])


@pytest.mark.integration
def test_the_client_imports_nothing_of_the_server():
    code = ("import sys, gan_client, gan_client.cli; "
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'app', 'models', 'training', 'torch', 'fastapi'}); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_the_fastapi_conventions_find_the_app():
    """``uvicorn app.main:app`` (and gunicorn's uvicorn worker, fastapi run) look up a module attribute ``app``;
    importing the module builds nothing."""
    code = ("import app.main as m; assert m._app is None; "
            "from uvicorn.importer import import_from_string; a = import_from_string('app.main:app'); "
            "from fastapi import FastAPI; assert isinstance(a, FastAPI) and a is m.app; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={"GAN_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and "ok" in done.stdout, done.stdout + done.stderr
