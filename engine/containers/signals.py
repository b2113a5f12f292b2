"""Signal names and numbers as Docker accepts them (pure)."""

from __future__ import annotations

import signal as signals

from engine.errors import InvalidArgument


def signal_number(value: str | int | None, default: int = signals.SIGKILL) -> int:
    """'SIGTERM', 'TERM', '15' or 15 → 15; Docker's 400 for anything else."""
    if value is None or value == "":
        return default
    if isinstance(value, int):
        sig = value
    else:
        text = value.strip().upper()
        if text.isdigit():
            sig = int(text)
        else:
            name = text if text.startswith("SIG") else "SIG" + text
            if name.startswith(("SIGRTMIN+", "SIGRTMAX-")):
                base = signals.SIGRTMIN if name.startswith("SIGRTMIN") else signals.SIGRTMAX
                try:
                    off = int(name[9:])
                except ValueError:
                    raise InvalidArgument(f"Invalid signal: {value}") from None
                sig = base + off if name.startswith("SIGRTMIN") else base - off
            else:
                try:
                    sig = int(getattr(signals.Signals, name))
                except AttributeError:
                    raise InvalidArgument(f"Invalid signal: {value}") from None
    if not 0 < sig <= 64:
        raise InvalidArgument(f"Invalid signal: {value}")
    return sig
