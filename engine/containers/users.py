"""Resolve `--user` against a container's /etc/passwd and /etc/group (pure).

Docker accepts `name`, `uid`, `name:group`, `uid:gid` and mixes; a numeric uid
that is not in /etc/passwd is allowed (gid 0), a name that is not is an error.
Supplementary groups are every group in /etc/group that lists the user.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InvalidArgument


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def _parse_colon_file(text: str, fields: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < fields:
            parts += [""] * (fields - len(parts))
        rows.append(parts)
    return rows


def resolve(spec: str, passwd: str, group: str, extra_groups: list[str] | None = None) -> ExecUser:
    users = _parse_colon_file(passwd, 7)
    groups = _parse_colon_file(group, 4)
    user_part, _, group_part = (spec or "").partition(":")
    uid, gid, home, name = 0, 0, "/", "root"
    matched_user = None
    if user_part:
        for row in users:
            if row[0] == user_part or (user_part.isdigit() and row[2] == user_part):
                matched_user = row
                break
        if matched_user is not None:
            name, uid = matched_user[0], int(matched_user[2] or 0)
            gid, home = int(matched_user[3] or 0), matched_user[5] or "/"
        elif user_part.isdigit():
            uid, name = int(user_part), ""
        else:
            raise InvalidArgument(f"unable to find user {user_part}: no matching entries in passwd file")
    else:
        for row in users:
            if row[2] == "0":
                home = row[5] or "/root"
                break
        else:
            home = "/root"
    if group_part:
        for row in groups:
            if row[0] == group_part or (group_part.isdigit() and row[2] == group_part):
                gid = int(row[2] or 0)
                break
        else:
            if group_part.isdigit():
                gid = int(group_part)
            else:
                raise InvalidArgument(f"unable to find group {group_part}: no matching entries in group file")
    extra: list[int] = [gid]  # as Docker: the primary group is always in the supplementary list
    if name and not group_part:
        for row in groups:
            members = [m for m in row[3].split(",") if m]
            if name in members and row[2].isdigit():
                extra.append(int(row[2]))
    for g in extra_groups or []:
        for row in groups:
            if row[0] == g or row[2] == g:
                extra.append(int(row[2] or 0))
                break
        else:
            if g.isdigit():
                extra.append(int(g))
            else:
                raise InvalidArgument(f"Unable to find group {g}")
    if uid > 2**31 - 1 or gid > 2**31 - 1:
        raise InvalidArgument(f"uid and gid must be below 2^31: {spec}")
    return ExecUser(uid, gid, tuple(dict.fromkeys(extra)), home)
