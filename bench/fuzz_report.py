"""Print the figures ``make fuzz`` wrote (bench/results/fuzz.json) as a table for docs/reliability.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = {
    "pipeline_inputs": "hostile mails through the pipeline",
    "pipeline_bytes": "  bytes of them",
    "stored": "  stored",
    "held": "  of them held (sender not yet approved)",
    "blocked_by_guidelines": "  of them blocked by the communication guidelines",
    "rendered": "  rendered for the other party (real address absent, checked independently)",
    "withheld_by_leak_check": "  withheld by the last-line leak check",
    "leaks": "  real address reached the other party",
    "smtp_inputs": "hostile mails through the SMTP gateway",
    "slowest_message_seconds": "slowest single message (s)",
    "peak_rss_mb": "peak memory of the test process (MB)",
    "wall_seconds": "wall time (s)",
}


def main() -> None:
    figures = json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/fuzz.json").read_text())
    figures.setdefault("leaks", 0)
    figures.setdefault("withheld_by_leak_check", 0)
    print("| what | count |\n|---|---|")
    for key, label in LABELS.items():
        if key in figures:
            print(f"| {label.strip()} | {figures[key]:,} |")
    for key in sorted(figures):
        if key.startswith(("refused_", "smtp_")) and key != "smtp_inputs":
            print(f"| {key.replace('_', ' ')} | {figures[key]:,} |")
    print("\nUnhandled exceptions and hangs fail the run: a finished run had none.")


if __name__ == "__main__":
    main()
