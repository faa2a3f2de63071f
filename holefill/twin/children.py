"""Child processes that never outlive the twin, and the cleanup of an earlier run's.

On Linux a child asks the kernel to kill it when the thread that started it ends
(`PR_SET_PDEATHSIG`), which a SIGKILL of the twin does too. A pid file left by a twin that
was killed names its SeaweedFS, which the next start stops.
"""

import contextlib
import ctypes
import os
import signal
import sys
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In a child: be killed when the parent goes (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    # The parent may have died between the fork and the prctl.
    if os.getppid() != parent:
        os._exit(1)


def stop_stale(pid_file, name, seconds=5.0):
    """Stops the process that `pid_file` names if it still runs `name`; removes the file.

    Returns the pid stopped, or None.
    """
    pid_file = Path(pid_file)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    pid_file.unlink(missing_ok=True)
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None  # gone already (or no /proc: nothing to check it against)
    if not any(Path(os.fsdecode(part)).name == name for part in command if part):
        return None  # the pid was reused by something else
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    return pid
