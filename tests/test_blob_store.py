"""The blob store (ADR 21): raw MIME and files content-addressed in the configured store (the file
system, or S3 when the suite runs under tools/with_s3.py), written before the row, removed after
the change that lets go of them commits, orphans swept, old rows moved by migrate-blobs."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from marketmsg.blobs import store
from marketmsg.conversations import stored
from marketmsg.conversations.models import Attachment, BlobRelease, Message, RawMime
from tests.support import files
from tests.support.personas import buyer_writes_on_the_web, make_pair, make_seller

pytestmark = [pytest.mark.db, pytest.mark.blobs]
BUYER = "taro.yamada@example.jp"


def mail_with_photo(to: str, subject: str = "写真です") -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = BUYER, to, subject
    mail.set_content("箱の写真を添付します。")
    mail.add_attachment(files.image("PNG"), maintype="image", subtype="png", filename="box.png")
    return mail.as_bytes()


@pytest.mark.django_db
def test_the_store_is_the_one_configured():
    backend = store.storage()
    if os.environ.get("MARKETMSG_BLOB_STORE") == "s3":
        assert type(backend).__name__ == "BlobS3Storage"
        name, _ = store.put(b"where am I")
        keys = [o.key for o in backend.bucket.objects.filter(Prefix="blobs/")]  # type: ignore[attr-defined]
        assert name in keys  # really in the bucket, over the S3 API
    else:
        assert type(backend).__name__ == "BlobFileStorage"


@pytest.mark.django_db
def test_a_blob_is_named_by_its_day_and_digest_and_writing_it_again_changes_nothing():
    data = b"the same bytes"
    first, digest = store.put(data)
    again, _ = store.put(data)
    assert first == again == store.name_of(digest, datetime.now(UTC).date())
    assert digest == hashlib.sha256(data).hexdigest() and store.sha256_of_name(first) == digest
    assert store.read(first) == data and store.digest_of(first) == digest
    assert b"".join(store.chunks(first)) == data
    with pytest.raises(store.BlobMissing):
        store.read(store.name_of("0" * 64, timezone.now().date()))


def test_mail_with_a_file_is_stored_as_blobs_and_the_rows_only_name_them(gateway):
    pair = make_pair()
    raw = mail_with_photo(pair.seller_relay)
    assert gateway.send(BUYER, pair.seller_relay, raw)[0] == 250
    message = Message.objects.get()
    row = RawMime.objects.get(message=message)
    assert row.data is None and store.sha256_of_name(row.blob) == message.raw_sha256
    assert store.digest_of(row.blob) == message.raw_sha256  # the exact bytes, as received
    [attachment] = Attachment.objects.filter(message=message)
    assert attachment.file.name.startswith("blobs/")
    assert store.digest_of(attachment.file.name) == attachment.sha256
    # The database keeps a name, not the bytes: the row is a few dozen bytes for a mail of kilobytes.
    with connection.cursor() as cursor:
        cursor.execute("SELECT blob, data FROM conversations_rawmime")
        [(blob, data)] = cursor.fetchall()
    assert data is None and len(blob) < 100 < len(raw)


def test_one_mail_to_two_relay_addresses_is_one_raw_blob(gateway):
    first = make_pair()
    second = make_pair(seller=make_seller("もみじ堂", "owner@momiji.example.jp"), buyer=first.buyer)
    raw = mail_with_photo(first.seller_relay)
    assert gateway.send(BUYER, [first.seller_relay, second.seller_relay], raw)[0] == 250
    blobs = set(RawMime.objects.values_list("blob", flat=True))
    assert RawMime.objects.count() == 2 and len(blobs) == 1


@pytest.mark.django_db(transaction=True)
def test_a_blob_goes_once_the_last_row_naming_it_lets_go():
    from marketmsg.retention import redaction

    pair = make_pair()
    name, _ = store.put(b"one file, two messages")
    messages = [buyer_writes_on_the_web(pair, f"q{n}") for n in range(2)]
    for message in messages:
        Attachment.objects.create(
            message=message, filename="a.txt", content_type="text/plain", size=22,
            sha256=store.sha256_of_name(name), file=name,
        )  # fmt: skip
    now = timezone.now()
    redaction.remove_files(Attachment.objects.filter(message=messages[0]), "retention", now)
    assert store.exists(name)  # the other message still names it
    redaction.remove_files(Attachment.objects.filter(message=messages[1]), "retention", now)
    assert not store.exists(name) and not BlobRelease.objects.exists()


@pytest.mark.django_db
def test_a_removal_whose_process_died_before_the_delete_is_finished_by_the_next_drain():
    kept, _ = store.put(b"still named")
    gone, _ = store.put(b"named by nobody")
    pair = make_pair()
    message = buyer_writes_on_the_web(pair, "q")
    RawMime.objects.create(message=message, blob=kept)
    BlobRelease.objects.bulk_create([BlobRelease(name=kept), BlobRelease(name=gone)])  # a crash left these
    assert stored.drain_releases() == 1
    assert store.exists(kept) and not store.exists(gone) and not BlobRelease.objects.exists()


@pytest.mark.django_db
def test_the_sweep_removes_only_old_blobs_that_no_row_names(settings):
    pair = make_pair()
    message = buyer_writes_on_the_web(pair, "q")
    named, _ = store.put(b"named by a message")
    orphan, _ = store.put(b"left by a refused mail")
    RawMime.objects.create(message=message, blob=named)
    # Now: both are younger than the grace period and stay.
    assert stored.sweep_orphans().removed == 0 and store.exists(orphan)
    later = timezone.now() + timedelta(seconds=settings.BLOB_SWEEP_GRACE + 3600)
    result = stored.sweep_orphans(now=later)  # (the test store may hold other tests' orphans too)
    assert result.removed >= 1 and result.looked_at >= 2
    assert store.exists(named) and not store.exists(orphan)


@pytest.mark.django_db
def test_migrate_blobs_moves_database_mime_and_media_files_and_checks_every_hash(
    capsys, django_capture_on_commit_callbacks
):
    pair = make_pair()
    raw = mail_with_photo(pair.seller_relay)
    messages = [buyer_writes_on_the_web(pair, f"q{n}") for n in range(3)]
    for message in messages[:2]:  # as an earlier version stored them
        Message.objects.filter(pk=message.pk).update(raw_sha256=hashlib.sha256(raw).hexdigest())
        RawMime.objects.create(message=message, data=raw)
    legacy = storages["default"]
    old_name = legacy.save("attachments/2026/01/abc.png", ContentFile(files.image("PNG")))
    attachment = Attachment.objects.create(
        message=messages[2], filename="box.png", content_type="image/png", size=len(files.image("PNG")),
        sha256=hashlib.sha256(files.image("PNG")).hexdigest(), file=old_name,
    )  # fmt: skip
    damaged = buyer_writes_on_the_web(pair, "damaged")
    Message.objects.filter(pk=damaged.pk).update(raw_sha256="f" * 64)
    RawMime.objects.create(message=damaged, data=b"not what was recorded")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandError, match="damaged"):
        call_command("migrate-blobs", "--quiet")
    out = capsys.readouterr()
    assert "To move: 3 raw MIME, 1 file(s)" in out.out and "Moved 2 raw MIME and 1 file(s)" in out.out
    assert f"raw MIME of message {damaged.pk}" in out.err
    for message in messages[:2]:
        row = RawMime.objects.get(message=message)
        assert row.data is None and store.read(row.blob) == raw
    attachment.refresh_from_db()
    assert attachment.file.name.startswith("blobs/") and attachment.file.read() == files.image("PNG")
    assert not legacy.exists(old_name)  # the old copy goes once the row names the blob
    assert bytes(RawMime.objects.get(message=damaged).data) == b"not what was recorded"  # left as it was
    # Run again: nothing more to move but the damaged one, which it names again.
    with pytest.raises(CommandError):
        call_command("migrate-blobs", "--quiet")
    assert "To move: 1 raw MIME, 0 file(s)" in capsys.readouterr().out


def test_the_staff_view_and_the_worker_read_raw_mime_from_the_store(gateway, sink):
    from tests.support.delivery import deliver_all

    pair = make_pair()
    raw = mail_with_photo(pair.seller_relay, subject="store round trip")
    assert gateway.send(BUYER, pair.seller_relay, raw)[0] == 250
    deliver_all()
    [caught] = sink.messages
    assert b"store round trip" in caught.data and BUYER.encode() not in caught.data
    message = Message.objects.get()
    kept = stored.raw_bytes(stored.raw_row(message.pk))
    assert hashlib.sha256(kept).hexdigest() == message.raw_sha256 and b"box.png" in kept


def test_deploy_checks_warn_before_a_second_machine_joins(settings, monkeypatch):
    from types import SimpleNamespace

    from marketmsg.blobs import checks

    monkeypatch.setattr(checks, "connection", SimpleNamespace(vendor="postgresql"))
    settings.BLOB_STORE, settings.SECRET_KEY_CONFIGURED = "file", False
    assert [w.id for w in checks.several_machines(None)] == ["marketmsg.W001", "marketmsg.W002"]
    settings.BLOB_STORE, settings.SECRET_KEY_CONFIGURED = "s3", True
    assert checks.several_machines(None) == []
    monkeypatch.setattr(checks, "connection", SimpleNamespace(vendor="sqlite"))
    settings.BLOB_STORE, settings.SECRET_KEY_CONFIGURED = "file", False
    assert checks.several_machines(None) == []  # one machine: its disk is fine


@pytest.mark.django_db
@pytest.mark.skipif(os.environ.get("MARKETMSG_BLOB_STORE") != "s3", reason="the S3 backend's own paths")
def test_s3_small_blobs_take_one_put_large_ones_go_multipart_and_a_refusal_is_an_error(monkeypatch):
    from marketmsg.blobs import s3

    monkeypatch.setattr(s3, "SMALL", 1024)
    small, _ = store.put(b"s" * 100)
    large, _ = store.put(b"L" * 5000)  # through django-storages' upload_fileobj
    assert store.read(small) == b"s" * 100 and store.read(large) == b"L" * 5000
    monkeypatch.setattr(store.storage(), "bucket_name", "no-such-bucket")
    with pytest.raises(s3.S3RequestFailed, match="404"):
        store.put(b"not kept anywhere")


@pytest.mark.django_db
@pytest.mark.skipif(os.environ.get("MARKETMSG_BLOB_STORE") == "s3", reason="the file store's own syncs")
def test_the_gateway_syncs_the_blobs_of_a_batch_together(monkeypatch):
    from marketmsg.blobs import filesystem

    monkeypatch.setattr(filesystem, "_deferred", True)
    monkeypatch.setattr(filesystem, "_unsynced", 0)
    synced: list[Path] = []
    real = filesystem._syncfs
    monkeypatch.setattr(filesystem, "_syncfs", lambda folder: (synced.append(folder), real(folder)))
    names = [store.put(f"mail {n}".encode())[0] for n in range(3)]
    assert filesystem.has_unsynced() and all(store.exists(n) for n in names)
    filesystem.sync_written()
    filesystem.sync_written()  # nothing new: no second sync
    assert len(synced) == 1 and not filesystem.has_unsynced()
