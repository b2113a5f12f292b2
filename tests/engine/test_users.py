from __future__ import annotations

import pytest

from engine.containers.users import resolve
from engine.errors import InvalidArgument

PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\nwww-data:x:33:\nstaff:x:50:app\napp:x:1000:\n"


def test_default_is_root() -> None:
    u = resolve("", PASSWD, GROUP)
    assert (u.uid, u.gid, u.home) == (0, 0, "/root")


def test_name_gives_uid_gid_and_groups() -> None:
    u = resolve("app", PASSWD, GROUP)
    assert (u.uid, u.gid, u.additional_gids) == (1000, 1000, (1000, 50))


def test_numeric_ids_need_not_exist() -> None:
    u = resolve("4242:4343", PASSWD, GROUP)
    assert (u.uid, u.gid) == (4242, 4343)


def test_name_and_group_name() -> None:
    assert resolve("www-data:staff", PASSWD, GROUP).gid == 50


def test_unknown_names_are_errors() -> None:
    with pytest.raises(InvalidArgument):
        resolve("nobody-here", PASSWD, GROUP)
    with pytest.raises(InvalidArgument):
        resolve("app:nogroup-here", PASSWD, GROUP)
