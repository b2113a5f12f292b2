from __future__ import annotations

import pytest

from engine.build.instructions import apply_changes, parse_healthcheck, split_words
from engine.errors import InvalidArgument


def test_changes_build_a_config() -> None:
    cfg = apply_changes({}, [
        'CMD ["sh"]', "ENV A=1 B=\"two words\"", "ENV C 3", "EXPOSE 80 53/udp", "WORKDIR /app",
        "WORKDIR sub", "LABEL a=b", "USER nobody", "VOLUME /data", "STOPSIGNAL SIGINT", "ENTRYPOINT echo hi",
    ])
    assert cfg["Cmd"] == ["sh"]
    assert cfg["Env"] == ["A=1", "B=two words", "C=3"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["WorkingDir"] == "/app/sub"
    assert cfg["Labels"] == {"a": "b"}
    assert cfg["User"] == "nobody"
    assert cfg["Volumes"] == {"/data": {}}
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "echo hi"]


def test_unknown_change_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        apply_changes({}, ["RUN echo no"])


def test_healthcheck() -> None:
    h = parse_healthcheck("--interval=30s --timeout=5s --retries=3 CMD wget -q -O /dev/null http://localhost/ || exit 1", [])
    assert h == {"Test": ["CMD-SHELL", "wget -q -O /dev/null http://localhost/ || exit 1"], "Interval": 30 * 10**9,
                 "Timeout": 5 * 10**9, "Retries": 3}
    assert parse_healthcheck("NONE", []) == {"Test": ["NONE"]}


def test_split_words_handles_quotes() -> None:
    assert split_words("a 'b c' \"d\\\"e\" f\\ g") == ["a", "b c", 'd"e', "f g"]
