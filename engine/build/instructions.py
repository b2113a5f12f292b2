"""Dockerfile instructions that only change an image's config (pure).

Used by `docker import --change`, `docker commit --change` and the builder:
CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, SHELL, STOPSIGNAL,
USER, VOLUME, WORKDIR. Each takes the config dict and returns a new one.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
from typing import Any

from engine.errors import InvalidArgument
from engine.util.timefmt import parse_go_duration

CONFIG_INSTRUCTIONS = {
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD",
    "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}
DEFAULT_SHELL = ["/bin/sh", "-c"]
_PORT_RE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)


def split_instruction(line: str) -> tuple[str, str]:
    line = line.strip()
    keyword, _, rest = line.partition(" ")
    if not keyword:
        raise InvalidArgument("empty instruction")
    return keyword.upper(), rest.strip()


def parse_json_array(text: str) -> list[str] | None:
    """The exec form `["a", "b"]`, or None if `text` is not a JSON array of strings."""
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def split_words(text: str) -> list[str]:
    """Shell-like words: whitespace separated, quotes and backslashes removed."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(text) and text[i + 1] in '"\\$`':
                i += 1
                cur.append(text[i])
            else:
                cur.append(ch)
        elif ch in "\"'":
            quote = ch
            in_word = True
        elif ch == "\\" and i + 1 < len(text):
            i += 1
            cur.append(text[i])
            in_word = True
        elif ch.isspace():
            if in_word:
                words.append("".join(cur))
                cur = []
                in_word = False
        else:
            cur.append(ch)
            in_word = True
        i += 1
    if quote:
        raise InvalidArgument(f"unterminated quote in {text!r}")
    if in_word:
        words.append("".join(cur))
    return words


def parse_key_values(keyword: str, text: str) -> list[tuple[str, str]]:
    """ENV/LABEL/ARG arguments: `k=v k2="v 2"` or the legacy `k value with spaces`."""
    words = split_words_keep_eq(text)
    if not words:
        raise InvalidArgument(f"{keyword} requires at least one argument")
    if "=" not in words[0][0] and keyword in ("LABEL", "ENV"):
        parts = text.strip().split(None, 1)
        if len(parts) < 2:
            raise InvalidArgument(f"{keyword} must have two arguments")
        return [(parts[0], " ".join(split_words(parts[1])) if parts[1].strip() else "")]
    pairs = []
    for word, _raw in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise InvalidArgument(f"{keyword} names can not be blank: syntax error - can't find = in {word!r}. Must be of the form: name=value")
        if not key:
            raise InvalidArgument(f"{keyword} names can not be blank")
        pairs.append((key, value))
    return pairs


def split_words_keep_eq(text: str) -> list[tuple[str, str]]:
    return [(w, w) for w in split_words(text)]


def _cmd_value(args: str, shell: list[str]) -> list[str]:
    exec_form = parse_json_array(args)
    if exec_form is not None:
        return exec_form
    return [*shell, args]


def parse_port_spec(spec: str) -> list[str]:
    m = _PORT_RE.match(spec.strip())
    if not m:
        raise InvalidArgument(f"invalid containerPort: {spec}")
    start = int(m.group(1))
    end = int(m.group(2) or start)
    proto = (m.group(3) or "tcp").lower()
    if not (0 < start <= 65535 and 0 < end <= 65535 and start <= end):
        raise InvalidArgument(f"invalid port range: {spec}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def parse_healthcheck(args: str, shell: list[str]) -> dict[str, Any]:
    words = args.split()
    if words and words[0].upper() == "NONE":
        if len(words) > 1:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    options: dict[str, Any] = {}
    rest = args.strip()
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        rest = rest.strip()
        name, eq, value = flag[2:].partition("=")
        if not eq:
            raise InvalidArgument(f"HEALTHCHECK option {flag} needs a value")
        if name in ("interval", "timeout", "start-period", "start-interval"):
            ns = parse_go_duration(value)
            if ns != 0 and ns < 1_000_000:
                raise InvalidArgument(f"HEALTHCHECK --{name} cannot be less than 1ms")
            key = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod", "start-interval": "StartInterval"}[name]
            options[key] = ns
        elif name == "retries":
            try:
                options["Retries"] = int(value)
            except ValueError:
                raise InvalidArgument(f"HEALTHCHECK --retries must be an integer: {value}") from None
            if options["Retries"] < 0:
                raise InvalidArgument("HEALTHCHECK --retries cannot be negative")
        else:
            raise InvalidArgument(f"unknown HEALTHCHECK flag: --{name}")
    keyword, _, cmd = rest.partition(" ")
    if keyword.upper() != "CMD":
        raise InvalidArgument("HEALTHCHECK must be NONE or CMD followed by a command")
    cmd = cmd.strip()
    if not cmd:
        raise InvalidArgument("HEALTHCHECK CMD requires a command")
    exec_form = parse_json_array(cmd)
    test = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", cmd]
    return {"Test": test, **options}


def apply(config: dict[str, Any], keyword: str, args: str) -> dict[str, Any]:
    """Return a copy of the container config with one instruction applied."""
    keyword = keyword.upper()
    if keyword not in CONFIG_INSTRUCTIONS:
        raise InvalidArgument(f"{keyword} is not a valid change command")
    out = copy.deepcopy(config)
    shell = out.get("Shell") or DEFAULT_SHELL
    if keyword == "CMD":
        out["Cmd"] = _cmd_value(args, shell)
    elif keyword == "ENTRYPOINT":
        out["Entrypoint"] = _cmd_value(args, shell) if args.strip() else None
    elif keyword == "ENV":
        env = list(out.get("Env") or [])
        for key, value in parse_key_values("ENV", args):
            env = [e for e in env if e.partition("=")[0] != key]
            env.append(f"{key}={value}")
        out["Env"] = env
    elif keyword == "LABEL":
        labels = dict(out.get("Labels") or {})
        for key, value in parse_key_values("LABEL", args):
            labels[key] = value
        out["Labels"] = labels
    elif keyword == "EXPOSE":
        ports = dict(out.get("ExposedPorts") or {})
        for word in args.split():
            for port in parse_port_spec(word):
                ports[port] = {}
        out["ExposedPorts"] = ports
    elif keyword == "VOLUME":
        volumes = dict(out.get("Volumes") or {})
        paths = parse_json_array(args)
        for path in paths if paths is not None else args.split():
            if not path.strip():
                raise InvalidArgument("VOLUME specified can not be an empty string")
            volumes[path] = {}
        out["Volumes"] = volumes
    elif keyword == "USER":
        if not args.strip():
            raise InvalidArgument("USER requires exactly one argument")
        out["User"] = args.strip()
    elif keyword == "WORKDIR":
        if not args.strip():
            raise InvalidArgument("WORKDIR requires exactly one argument")
        path = args.strip()
        if not path.startswith("/"):
            path = posixpath.join(out.get("WorkingDir") or "/", path)
        out["WorkingDir"] = posixpath.normpath(path)
    elif keyword == "STOPSIGNAL":
        if not args.strip():
            raise InvalidArgument("STOPSIGNAL requires exactly one argument")
        out["StopSignal"] = args.strip()
    elif keyword == "ONBUILD":
        trigger, _ = split_instruction(args)
        if trigger in ("ONBUILD", "FROM", "MAINTAINER"):
            raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
        out["OnBuild"] = [*(out.get("OnBuild") or []), args.strip()]
    elif keyword == "SHELL":
        shell_argv = parse_json_array(args)
        if not shell_argv:
            raise InvalidArgument("SHELL requires the arguments to be in JSON form")
        out["Shell"] = shell_argv
    elif keyword == "HEALTHCHECK":
        out["Healthcheck"] = parse_healthcheck(args, shell)
    return out


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    for change in changes:
        if not change.strip():
            continue
        keyword, args = split_instruction(change)
        config = apply(config, keyword, args)
    return config
