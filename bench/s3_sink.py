"""A bare S3 endpoint for benchmarks: what the bare aiosmtpd sink is to SMTP.

The relay benchmark asks what the S3 blob store costs the *gateway*. With moto's server on the
same two CPUs, most of the difference is moto's own work (about 2.2 ms of CPU per PUT), which a
real S3 does on other machines. This server does as little as an S3 endpoint can: it keeps
objects in memory and answers PUT, GET, HEAD, DELETE and the three multipart calls, without
checking signatures. The tests use moto (a real S3 implementation); only benchmarks use this.

    python bench/s3_sink.py --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

objects: dict[str, bytes] = {}
uploads: dict[str, dict[int, bytes]] = {}


def _chunked(body: bytes) -> bytes:
    """The payload of an aws-chunked body (size;chunk-signature=…\\r\\n data \\r\\n … 0 …)."""
    out, at = [], 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        at = end + 2 + size + 2


def _answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None, length: int = -1) -> bytes:
    """An HTTP answer; ``length`` stands for the body's length when none is sent (HEAD)."""
    reason = {200: "OK", 206: "Partial Content", 204: "No Content", 404: "Not Found", 400: "Bad Request"}.get(
        status, "OK"
    )
    head = {"Content-Length": str(len(body) if length < 0 else length), **(headers or {})}
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in head.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def handle(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
    parts = urlsplit(target)
    key = unquote(parts.path)
    query = parse_qs(parts.query, keep_blank_values=True)
    if headers.get("content-encoding", "").startswith("aws-chunked") or headers.get(
        "x-amz-content-sha256", ""
    ).startswith("STREAMING-"):
        body = _chunked(body)
    if method == "PUT" and "partNumber" in query:
        uploads[query["uploadId"][0]][int(query["partNumber"][0])] = body
        return _answer(200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})
    if method == "PUT" and key.count("/") == 1:  # a bucket
        return _answer(200)
    if method == "PUT":
        objects[key] = body
        return _answer(200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})
    if method == "POST" and "uploads" in query:
        upload = uuid.uuid4().hex
        uploads[upload] = {}
        bucket, _, name = key.lstrip("/").partition("/")
        xml = (
            f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{name}</Key><UploadId>{upload}</UploadId>"
            "</InitiateMultipartUploadResult>"
        )
        return _answer(200, xml.encode(), {"Content-Type": "application/xml"})
    if method == "POST" and "uploadId" in query:
        parts_of = uploads.pop(query["uploadId"][0])
        objects[key] = b"".join(parts_of[n] for n in sorted(parts_of))
        bucket, _, name = key.lstrip("/").partition("/")
        xml = (
            f"<CompleteMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{name}</Key>"
            '<ETag>"x"</ETag></CompleteMultipartUploadResult>'
        )
        return _answer(200, xml.encode(), {"Content-Type": "application/xml"})
    if method in ("GET", "HEAD"):
        found = objects.get(key)
        if found is None:
            return _answer(404, b"" if method == "HEAD" else b"<Error><Code>NoSuchKey</Code></Error>")
        head = {"ETag": '"x"', "Last-Modified": "Mon, 07 Dec 2026 00:00:00 GMT"}
        if method == "HEAD":
            return _answer(200, headers=head, length=len(found))
        wanted = headers.get("range", "")
        if wanted.startswith("bytes="):  # s3transfer downloads a large object in ranges
            first, _, last = wanted[6:].partition("-")
            start, stop = int(first), min(int(last) if last else len(found) - 1, len(found) - 1)
            head["Content-Range"] = f"bytes {start}-{stop}/{len(found)}"
            return _answer(206, found[start : stop + 1], head)
        return _answer(200, found, head)
    if method == "DELETE":
        objects.pop(key, None)
        return _answer(204)
    return _answer(400)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, target, _version = line.decode().split(" ", 2)
            headers = {}
            while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            writer.write(handle(method, target, headers, body))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
