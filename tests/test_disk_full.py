"""A full disk under the data directory (SPEC §4): the gateway answers 452, keeps nothing
half-written, and takes mail again once there is room. Real processes on a real, small file
system: a tmpfs the test mounts (needs root; CI runs as root and must not skip it)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import SinkHandler, free_port
from tests.support.files import image
from tests.support.mail import compose
from tests.support.processes import Service, migrated_and_seeded, smtp_answer

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("MARKETMSG_DATABASE_URL", "").startswith("postgres"),
        reason="fills the SQLite data directory; PostgreSQL keeps its data elsewhere",
    ),
]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to mount a tmpfs: {done.stderr.decode()}")
        pytest.skip("needs root to mount a small file system")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write until the file system says no more, in ever smaller pieces."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:  # unbuffered: closing has nothing left to write
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    return filler


def with_photo(sender: str, to: str) -> bytes:
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, "破損の写真"
    mail.set_content("写真を送ります。")
    mail.add_attachment(image("JPEG"), maintype="image", subtype="jpeg", filename="box.jpg")
    return mail.as_bytes()


def test_a_full_disk_answers_452_keeps_nothing_half_written_and_recovers(small_disk: Path):
    sink = SinkHandler()
    sink_port, port = free_port(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink_port)
    controller.start()
    database = small_disk / "marketmsg.sqlite3"
    env, seed = migrated_and_seeded(small_disk, f"sqlite:///{database}", sink_port, buyers=3, orders=3)
    gateway = Service(
        ["gateway", "--listen", f"127.0.0.1:{port}", "--processes", "1"],
        env,
        small_disk.parent / "gw.log",
        port,
    )
    gateway.start()
    buyers = {b["id"]: b["email"] for b in seed["buyers"]}
    order = next(o for o in seed["orders"] if o["fulfillment"] == "MFN")
    sender, to = buyers[order["buyer_id"]], order["seller_relay_address"]
    try:
        assert smtp_answer(port, sender, to, compose(sender, to, subject="before"))[0] == 250
        filler = fill(small_disk)
        refused = [
            smtp_answer(port, sender, to, with_photo(sender, to)),
            smtp_answer(port, sender, to, compose(sender, to, subject="during", body="x" * 50_000)),
        ]
        for code, text in refused:
            assert code in (451, 452), (code, text)  # try later; never 250, never 5xx
        assert any(code == 452 and "storage" in text for code, text in refused), refused
        filler.unlink()
        with sqlite3.connect(database) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            subjects = [row[0] for row in db.execute("SELECT subject FROM conversations_message")]
            [(raw_sha256,)] = db.execute("SELECT raw_sha256 FROM conversations_message").fetchall()
            files = db.execute("SELECT file FROM conversations_attachment").fetchall()
        assert subjects == ["before"]  # nothing of the refused mails was kept
        stored_files = [p for p in (small_disk / "media").rglob("*") if p.is_file()]
        # Only the first mail's raw MIME is in the blob store: nothing of the refused ones, not
        # even half a photo or a temporary file.
        assert files == [] and len(stored_files) == 1 and stored_files[0].name == raw_sha256
        assert hashlib.sha256(stored_files[0].read_bytes()).hexdigest() == raw_sha256
        assert smtp_answer(port, sender, to, with_photo(sender, to))[0] == 250  # room again
    finally:
        gateway.stop()
        controller.stop()
