"""`python -m engine [flags]` runs the engine; `python -m engine bootstrap busybox|debian` makes base images."""

from __future__ import annotations

import sys

from engine.config import ConfigError, build_parser, from_args


def main(argv: list[str]) -> int:
    if argv and argv[0] == "bootstrap":
        from engine.images.bootstrap import main as bootstrap_main

        return bootstrap_main(argv[1:])
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        cfg = from_args(ns)
    except ConfigError as exc:
        print(f"berth engine: {exc}", file=sys.stderr)
        return 2
    from engine.daemon import run

    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
