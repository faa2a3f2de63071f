"""What the deployed functions install, checked without Docker or AWS: the hash-locked
requirements resolve to Lambda's wheels on both architectures, the zip function builds
with SAM on Python 3.12, and the InpaintFunction's image, replayed from its Dockerfile and
the root .dockerignore into a clean Python 3.12 environment, runs its handler against
SeaweedFS with no training package importable."""

import datetime
import functools
import glob
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from test_service import encode, mask_array, photo_array

from holefill.twin.functions import REPO_ROOT
from holefill_service import keys
from holefill_service.job_queue import job_ids
from holefill_service.jobs import Job, JobStatus, JobStore, now_utc

LAYER_LOCK = REPO_ROOT / "layers" / "common" / "requirements.txt"
IMAGE_LOCK = REPO_ROOT / "functions" / "inpaint" / "requirements.txt"
DOCKERFILE = REPO_ROOT / "functions" / "inpaint" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
EVENTS = REPO_ROOT / "events"
PRUNE = REPO_ROOT / "functions" / "inpaint" / "prune.py"
BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"
# What the image's packages may take unpacked on x86_64 (megabytes of 10^6 bytes).
IMAGE_PACKAGES_BUDGET_MB = 450
# Lambda's python3.12 runtime runs on Amazon Linux 2023: glibc 2.34.
LAMBDA_GLIBC_MINOR = 34
ARCHITECTURES = ("x86_64", "aarch64")
TRAINING_PACKAGES = ("keras", "tensorflow", "jax", "torch", "tensorboardX", "matplotlib")
NOT_SERVING_MODULES = (
    "holefill.nn",
    "holefill.training",
    "holefill.evaluation",
    "holefill.export",
    "holefill.masks",
    "holefill.cli",
    "holefill.twin",
)


# --- the locks ---------------------------------------------------------------------------


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


def pinned_version(requirement):
    (pin,) = requirement.specifier
    return pin.version


def source_requirements():
    """What the locks are compiled from: holefill's serving dependencies, and the layer's."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    layer = [
        line.strip()
        for line in (REPO_ROOT / "layers" / "common" / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [Requirement(line) for line in project["dependencies"]], [Requirement(x) for x in layer]


@pytest.mark.parametrize("lock", [LAYER_LOCK, IMAGE_LOCK], ids=["layer", "image"])
def test_every_lock_entry_is_hashed(lock):
    pins = read_lock(lock)
    assert pins
    assert all(hashes for _, hashes in pins.values()), lock


def test_the_locks_satisfy_what_they_were_compiled_from():
    serving, layer = source_requirements()
    layer_pins, image_pins = read_lock(LAYER_LOCK), read_lock(IMAGE_LOCK)
    stale = [
        f"{lock_name}: {requirement} (locked {pinned_version(pins[name][0])})"
        if name in pins
        else f"{lock_name}: {requirement} (missing)"
        for lock_name, pins, requirements in (
            ("layer", layer_pins, layer),
            ("image", image_pins, [*serving, *layer]),
        )
        for requirement in requirements
        if (name := canonicalize_name(requirement.name)) not in pins
        or not requirement.specifier.contains(pinned_version(pins[name][0]), prereleases=True)
    ]
    assert not stale, f"run `make lock`: {stale}"
    # The image runs the layer's code: it must run it on the layer's versions.
    differing = [
        name
        for name, (requirement, _) in layer_pins.items()
        if name not in image_pins or image_pins[name][0].specifier != requirement.specifier
    ]
    assert not differing, f"the image and the layer lock these differently: {differing}"


def lambda_environment(architecture):
    """Marker values of Lambda's python3.12 runtime on `architecture`."""
    return {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": architecture,
        "python_version": "3.12",
        "python_full_version": "3.12.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


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


def lambda_wheel_tags(architecture):
    platforms = lambda_platforms(architecture)
    return {
        *cpython_tags(python_version=(3, 12), abis=["cp312", "abi3", "none"], platforms=platforms),
        *compatible_tags(python_version=(3, 12), interpreter="cp312", platforms=platforms),
    }


@functools.cache
def released_wheels(name):
    """[(filename, sha256, requires-python)] of every wheel of `name`, from PyPI's index
    (PEP 691), as pip and SAM's builder read it."""
    url = f"https://pypi.org/simple/{name}/"
    try:
        response = requests.get(
            url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30
        )
        response.raise_for_status()
    except requests.RequestException as error:
        pytest.fail(f"PyPI is needed to check the locks' wheels: {url}: {error}")
    return [
        (file["filename"], file["hashes"].get("sha256"), file.get("requires-python") or "")
        for file in response.json()["files"]
        if file["filename"].endswith(".whl")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("lock", [LAYER_LOCK, IMAGE_LOCK], ids=["layer", "image"])
def test_the_locks_resolve_to_lambda_wheels(lock, architecture):
    """Every locked package that Lambda's Python 3.12 needs on `architecture` has a wheel
    for it (no build from source in `sam build` or the image) whose hash the lock holds."""
    tags = lambda_wheel_tags(architecture)
    environment = lambda_environment(architecture)
    missing = []
    for name, (requirement, hashes) in read_lock(lock).items():
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        wheels = [
            filename
            for filename, sha256, requires_python in released_wheels(name)
            if sha256 in hashes
            and tags & set(parse_wheel_filename(filename)[3])
            # pip reads this from the index and refuses what excludes 3.12.
            and SpecifierSet(requires_python).contains("3.12.0")
        ]
        if not wheels:
            missing.append(f"{name}=={pinned_version(requirement)}")
    assert not missing, f"no cp312 {architecture} wheel with a locked hash: {missing}"


# --- Python 3.12, Lambda's runtime -------------------------------------------------------


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


@pytest.fixture(scope="module")
def python312():
    interpreter = python_3_12()
    if interpreter is None:
        pytest.skip(
            "no Python 3.12 here (Lambda's runtime, which `sam build` and the image's "
            "dependencies need): install one, for example with `pyenv install 3.12`"
        )
    return interpreter


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


@pytest.fixture(scope="module")
def lambda_environment_variables(twin):
    """What the stack sets for the functions, with the twin's SeaweedFS as S3."""
    return twin.function_environment()


# --- the zip function and its layer ------------------------------------------------------


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


# --- the InpaintFunction's image -------------------------------------------------------


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
