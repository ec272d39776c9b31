"""Web upload benchmark: time and peak memory of the web request path for a reply that carries the
most attachments a message may (10 MiB), on a fresh SQLite database.

The request runs through Django's whole stack in this process (session, CSRF-exempt test client,
multipart parsing, the attachment rules, storage, post_message); peak RSS is this process's
``ru_maxrss`` before and after, so it includes Python and Django themselves.

    python bench/upload_bench.py [--megabytes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="marketmsg-upload-bench-"))
os.environ["MARKETMSG_DATA_DIR"] = str(WORK)
os.environ["MARKETMSG_DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketmsg.settings")

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from marketmsg.accounts.models import SellerUser  # noqa: E402
from marketmsg.conversations.models import Attachment  # noqa: E402
from marketmsg.orders.models import Order  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mebibytes", type=float, default=10)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("seed", sellers=1, buyers=1, orders=1, json=os.devnull, verbosity=0)
    order = Order.objects.select_related("seller").get()
    owner = SellerUser.objects.get(account=order.seller, is_owner=True).user
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(owner)
    size = int(args.mebibytes * 1024 * 1024)
    pdf = b"%PDF-1.4\n" + random.randbytes(size - 9)
    before = peak_mb()
    started = time.perf_counter()
    response = client.post(
        f"/orders/{order.order_id}/contact/",
        {
            "subject": "書類",
            "text": "書類をお送りします。",
            "files": [SimpleUploadedFile("documents.pdf", pdf)],
        },
    )
    seconds = time.perf_counter() - started
    stored = Attachment.objects.count()
    result = {
        "attachment_bytes": size,
        "status": response.status_code,
        "stored_attachments": stored,
        "seconds": round(seconds, 3),
        "peak_rss_mb_before": round(before, 1),
        "peak_rss_mb_after": round(peak_mb(), 1),
    }
    print(json.dumps(result, indent=2))
    ok = response.status_code == 302 and stored == 1
    print(
        f"web upload of {args.mebibytes:g} MiB: {'stored' if ok else 'NOT stored'} in {seconds:.2f} s; "
        f"peak RSS {result['peak_rss_mb_after']} MB (target ≤ 200 MB: "
        f"{'met' if result['peak_rss_mb_after'] <= 200 else 'NOT met'})",
        file=sys.stderr,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
