"""Run a command with the blob store on a real S3 API server on loopback (moto's server mode).

    python tools/with_s3.py pytest -m blobs

Starts ``moto_server`` on a free port, makes a bucket, points MARKETMSG_BLOB_STORE at it for the
command (and every process the command starts), and stops the server afterwards. The command's
exit status is this script's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

BUCKET = "marketmsg-blobs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    while True:  # until it listens, or exits: no deadline, a slow machine is not an error
        if server.poll() is not None:
            raise SystemExit(f"moto_server exited with {server.returncode} before it listened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


def main(command: list[str]) -> int:
    if not command:
        raise SystemExit(__doc__)
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    server = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server)
        env = {
            **os.environ,
            "MARKETMSG_BLOB_STORE": "s3",
            "MARKETMSG_S3_BUCKET": BUCKET,
            "MARKETMSG_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "MARKETMSG_S3_REGION": "us-east-1",
            "MARKETMSG_S3_ACCESS_KEY_ID": "marketmsg-test",
            "MARKETMSG_S3_SECRET_ACCESS_KEY": "marketmsg-test",
        }
        import boto3

        boto3.client(
            "s3",
            endpoint_url=env["MARKETMSG_S3_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="marketmsg-test",
            aws_secret_access_key="marketmsg-test",
        ).create_bucket(Bucket=BUCKET)
        print(f"S3 API server (moto) on 127.0.0.1:{port}, bucket {BUCKET}", flush=True)
        return subprocess.call(command, env=env)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
