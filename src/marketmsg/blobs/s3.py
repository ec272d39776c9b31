"""The production blob store: django-storages' S3 backend, with one change on the gateway's path.

Every accepted mail writes its raw MIME before the SMTP answer, so the cost of one small PUT is
paid per mail. Through django-storages (``upload_fileobj``, s3transfer's thread pool per call) it
took 3.3 ms of CPU in the calling process for a 1 KB blob; boto3's ``put_object`` 1.3 ms; a PUT
signed by botocore's own SigV4 signer and sent over a kept-alive connection per thread 0.45 ms
(measured against moto's server on loopback, see docs/benchmarks.md). Blobs up to 8 MiB go that
way; larger ones, and anything a bucket policy asks extra headers for (``object_parameters``),
go through django-storages as before (multipart). The worker reads a mail whole to render it:
``read_bytes`` fetches it by one signed GET the same way (django-storages' S3File asks HEAD, then
downloads through s3transfer's threads). Streaming reads, listing and deletes are django-storages'.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

SMALL = 8 * 1024 * 1024
RETRIES = 3


class S3RequestFailed(OSError):
    """The store did not answer as it should (after retries): the gateway answers "try again later"."""


class BlobS3Storage(S3Storage):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._local = threading.local()
        self._credentials: Any = None

    def _save(self, name: str, content: Any) -> str:
        size = getattr(content, "size", None)
        if size is None or size > SMALL or self.object_parameters:
            return str(super()._save(name, content))
        content.seek(0)
        data = content.read()
        cleaned = clean_name(name)
        self._put(self._normalize_name(cleaned), data)
        return str(cleaned)

    def _put(self, key: str, data: bytes) -> None:
        for attempt in range(RETRIES + 1):
            try:
                status, body = self._send(key, data)
            except (OSError, http.client.HTTPException) as error:  # a dropped keep-alive, a reset
                self._local.connection = None
                if attempt == RETRIES:
                    raise S3RequestFailed(f"PUT {key}: {error}") from error
            else:
                if status == 200:
                    return
                if (status < 500 and status != 429) or attempt == RETRIES:
                    raise S3RequestFailed(f"PUT {key}: HTTP {status} {body[:200]!r}")
            time.sleep(0.05 * 2**attempt)

    def _send(self, key: str, data: bytes) -> tuple[int, bytes]:
        scheme, host, path = self._where(key)
        request = AWSRequest(
            method="PUT",
            url=f"{scheme}://{host}{path}",
            data=data,
            headers={
                "Content-Type": "application/octet-stream",
                "x-amz-content-sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        S3SigV4Auth(self._frozen_credentials(), "s3", self._region()).add_auth(request)
        connection = self._connection(scheme, host)
        connection.request("PUT", path, body=data, headers=dict(request.headers.items()))
        response = connection.getresponse()
        return response.status, response.read()

    def _where(self, key: str) -> tuple[str, str, str]:
        """Path-style on a configured endpoint (S3-compatible services); virtual-hosted on AWS."""
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            return parts.scheme, parts.netloc, f"/{self.bucket_name}/{quote(key, safe='/~')}"
        return "https", f"{self.bucket_name}.s3.{self._region()}.amazonaws.com", f"/{quote(key, safe='/~')}"

    def _region(self) -> str:
        return str(self.region_name or "us-east-1")

    def _frozen_credentials(self) -> Any:
        """The session's credentials as of now: an instance role's are refreshed by botocore."""
        if self._credentials is None:
            self._credentials = self._create_session().get_credentials()
            if self._credentials is None:
                raise S3RequestFailed("no S3 credentials: set MARKETMSG_S3_ACCESS_KEY_ID or an instance role")
        return self._credentials.get_frozen_credentials()

    def _connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        found: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if found is None:
            kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            found = kind(host, timeout=30)
            self._local.connection = found
        return found
