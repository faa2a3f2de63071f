"""`python -m holefill.twin`: the stack on 127.0.0.1 until Ctrl-C (`make run` runs this)."""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from holefill.twin.functions import REPO_ROOT
from holefill.twin.ports import PortBusyError
from holefill.twin.twin import LocalTwin, TwinConfig


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m holefill.twin", description="Serve Holefill locally: the AWS stack's twin."
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=REPO_ROOT / "models" / "default",
        help="exported model folder (default: models/default)",
    )
    parser.add_argument("--port", type=int, default=8000, help="web app and API (default 8000)")
    parser.add_argument("--s3-port", type=int, default=8333, help="S3 (default 8333)")
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO_ROOT / ".twin",
        help="where SeaweedFS keeps uploads and results (default .twin)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="inpainting jobs at once (default 2: one job's S3 and codec work overlaps "
        "another's inference; docs/MEASUREMENTS.md)",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("holefill.twin").setLevel(logging.INFO)

    static_dir = REPO_ROOT / "frontend" / "dist"
    config = TwinConfig(
        model_dir=arguments.model,
        data_dir=arguments.data,
        port=arguments.port,
        s3_port=arguments.s3_port,
        workers=arguments.workers,
        static_dir=static_dir if (static_dir / "index.html").is_file() else None,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        twin = LocalTwin(config).start()
    except (FileNotFoundError, PortBusyError, RuntimeError) as error:
        print(f"holefill twin: {error}", file=sys.stderr)
        return 1
    try:
        print(f"Holefill is serving at {twin.url}", flush=True)
        if config.static_dir is None:
            print(
                f"  The web app is not built (frontend/dist is missing): serving the API "
                f"alone, at {twin.api_url}",
                flush=True,
            )
        print(f"  API: {twin.api_url}  S3: {twin.seaweed.endpoint_url}  model: {config.model_dir}")
        print("  Ctrl-C stops everything.", flush=True)
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping...", flush=True)
        twin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
