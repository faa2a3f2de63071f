"""The InpaintFunction's image, checked without Docker or AWS: its build context holds
serving code only, its base image is pinned, its packages fit their budget and still serve a
fill once pruned, and, replayed from its Dockerfile and the root .dockerignore into a clean
Python 3.12 environment, it runs its handler against SeaweedFS with no training package
importable."""

import datetime
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from deployment_helpers import (
    EVENTS,
    IMAGE_LOCK,
    TRAINING_PACKAGES,
    lambda_platforms,
    read_lock,
    run,
    run_handler,
)
from service_helpers import encode, mask_array, photo_array

from holefill.twin.functions import REPO_ROOT
from holefill_service import keys
from holefill_service.job_queue import job_ids
from holefill_service.jobs import Job, JobStatus, JobStore, now_utc

DOCKERFILE = REPO_ROOT / "functions" / "inpaint" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
PRUNE = REPO_ROOT / "functions" / "inpaint" / "prune.py"
BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"
# What the image's packages may take unpacked on x86_64 (megabytes of 10^6 bytes).
IMAGE_PACKAGES_BUDGET_MB = 450
NOT_SERVING_MODULES = (
    "holefill.nn",
    "holefill.training",
    "holefill.evaluation",
    "holefill.export",
    "holefill.masks",
    "holefill.cli",
    "holefill.twin",
)


