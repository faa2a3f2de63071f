"""Deletes what the InpaintFunction's packages ship and nothing in the image loads: the
test suites of NumPy and SciPy; SciPy's subpackages beyond the sparse solver that the
biharmonic diffusion uses (`scipy.sparse.linalg` loads `sparse`, `linalg`, `_lib`; `special`
and `fft` are kept for what `linalg` may load lazily); and LiteRT's WebGPU accelerator,
tools and vendors' compiler plugins (its classic interpreter runs on the CPU alone).
About 125 MB of the image.

Run by the Dockerfile after the install, with no argument (the image's site-packages);
tests/test_deployment_packages_image.py runs it on a folder of its own, then measures what is
left against the image's budget and serves a fill from it.
"""

import shutil
import sys
import sysconfig
from pathlib import Path

UNUSED = (
    "numpy/**/tests",
    "scipy/**/tests",
    *(
        f"scipy/{subpackage}"
        for subpackage in (
            "cluster",
            "constants",
            "datasets",
            "differentiate",
            "fftpack",
            "integrate",
            "interpolate",
            "io",
            "misc",
            "ndimage",
            "odr",
            "optimize",
            "signal",
            "spatial",
            "stats",
        )
    ),
    "ai_edge_litert/libLiteRtWebGpuAccelerator.so",
    "ai_edge_litert/tools",
    "ai_edge_litert/vendors",
)


def prune(site_packages):
    """Deletes `UNUSED` under `site_packages`; returns how many paths it deleted."""
    deleted = 0
    for pattern in UNUSED:
        # Deepest first: a folder is gone before the glob would reach into it.
        for path in sorted(Path(site_packages).glob(pattern), key=lambda p: -len(p.parts)):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            deleted += 1
    if deleted == 0:
        raise SystemExit(f"nothing to prune under {site_packages}: the packages moved")
    return deleted


if __name__ == "__main__":
    prune(sys.argv[1] if len(sys.argv) > 1 else sysconfig.get_paths()["purelib"])
