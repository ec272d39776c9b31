"""Two machines with no shared disk (ADR 21): node A and node B each have a data directory of their
own and share only PostgreSQL and the S3 endpoint. A mail with a file accepted by node A's
gateway is delivered by node B's worker and its file served by node B's web; neither node's disk
holds a blob.

Runs where the suite runs on PostgreSQL with the S3 store (make test-s3 in CI).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller

from tests.conftest import SinkHandler, free_port
from tests.support import files
from tests.support.mail import parse
from tests.support.processes import Service, migrated_and_seeded, send_until_accepted

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.blobs,
    pytest.mark.skipif(
        not os.environ.get("MARKETMSG_DATABASE_URL", "").startswith("postgres")
        or os.environ.get("MARKETMSG_BLOB_STORE") != "s3",
        reason="two machines share PostgreSQL and an S3 store (run by make test-s3 on PostgreSQL)",
    ),
]


def node(env: dict[str, str], folder: Path) -> dict[str, str]:
    folder.mkdir()
    return {**env, "MARKETMSG_DATA_DIR": str(folder), "MARKETMSG_METRICS_DIR": str(folder / "metrics")}


def in_node(env: dict[str, str], code: str) -> dict:  # type: ignore[type-arg]
    """Run ``code`` in ``marketmsg shell`` on a node; its last printed line is JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "marketmsg", "shell", "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_mail_accepted_on_one_node_is_delivered_and_served_by_the_other(tmp_path: Path, database_url: str):
    sink = SinkHandler()
    sink_port = free_port()
    sink_controller = Controller(sink, hostname="127.0.0.1", port=sink_port)
    sink_controller.start()
    (tmp_path / "setup").mkdir()
    # The secret key comes from the environment on both nodes, never from a file in a data directory.
    shared, data = migrated_and_seeded(
        tmp_path / "setup", database_url, sink_port, 2, 4, secret_key="two-nodes", allowed_hosts="127.0.0.1"
    )
    node_a, node_b = node(shared, tmp_path / "node-a"), node(shared, tmp_path / "node-b")
    gateway_port, web_port = free_port(), free_port()
    gateway = Service(
        ["gateway", "--listen", f"127.0.0.1:{gateway_port}", "--processes", "1"],
        node_a,
        tmp_path / "a-gateway.log",
        gateway_port,
    )
    worker = Service(["worker"], node_b, tmp_path / "b-worker.log")
    web = Service(
        ["web", "--listen", f"127.0.0.1:{web_port}", "--workers", "1"],
        node_b,
        tmp_path / "b-web.log",
        web_port,
    )
    order = next(o for o in data["orders"] if o["fulfillment"] == "MFN")
    buyer = next(b["email"] for b in data["buyers"] if b["id"] == order["buyer_id"])
    picture = files.image("PNG")
    mail = EmailMessage()
    mail["From"], mail["To"] = buyer, order["seller_relay_address"]
    mail["Subject"] = f"two-nodes 注文 {order['order_id']}"
    mail.set_content("写真を添付します。")
    mail.add_attachment(picture, maintype="image", subtype="png", filename="box.png")
    services = [gateway, worker, web]
    try:
        for service in services:
            service.start()
        assert send_until_accepted([gateway_port], buyer, order["seller_relay_address"], mail.as_bytes())
        while not sink.messages:  # node B's worker delivers it (an event, not a time)
            assert worker.process is not None and worker.process.poll() is None, "node B's worker died"
            time.sleep(0.1)
        [caught] = sink.messages
        [part] = list(parse(caught.data).iter_attachments())
        assert part.get_filename() == "box.png"
        facts = in_node(
            node_b,
            "import json; from marketmsg.accounts.models import ApiToken; "
            "from marketmsg.conversations.models import Attachment, RawMime; "
            "from marketmsg.accounts.models import User; a = Attachment.objects.get(); "
            f"owner = User.objects.get(email={order_owner(data, order)!r}); "
            "print(json.dumps({'id': a.pk, 'sha256': a.sha256, 'name': a.file.name, "
            "'raw': RawMime.objects.get().blob, 'token': ApiToken.issue(owner, 't', ['read'])[1]}))",
        )
        served = requests.get(
            f"http://127.0.0.1:{web_port}/api/v1/attachments/{facts['id']}",
            headers={"Authorization": f"Bearer {facts['token']}"},
            timeout=30,
        )
        assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == facts["sha256"]
        assert facts["name"].startswith("blobs/") and facts["raw"].startswith("blobs/")
        metrics = requests.get(f"http://127.0.0.1:{web_port}/metrics", timeout=30)
        assert metrics.status_code == 200 and "marketmsg_" in metrics.text  # node B's own counters
    finally:
        for service in services:
            service.stop()
        sink_controller.stop()
    # Nothing of the mail on either machine's disk: the blobs are in S3 alone.
    for folder in (tmp_path / "node-a", tmp_path / "node-b"):
        on_disk = [p for p in folder.rglob("*") if p.is_file() and "blobs" in p.parts]
        assert on_disk == [] and not (folder / "media").exists()


def order_owner(data: dict, order: dict) -> str:  # type: ignore[type-arg]
    return next(s["owner_email"] for s in data["sellers"] if s["id"] == order["seller_id"])