def dockerignore_rules(text):
    """[(excludes, regex)] in order: Docker's syntax, as far as this repository uses it."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        regex = ""
        position = 0
        while position < len(pattern):
            if pattern.startswith("**/", position):
                regex, position = regex + "(?:.*/)?", position + 3
            elif pattern.startswith("**", position):
                regex, position = regex + ".*", position + 2
            elif pattern[position] == "*":
                regex, position = regex + "[^/]*", position + 1
            elif pattern[position] == "?":
                regex, position = regex + "[^/]", position + 1
            else:
                regex, position = regex + re.escape(pattern[position]), position + 1
        # A pattern that matches a folder matches everything in it.
        rules.append((excludes, re.compile(regex + "(?:/.*)?")))
    return rules


def build_context():
    """The files a fresh clone sends to Docker: tracked and untracked, minus .dockerignore."""
    rules = dockerignore_rules(DOCKERIGNORE.read_text())
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT
    ).stdout.splitlines()
    context = set()
    for path in listed:
        excluded = False
        for excludes, regex in rules:
            if regex.fullmatch(path):
                excluded = excludes
        if not excluded and (REPO_ROOT / path).is_file():
            context.add(path)
    return context


def dockerfile_instructions():
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            yield keyword.upper(), arguments.strip()


def replay_image(python, root, context):
    """The image's files under `root`, by the Dockerfile's own instructions: the base
    image's Python is a clean venv of `python`; COPY takes only files in `context`; RUN
    runs with that venv first on PATH. Returns (venv python, task root, ENV values, handler)."""
    venv, task_root, scratch = root / "venv", root / "var" / "task", root / "tmp"
    for folder in (task_root, scratch):
        folder.mkdir(parents=True)
    run([python, "-m", "venv", str(venv)])
    environment = {"LAMBDA_TASK_ROOT": str(task_root)}
    handler = None

    def expand(text):
        # The image's /tmp is `scratch`; variables after, whose values are real paths here.
        text = re.sub(r"(?<![\w/])/tmp/", f"{scratch}/", text)
        return re.sub(r"\$\{(\w+)\}", lambda match: environment[match.group(1)], text)

    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            assert arguments.startswith(f"{BASE_IMAGE}@sha256:"), arguments
        elif keyword == "ENV":
            name, _, value = arguments.partition("=")
            environment[name] = expand(value)
        elif keyword == "COPY":
            *sources, destination = shlex.split(arguments)
            destination = Path(expand(destination))
            for source in sources:
                files = sorted(p for p in context if p == source or p.startswith(f"{source}/"))
                assert files, f"COPY {source}: nothing in the build context (.dockerignore)"
                for file in files:
                    if file != source:
                        target = destination / Path(file).relative_to(source)
                    elif arguments.endswith("/"):
                        target = destination / Path(file).name
                    else:
                        target = destination
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(REPO_ROOT / file, target)
        elif keyword == "RUN":
            run(
                ["bash", "-euo", "pipefail", "-c", expand(arguments)],
                env={**os.environ, **environment, "PATH": f"{venv}/bin{os.pathsep}/usr/bin:/bin"},
            )
        elif keyword == "CMD":
            (handler,) = json.loads(arguments)
        else:
            raise ValueError(f"the replay does not know the Dockerfile instruction {keyword}")
    return venv / "bin" / "python", task_root, environment, handler


def test_the_build_context_holds_serving_code_only():
    context = build_context()
    assert "holefill/inference/inpainter.py" in context
    assert "models/default/model.tflite" in context
    packages = [module.replace(".", "/") + "/" for module in NOT_SERVING_MODULES]
    not_serving = (*packages, ".venv", "tests/", "frontend/")
    unwanted = [path for path in context if path.endswith(".keras") or path.startswith(not_serving)]
    assert not unwanted, unwanted


def directory_megabytes(path):
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file()) / 1e6


def test_the_base_image_is_pinned_by_digest():
    (base,) = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    assert re.fullmatch(re.escape(BASE_IMAGE) + r"@sha256:[0-9a-f]{64}", base), base


def install_image_lock(target, *platform_arguments):
    """The image's lock, installed as its Dockerfile installs it (wheels only, hashes
    checked, nothing resolved), into `target`."""
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-cache-dir",
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(target),
            *platform_arguments,
            "-r",
            str(IMAGE_LOCK),
        ]
    )


def prune(site_packages):
    run([sys.executable, str(PRUNE), str(site_packages)])


@pytest.mark.slow
def test_the_image_packages_fit_their_budget(tmp_path):
    """What the Dockerfile leaves of the lock on Lambda's x86_64 Python 3.12, unpacked, is
    within the budget: pip installs the cp312 wheels into a folder (no Docker, no 3.12
    interpreter needed), `prune.py` runs on it, and the files are summed."""
    site_packages = tmp_path / "site-packages"
    install_image_lock(
        site_packages,
        *(
            argument
            for platform in lambda_platforms("x86_64")
            for argument in ("--platform", platform)
        ),
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
        "--abi",
        "cp312",
    )
    assert (site_packages / "scipy").is_dir() and (site_packages / "ai_edge_litert").is_dir()
    installed = directory_megabytes(site_packages)
    prune(site_packages)
    left = directory_megabytes(site_packages)
    print(f"image packages: {installed:.0f} MB as locked, {left:.0f} MB pruned", file=sys.stderr)
    assert left <= IMAGE_PACKAGES_BUDGET_MB, f"{left:.0f} MB (as locked: {installed:.0f} MB)"


# Serves a fill from the packages of sys.path alone (python -S): the photo's error map
# runs the biharmonic diffusion (SciPy's sparse solver) and LiteRT; a HEIC is decoded.
SERVE_FROM_PACKAGES = """
import io, json, sys
import numpy as np
from PIL import Image
import pillow_heif
from holefill import Inpainter

rng = np.random.default_rng(0)
photo = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
mask = np.zeros((96, 128), np.uint8)
mask[30:60, 40:90] = 255
encoded = {}
for name, array, image_format in (("photo", photo, "HEIF"), ("mask", mask, "PNG")):
    if image_format == "HEIF":
        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=image_format)
    encoded[name] = buffer.getvalue()
