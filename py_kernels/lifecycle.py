"""The kernel process's life: it must never outlive the Node process that started it."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time


def die_with_parent() -> None:
    """Ends this process when its parent (Node) ends, however the parent ends.

    On Linux the kernel delivers SIGKILL at the parent's death (prctl PR_SET_PDEATHSIG); elsewhere, and as a second
    guard in case the parent died before the prctl call, a daemon thread polls the parent pid.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            pr_set_pdeathsig = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        except OSError:
            pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="pladder-parent-watch", daemon=True).start()
