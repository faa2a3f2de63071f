"""What the zip function and the wheel install, checked without Docker or AWS: the
ApiFunction builds with SAM on Python 3.12 and answers with its layer alone, and `pip
install holefill` gets the library and the command without the twin."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from deployment_helpers import EVENTS, TRAINING_PACKAGES, run, run_handler

from holefill.twin.functions import REPO_ROOT


@pytest.mark.slow
@pytest.mark.stack
def test_sam_builds_the_api_function_and_it_answers(
    python312, tmp_path, lambda_environment_variables
):
    sam = REPO_ROOT / ".venv-stack" / "bin" / "sam"
    if not sam.exists():
        pytest.fail(f"{sam} is missing: `make test` installs the stack tools into .venv-stack")
    build_dir = tmp_path / "build"
    run(
        [
            str(sam),
            "build",
            "ApiFunction",
            "--template",
            "template.yaml",
            "--build-dir",
            str(build_dir),
            # samconfig.toml's cached build would keep dependencies in the repository.
            "--no-cached",
        ],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            # SAM builds a python3.12 function with the first python3.12 on PATH.
            "PATH": f"{Path(python312).parent}{os.pathsep}{os.environ['PATH']}",
            "SAM_CLI_TELEMETRY": "0",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    function_dir, layer_dir = build_dir / "ApiFunction", build_dir / "CommonLayer" / "python"
    assert (function_dir / "app.py").exists()
    assert (layer_dir / "holefill_service" / "jobs.py").exists()
    # Nothing but the layer's packages: holefill and its model never reach the zip.
    assert not list(build_dir.rglob("holefill/inference/inpainter.py"))

    # Lambda's path for a zip function: its folder, then the layer's python/.
    environment = {
        **lambda_environment_variables,
        "POWERTOOLS_SERVICE_NAME": "holefill-api",
        "JOB_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/holefill-prod-jobs",
        "ALLOWED_ORIGIN": "https://example.com",
    }
    venv = tmp_path / "venv"
    run([python312, "-m", "venv", "--without-pip", str(venv)])
    report = run_handler(
        str(venv / "bin" / "python"),
        "app.handler",
        EVENTS / "api-get-health.json",
        "holefill-prod-api",
        environment,
        [str(function_dir), str(layer_dir)],
        ["numpy", "holefill", *TRAINING_PACKAGES],
    )
    assert report["python"] == [3, 12]
    assert report["answer"]["statusCode"] == 200, report
    assert report["importable"] == [], report


@pytest.mark.slow
def test_the_wheel_holds_the_library_without_the_twin(tmp_path):
    """`pip install holefill` gets the library and the command; the twin runs from the
    source tree (`make run`) and is no part of it."""
    source = tmp_path / "source"
    shutil.copytree(
        REPO_ROOT / "holefill", source / "holefill", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "wheel"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("holefill-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "holefill/inference/inpainter.py" in names and "holefill/cli/main.py" in names
    assert not [name for name in names if name.startswith("holefill/twin/")]
