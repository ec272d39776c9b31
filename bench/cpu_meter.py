"""CPU time by component, read from /proc: where a benchmark round's CPU went.

Every live process counts its own time plus that of the children it has reaped (``cutime`` and
``cstime``), so a Postfix daemon that exits mid-round is still counted, once, under its master.
A process belongs to the first group whose test matches its command line; the benchmark process
itself (and the client processes it has reaped) is the load generator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
POSTFIX_DAEMONS = {
    "master", "qmgr", "pickup", "smtpd", "smtp", "lmtp", "cleanup", "trivial-rewrite", "bounce",
    "defer", "trace", "verify", "scache", "anvil", "proxymap", "postlogd", "tlsmgr", "showq",
    "flush", "error", "retry", "discard", "local", "virtual", "postdrop", "sendmail",
}  # fmt: skip


def group_of(pid: int, argv: list[str]) -> str:
    if pid == os.getpid():
        return "load generator"
    if not argv:
        return "kernel and other"
    program = os.path.basename(argv[0])
    joined = " ".join(argv)
    if program in POSTFIX_DAEMONS or "/usr/lib/postfix/" in argv[0]:
        return "postfix"
    if "marketmsg" in joined and ("gateway" in joined or "worker" in joined):
        return "marketmsg " + ("gateway" if "gateway" in joined else "worker")
    if "sink.py" in joined:
        return "sink"
    if program.startswith("postgres"):
        return "postgresql"
    return "kernel and other"


def snapshot() -> tuple[dict[str, float], float]:
    """Seconds of CPU per group so far, and the machine's busy seconds (all CPUs)."""
    groups: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it exited meanwhile: its parent will count it once reaped
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        group = group_of(int(entry.name), [a.decode(errors="replace") for a in argv if a])
        groups[group] = groups.get(group, 0.0) + ticks / TICKS
    cpu = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = (sum(cpu) - cpu[3] - cpu[4]) / TICKS  # all but idle and iowait
    return groups, busy


class CpuMeter:
    """``with CpuMeter() as meter: ...`` then ``meter.per_item(n)``: milliseconds per item by group."""

    def __enter__(self) -> CpuMeter:
        self.before = snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.after = snapshot()

    def seconds(self) -> dict[str, float]:
        (before, busy_before), (after, busy_after) = self.before, self.after
        spent = {group: after[group] - before.get(group, 0.0) for group in after}
        spent["machine (all CPUs)"] = busy_after - busy_before
        return {group: value for group, value in spent.items() if value > 0}

    def per_item(self, items: int) -> dict[str, float]:
        return per_item(self.seconds(), items)


def per_item(seconds: Mapping[str, float], items: int) -> dict[str, float]:
    """Milliseconds of CPU per item by group, largest first."""
    ordered = sorted(seconds.items(), key=lambda kv: -kv[1])
    return {group: round(1000 * value / max(items, 1), 2) for group, value in ordered}
