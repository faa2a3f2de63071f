"""What the tests of the deployed functions' packages share (tests/test_deployment_packages_*.py):
the hash-locked requirements read, the wheel platforms of Lambda's glibc, a Python 3.12
interpreter found, and commands and handlers run as Lambda runs them. The `python312` and
`lambda_environment_variables` fixtures are in conftest.py."""

import functools
import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from holefill.twin.functions import REPO_ROOT

LAYER_LOCK = REPO_ROOT / "layers" / "common" / "requirements.txt"
IMAGE_LOCK = REPO_ROOT / "functions" / "inpaint" / "requirements.txt"
EVENTS = REPO_ROOT / "events"
# Lambda's python3.12 runtime runs on Amazon Linux 2023: glibc 2.34.
LAMBDA_GLIBC_MINOR = 34
TRAINING_PACKAGES = ("keras", "tensorflow", "jax", "torch", "tensorboardX", "matplotlib")


def read_lock(path):
    """{name: (Requirement, set of sha256)} of a `uv pip compile --generate-hashes` file."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        specification, *hashes = re.split(r"\s+--hash=", line)
        requirement = Requirement(specification)
        (pin,) = requirement.specifier
        if pin.operator != "==":
            raise ValueError(f"{path}: {specification!r} is not pinned with ==")
        pins[canonicalize_name(requirement.name)] = (
            requirement,
            {digest.removeprefix("sha256:") for digest in hashes},
        )
    return pins


def lambda_platforms(architecture):
    """The wheel platforms that Lambda's glibc runs, newest first."""
    platforms = [
        f"manylinux_2_{minor}_{architecture}" for minor in range(LAMBDA_GLIBC_MINOR, 4, -1)
    ]
    # The legacy names of glibc 2.17, 2.12 and 2.5.
    platforms += [f"manylinux2014_{architecture}"]
    if architecture == "x86_64":
        platforms += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    return platforms


@functools.cache
def python_3_12():
    """A Python 3.12 interpreter, or None: on PATH, or one that pyenv installed."""
    found = shutil.which("python3.12")
    candidates = [found] if found else []
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.12*/bin/python3.12"))
    for candidate in candidates:
        # pyenv's shim exists on PATH even where its 3.12 is not the selected version.
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 12)":
            return candidate
    return None


def run(command, **options):
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, **options)
    assert result.returncode == 0, f"{command}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


# Runs a handler as Lambda would (module-level set-up, then one event), then reports what
# the environment could import.
RUN_HANDLER = """
import importlib, importlib.util, json, sys, types

module_name, function_name = sys.argv[1].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)
context = types.SimpleNamespace(
    function_name=sys.argv[3],
    memory_limit_in_mb=1024,
    invoked_function_arn="arn:aws:lambda:local:000000000000:function:" + sys.argv[3],
    aws_request_id="deployment-packages-test",
    get_remaining_time_in_millis=lambda: 300_000,
)
with open(sys.argv[2]) as event:
    answer = handler(json.load(event), context)


def importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


print(json.dumps({
    "answer": answer,
    "importable": [name for name in sys.argv[4].split(",") if importable(name)],
    "python": list(sys.version_info[:2]),
}))
"""


def run_handler(python, handler, event, function_name, environment, path, unwanted):
    result = run(
        [
            python,
            "-c",
            RUN_HANDLER,
            handler,
            str(event),
            function_name,
            ",".join(unwanted),
        ],
        env={**environment, "PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(path)},
        cwd=path[0],
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
