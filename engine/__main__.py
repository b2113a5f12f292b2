"""`python -m engine [flags]` runs the engine.

`python -m engine bootstrap busybox|debian` makes base images; `python -m engine
teardown [flags]` removes the bridges, namespaces and nftables table of a stopped
engine with those flags (for tests and uninstalls).
"""

from __future__ import annotations

import sys

from engine.config import ConfigError, build_parser, from_args


def main(argv: list[str]) -> int:
    if argv and argv[0] == "bootstrap":
        from engine.images.bootstrap import main as bootstrap_main

        return bootstrap_main(argv[1:])
    teardown = bool(argv) and argv[0] == "teardown"
    if teardown:
        argv = argv[1:]
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        cfg = from_args(ns)
    except ConfigError as exc:
        print(f"berth engine: {exc}", file=sys.stderr)
        return 2
    if teardown:
        import asyncio

        from engine.daemon import teardown as teardown_engine

        asyncio.run(teardown_engine(cfg))
        return 0
    from engine.daemon import run

    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
