"""`marketmsg dkim-keygen --out PATH`: a DKIM key for the relay domain, and the DNS record to publish.

The private key is written to PATH (readable by its owner only); point MARKETMSG_DKIM_KEY_FILE at
it and publish the printed TXT record, then every relayed message and notice is signed.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Write a DKIM signing key for the relay domain and print the DNS TXT record to publish."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="file to write the private key to (PEM)")
        parser.add_argument(
            "--selector", default=settings.DKIM_SELECTOR, help="DKIM selector (default %(default)s)"
        )
        parser.add_argument(
            "--domain", default=settings.DKIM_DOMAIN, help="signing domain (default %(default)s)"
        )
        parser.add_argument("--bits", type=int, default=2048, choices=[1024, 2048, 3072, 4096])
        parser.add_argument("--force", action="store_true", help="replace an existing key file")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        if out.exists() and not options["force"]:
            raise CommandError(
                f"{out} already exists; a new key would break the record already published. "
                f"Use --force to replace it. / "
                f"{out} はすでにあります。置き換えるときは --force を付けてください。"
            )
        key = rsa.generate_private_key(public_exponent=65537, key_size=options["bits"])
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
        name = f"{options['selector']}._domainkey.{options['domain']}."
        self.stderr.write(f"Wrote a {options['bits']}-bit DKIM key to {out}. Publish this TXT record:")
        self.stdout.write(f'{name} IN TXT "{record}"')
        self.stderr.write(
            f"Then set MARKETMSG_DKIM_KEY_FILE={out} and MARKETMSG_DKIM_SELECTOR={options['selector']}."
        )
