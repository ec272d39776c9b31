"""Guideline check speed: median time to check a 10,000-character draft (target ≤ 5 ms).

Three drafts: an ordinary reply (Japanese and English, an order ID, a tracking number); a reply
quoting a mail header and a marketplace link (so the address and URL patterns run, and find only
allowed ones); and a hostile one full of full-width links, which takes the slow normalisation path
and yields hundreds of findings. ``--runs`` checks of each after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from marketmsg.policy.guidelines import check

DRAFTS = {
    "ordinary reply": (
        "ご注文 503-1234567-1234567 ありがとうございます。明日発送いたします。お問い合わせ番号は "
        "1234-5678-9012 です。Thank you for your order; it ships tomorrow. "
    ),
    "reply quoting mail and links": (
        "> 2026/11/20 10:00 89eeaae5040f2b18@marketplace.example wrote:\n"
        "> https://marketplace.example/orders/503-1234567-1234567 を見ました。\n"
        "ご連絡ありがとうございます。明日発送いたします。Thank you; it ships tomorrow.\n"
    ),
    "full-width links everywhere": "ｅｘａｍｐｌｅ．ｃｏｍ をご覧ください。ﾃｽﾄ ",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--chars", type=int, default=10_000)
    args = parser.parse_args()
    worst = 0.0
    for name, unit in DRAFTS.items():
        text = (unit * (args.chars // len(unit) + 1))[: args.chars]
        findings = len(check(text).findings)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            check(text)
            times.append((time.perf_counter() - started) * 1000)
        median = statistics.median(times)
        worst = max(worst, median)
        print(
            f"{name:<30} {len(text):,} chars, {findings} findings: "
            f"median {median:.2f} ms, max {max(times):.2f} ms"
        )
    print(f"target median ≤ 5 ms for the ordinary draft; slowest median {worst:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
