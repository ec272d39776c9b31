"""Supervised processes that must not outlive their supervisor."""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def stop_when_parent_dies(parent: int | None) -> None:
    """This process gets SIGTERM when its parent dies, however it died (even SIGKILL), so that no
    orphan keeps serving on the listening socket it inherited (gateway processes, web workers)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent is not None and os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
