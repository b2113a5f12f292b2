"""Applying rulesets: the only place that runs `nft` (one atomic transaction per call)."""

from __future__ import annotations

import asyncio
import json

from engine.errors import SystemFault
from engine.observe.tracing import traced


@traced("nftables apply")
async def apply(script: str, echo: bool = False) -> str:
    """Run `script` as one transaction. With `echo`, returns what nft added, with rule handles."""
    argv = ["nft", "-e", "-a", "-f", "-"] if echo else ["nft", "-f", "-"]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(script.encode())
    if proc.returncode != 0:
        raise SystemFault(f"nftables transaction failed: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


async def chain_rules(family: str, table: str, chain: str) -> list[dict[str, object]] | None:
    """The rules of a chain as nft's JSON objects, or None if the chain does not exist."""
    proc = await asyncio.create_subprocess_exec(
        "nft", "-j", "-a", "list", "chain", family, table, chain,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        return None
    try:
        doc = json.loads(out)
    except ValueError:
        return None
    return [item["rule"] for item in doc.get("nftables", []) if "rule" in item]


async def table_exists(family: str, table: str) -> bool:
    proc = await asyncio.create_subprocess_exec(
        "nft", "list", "table", family, table, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait() == 0
