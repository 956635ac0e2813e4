"""The client's own distribution, client/: one copy of gan_client, pins that agree with the project's, and a wheel
that holds the client alone and installs, with no network, into a fresh environment that has nothing of the
server (nor numpy, an extra)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import REPO_ROOT

CLIENT = REPO_ROOT / "client"
CLIENT_PROJECT = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
ROOT_PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
SERVER = ("torch", "fastapi", "uvicorn", "app", "models", "training")


@pytest.mark.unit
def test_the_client_is_its_own_distribution_with_the_projects_pins():
    assert not (REPO_ROOT / "gan_client").exists() and (CLIENT / "gan_client" / "__init__.py").is_file()
    assert "gan-client" not in ROOT_PROJECT["scripts"]
    assert CLIENT_PROJECT["scripts"] == {"gan-client": "gan_client.cli:cli"}
    client_pins = CLIENT_PROJECT["dependencies"] + CLIENT_PROJECT["optional-dependencies"]["numpy"]
    # the same pins as the service's, so that one environment holds both (scripts/install.sh makes one)
    assert set(client_pins) <= set(ROOT_PROJECT["dependencies"]), client_pins
    assert not {canonicalize_name(Requirement(r).name) for r in client_pins} & set(SERVER)


def installed_closure(requirements: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions that ``requirements`` need, and theirs, with markers as this Python reads them."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found[name] = dist = importlib.metadata.distribution(requirement.name)
        for text in dist.requires or []:
            needed = Requirement(text)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in ("", *requirement.extras)):
                todo.append(needed)
    return list(found.values())


def link_into(site: Path, dists: list[importlib.metadata.Distribution]) -> None:
    """Links each distribution's top-level files and folders (its packages, its .dist-info) into ``site``."""
    site.mkdir()
    for dist in dists:
        tops = {f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")}
        for top in tops:
            source = Path(dist.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)


@pytest.mark.integration
def test_the_client_wheel_installs_alone_without_the_server(tmp_path):
    """pip builds the wheel from a copy of client/ (no build isolation: no network) and installs it with
    --no-index into a new venv whose only other packages are the installed ones the client's pins name, linked in
    by a .pth file; there it imports, runs ``gan-client --help``, and finds nothing of the server."""
    run = lambda *args, **kw: subprocess.run([str(a) for a in args], capture_output=True, text=True,  # noqa: E731
                                             timeout=120, **kw)
    quiet = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    source, wheels = tmp_path / "client", tmp_path / "wheels"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                "-w", wheels, source, env=quiet)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("gan_client-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("gan_client/", "gan_client-")) for n in names), names  # the client and its metadata
    assert "gan_client/cli.py" in names

    venv = tmp_path / "venv"
    made = run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stdout + made.stderr
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull,
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    python = venv / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", env=env).stdout.strip()
    link_into(tmp_path / "site", installed_closure(CLIENT_PROJECT["dependencies"]))
    (Path(purelib) / "gan-client-deps.pth").write_text(f"{tmp_path / 'site'}\n")

    installed = run(python, "-m", "pip", "install", "--no-index", "--no-cache-dir", wheel, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Successfully installed gan-client-0.1.0" in installed.stdout.splitlines()  # its pins met, nothing added

    code = (
        "import importlib.util, gan_client, gan_client.cli\n"
        f"assert gan_client.__file__.startswith({purelib!r}), gan_client.__file__\n"
        f"found = [m for m in {(*SERVER, 'numpy')!r} if importlib.util.find_spec(m)]\n"
        "assert not found, found\n"
        "try:\n"
        "    gan_client.GanClient('http://127.0.0.1:9').generate_array('dcgan-mnist')\n"
        "except ImportError as e:\n"
        "    assert 'gan-client[numpy]' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('generate_array ran without numpy')\n"
        "print('ok')\n"
    )
    away = tmp_path / "elsewhere"  # not the checkout, whose folders would be importable from the working directory
    away.mkdir()
    checked = run(python, "-c", code, env=env, cwd=away)
    assert checked.returncode == 0 and checked.stdout.strip() == "ok", checked.stdout + checked.stderr
    helped = run(venv / "bin" / "gan-client", "--help", env=env, cwd=away)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: gan-client"), helped.stdout + helped.stderr
    assert "generate" in helped.stdout and "encode" in helped.stdout