inpainter = Inpainter.load(sys.argv[1], threads=1)
inpainting = inpainter.inpaint(encoded["photo"], encoded["mask"], uncertainty="error-map")
print(json.dumps({
    "format": inpainting.photo.format,
    "result_bytes": len(inpainting.encode()),
    "map": inpainting.uncertainty.method,
    "paths": [path for path in sys.path if "site-packages" in path],
}))
"""


def copy_installed(lock, target):
    """The lock's packages as this interpreter has them installed, copied file by file
    into `target`: the same layout at the versions this Python runs."""
    for name, (requirement, _) in read_lock(lock).items():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files:
            source = Path(distribution.locate_file(file))
            if ".." not in file.parts and source.is_file():
                (target / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target / file)


@pytest.mark.slow
def test_the_pruned_packages_serve_a_fill(tmp_path):
    """`prune.py` deletes nothing that serving loads: the image's packages (as this
    interpreter has them), pruned, run the inpainting alone (no other site-packages)."""
    site_packages = tmp_path / "site-packages"
    copy_installed(IMAGE_LOCK, site_packages)
    prune(site_packages)
    assert not (site_packages / "scipy" / "stats").exists()
    script = tmp_path / "serve.py"
    script.write_text(SERVE_FROM_PACKAGES)
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(site_packages), str(REPO_ROOT)]),
    }
    result = run(
        [sys.executable, "-S", str(script), str(REPO_ROOT / "models" / "default")],
        env=environment,
        cwd=tmp_path,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # A HEIC comes back as a JPEG, which every app opens.
    assert report["format"] == "JPEG" and report["result_bytes"] > 1000, report
    assert report["map"] == "error-map", report
    assert report["paths"] == [str(site_packages)], report


@pytest.mark.slow
def test_the_image_runs_the_inpaint_event_with_serving_code_only(
    python312, tmp_path, twin, lambda_environment_variables
):
    python, task_root, image_environment, handler = replay_image(
        python312, tmp_path / "image", build_context()
    )
    # The event names the job it runs: a real one, with a real photo and mask.
    event_path = EVENTS / "inpaint.json"
    (job_id,) = job_ids(json.loads(event_path.read_text()))
    settings = twin.config.settings
    s3 = twin.seaweed.client()
    upload_id = keys.new_id()
    photo_key, mask_key = keys.upload_key(upload_id, "photo"), keys.upload_key(upload_id, "mask")
    s3.put_object(Bucket=settings.uploads_bucket, Key=photo_key, Body=encode(photo_array()))
    s3.put_object(Bucket=settings.uploads_bucket, Key=mask_key, Body=encode(mask_array()))
    now = now_utc()
    store = JobStore(s3, settings.results_bucket)
    s3.delete_object(Bucket=settings.results_bucket, Key=keys.job_key(job_id))
    store.create(
        Job(
            id=job_id,
            status=JobStatus.QUEUED,
            photo_key=photo_key,
            mask_key=mask_key,
            secret_sha256=keys.secret_digest("deployment packages test"),
            strategy="auto",
            uncertainty="auto",
            created_at=now,
            updated_at=now,
            deadline=now + datetime.timedelta(seconds=120),
        )
    )

    report = run_handler(
        str(python),
        handler,
        event_path,
        "holefill-prod-inpaint",
        {
            **lambda_environment_variables,
            **image_environment,
            "POWERTOOLS_SERVICE_NAME": "holefill-inpaint",
        },
        [str(task_root)],
        [*TRAINING_PACKAGES, *NOT_SERVING_MODULES],
    )
    assert report["python"] == [3, 12]
    assert report["answer"] == [JobStatus.DONE], report
    assert report["importable"] == [], report
    done, _ = store.load(job_id)
    assert done.status == JobStatus.DONE
    result = s3.get_object(Bucket=settings.results_bucket, Key=done.result_key)["Body"].read()
    assert result.startswith(b"\x89PNG")
    site_packages = next((tmp_path / "image" / "venv" / "lib").glob("python3.12/site-packages"))
    print(
        f"image layers over the base image: dependencies {directory_megabytes(site_packages):.0f}"
        f" MB, task root {directory_megabytes(task_root):.1f} MB",
        file=sys.stderr,
    )
