"""`manage.py issue_engine_cert NAME --host ADDR [--host ADDR ...] [--port 2376] [--out DIR]`.

Issues a server certificate for a Berth engine from the console's CA (console/endpoints/pki.py,
made on first use), writes ca.pem, server-cert.pem and server-key.pem (0600) into DIR
(default `<BERTH_VAR_DIR>/engines/NAME`), and prints the line that starts the engine with
mutual TLS. Every --host becomes a subjectAltName (IP addresses and DNS names); the first
is where the engine listens. The key is written, never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from console.endpoints.engine_setup import DEFAULT_PORT, engine_command, engine_files_dir
from console.endpoints.pki import console_ca, write_engine_files


class Command(BaseCommand):
    help = "Issue a Berth engine's TLS server certificate from the console's CA and print how to start the engine."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the engine's name (letters, digits, - and _), e.g. the endpoint's name")
        parser.add_argument("--host", action="append", required=True, dest="hosts", metavar="ADDR",
                            help="an IP address or DNS name the console reaches the engine at (repeatable; the first is where it listens)")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port of the engine's API (default %(default)s)")
        parser.add_argument("--out", default="", help="directory for ca.pem, server-cert.pem, server-key.pem")

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        try:
            validate_slug(name)
        except ValidationError:
            raise CommandError("NAME may hold letters, digits, - and _ only") from None
        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535")
        out = Path(options["out"]).resolve() if options["out"] else engine_files_dir(name)
        try:
            issued = console_ca().issue_server(name, options["hosts"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        paths = write_engine_files(issued, out)
        self.stdout.write(f"Wrote {paths['ca']}, {paths['cert']} and {paths['key']} (the key is private: mode 0600).")
        self.stdout.write("Copy them to the engine's host (keep the key private) and start the engine there with:\n")
        self.stdout.write("  " + engine_command(options["hosts"][0], options["port"], out) + "\n")
        self.stdout.write("Then add it in the console: Endpoints → Add a Berth engine.")
