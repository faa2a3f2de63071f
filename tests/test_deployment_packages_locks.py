"""The deployed functions' hash-locked requirements, checked without Docker or AWS: every
entry is hashed, the locks satisfy what they were compiled from (holefill's serving
dependencies and the layer's), and they resolve to Lambda's wheels on both architectures."""

import functools
import tomllib

import pytest
import requests
from deployment_helpers import IMAGE_LOCK, LAYER_LOCK, lambda_platforms, read_lock
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from holefill.twin.functions import REPO_ROOT

ARCHITECTURES = ("x86_64", "aarch64")


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
