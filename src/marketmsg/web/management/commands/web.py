from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from gunicorn.app.base import BaseApplication

from marketmsg.processes import stop_when_parent_dies
from marketmsg.settings import parse_host_port


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from marketmsg.wsgi import application

        return application


class Command(BaseCommand):
    help = "Serve the web interface with gunicorn (static files through whitenoise)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", default=None, help="HOST:PORT (default MARKETMSG_WEB_LISTEN)")
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = parse_host_port(options["listen"], 8000) if options["listen"] else settings.WEB_LISTEN
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"web listening on http://{host}:{port}/")
        _Server(
            {
                "bind": f"{host}:{port}",
                "workers": options["workers"],
                "accesslog": "-",
                "graceful_timeout": 5,
                "timeout": 60,
                # gunicorn's control socket in the data directory, not in the home directory: two
                # instances on one machine (and a read-only home) must not share or need it.
                "control_socket": str(Path(settings.DATA_DIR) / f"gunicorn-{port}.ctl"),
                # A worker whose master was killed stops at once instead of serving on alone.
                "post_fork": lambda server, worker: stop_when_parent_dies(server.pid),
            }
        ).run()
