"""The ``marketmsg`` command: Django's management commands under one name.

``marketmsg gateway``, ``marketmsg worker``, ``marketmsg web``, ``marketmsg seed``, ``marketmsg demo``,
``marketmsg migrate`` … each is a management command of one of the apps.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketmsg.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "marketmsg"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
