"""The cost model against measured jobs: estimated and measured seconds side by side.

    .venv/bin/python bench/cost.py [--model models/default] [--threads N] [--jobs a,b]

Each job (a scikit-image photo scaled up, JPEG to JPEG, with the card's uncertainty map,
as the API serves it) runs in a fresh process, so that its peak memory is its own. Prints
per job the estimate of the card's `cost` section (`holefill measure-cost` writes it) by
part, the measured seconds and their ratio, the estimated and the measured peak memory
(GB), and whether the card's budgets serve the job (each job runs either way).
"""

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

# name: (width, height, holes), holes one of "object" (an ellipse of 5% of the photo) or
# "grid" (strokes of 10 px every 250 px, the 50 MP stroke grid).
JOBS = {
    "12 MP one object (5%)": (4000, 3000, "object"),
    "12 MP stroke grid": (4000, 3000, "grid"),
    "50 MP stroke grid": (8660, 5773, "grid"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--threads", type=int)
    parser.add_argument("--jobs", help="comma-separated job names (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(run_job(arguments.model, arguments.threads, arguments.child)))
        return
    names = arguments.jobs.split(",") if arguments.jobs else list(JOBS)
    print(
        "| job | estimate (s): network / synthesis / regions / photo | estimate (GB) "
        "| measured (s) | measured / estimate | peak RSS (GB) | served |"
    )
    print("|---|---|---:|---:|---:|---:|---|")
    for name in names:
        command = [sys.executable, __file__, "--model", str(arguments.model), "--child", name]
        if arguments.threads:
            command += ["--threads", str(arguments.threads)]
        child = subprocess.run(command, check=True, capture_output=True, text=True)
        result = json.loads(child.stdout.splitlines()[-1])
        parts, gigabytes = result["estimate"], result["estimate_gb"]
        total = sum(parts.values())
        print(
            f"| {name} | {' / '.join(f'{seconds:.1f}' for seconds in parts.values())} "
            f"= {total:.1f} | {sum(gigabytes.values()):.2f} | {result['seconds']:.1f} | "
            f"{result['seconds'] / total:.2f} | {result['peak_gb']:.2f} | {result['served']} |",
            flush=True,
        )


def run_job(model_dir, threads, name):
    from skimage import data

    from holefill import Inpainter
    from holefill.errors import InputTooLargeError
    from holefill.inference.cost import UNBOUNDED, CostModel, Job, peak_resident_gb

    width, height, kind = JOBS[name]
    photo = Image.fromarray(data.astronaut()).resize((width, height), Image.BICUBIC)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=92)
    holes = np.zeros((height, width), bool)
    if kind == "object":
        side_y, side_x = int(height * 0.2), int(width * 0.2)
        rows, columns = np.ogrid[:height, :width]
        ellipse = ((rows - height / 2) / (side_y / 1.6)) ** 2 + (
            (columns - width / 2) / (side_x / 1.6)
        ) ** 2
        holes = ellipse <= 1
    else:
        for start in range(125, height, 250):
            holes[start : start + 10] = True
        for start in range(125, width, 250):
            holes[:, start : start + 10] = True
    # Run whatever the card's budget says, to compare its estimate with the truth.
    inpainter = Inpainter.load(model_dir, threads=threads, cost=UNBOUNDED)
    card = CostModel.from_card(inpainter.model.card)
    job = Job.of(holes, inpainter.plan(holes), samples=0, fill="synthesis")
    estimate, estimate_gb = card.estimate(job), card.estimate_gb(job)
    try:
        card.check(job)
        served = "yes"
    except InputTooLargeError as error:
        served = "no: " + error.message.split(". ")[0]
    jpeg = buffer.getvalue()
    started = time.perf_counter()
    inpainter.inpaint(jpeg, holes, uncertainty="auto").encode()
    seconds = time.perf_counter() - started
    return {
        "estimate": estimate,
        "estimate_gb": estimate_gb,
        "seconds": seconds,
        "peak_gb": peak_resident_gb(),
        "served": served,
    }


if __name__ == "__main__":
    main()
