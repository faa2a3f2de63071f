"""Loading the Lambda functions' handler modules from `functions/` as Lambda does.

Lambda puts a function's folder and its layers (`/opt/python`) on the import path and
imports `app`; both functions have an `app.py`, so here each is imported under its own
name. Importing this module puts `layers/common` on the path in place of `/opt/python`,
so that the twin's modules can import the layer's `holefill_service` after it.
"""

import dataclasses
import importlib.util
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_DIR = REPO_ROOT / "layers" / "common"
if str(LAYER_DIR) not in sys.path:
    sys.path.append(str(LAYER_DIR))


def load_function(name):
    """Imports `functions/<name>/app.py` as the module `<name>_function`.

    The InpaintFunction's and the JobFailedFunction's modules read the environment when
    imported (the model loads in Lambda's init phase): set it first.
    """
    module_name = f"{name}_function"
    spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS_DIR / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclasses.dataclass
class LambdaContext:
    """What a handler sees of Lambda's context object (Powertools' Logger reads these)."""

    function_name: str
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    started: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self):
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self):
        elapsed = time.monotonic() - self.started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))
