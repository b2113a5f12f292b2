"""Image references, parsed and normalised exactly as Docker does (pure).

`busybox` is `docker.io/library/busybox:latest`; `localhost:5000/app:v1` keeps its
registry; `name@sha256:<hex>` is a digest reference. Internally Berth stores the
fully qualified form; `familiar()` gives the short form Docker shows users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_PATH = rf"{_COMPONENT}(?:/{_COMPONENT})*"

_REFERENCE_RE = re.compile(rf"^((?:{_DOMAIN}/)?{_PATH})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_TAG_RE = re.compile(rf"^{_TAG}$")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}$")
_ID_PREFIX_RE = re.compile(r"^(?:sha256:)?[a-f0-9]{1,64}$")

NAME_TOTAL_LENGTH_MAX = 255


@dataclass(frozen=True)
class Reference:
    """A normalised reference: domain/path with an optional tag and digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    def familiar_name(self) -> str:
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_PREFIX) and path.count("/") == 1:
                path = path[len(OFFICIAL_PREFIX):]
            return path
        return self.name

    def familiar(self) -> str:
        out = self.familiar_name()
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse a user-supplied reference; adds `:latest` when no tag or digest is given."""
    if not text:
        raise InvalidArgument("invalid reference format: repository name must have at least one component")
    if _HEX64_RE.match(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    m = _REFERENCE_RE.match(text)
    if not m:
        if text.lower() != text and _REFERENCE_RE.match(text.lower()):
            raise InvalidArgument(f"invalid reference format: repository name ({text}) must be lowercase")
        raise InvalidArgument(f"invalid reference format: {text!r}")
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(f"invalid reference format: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    domain, path = _split_domain(name)
    if path.lower() != path:
        raise InvalidArgument(f"invalid reference format: repository name ({path}) must be lowercase")
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def parse_repo_tag(repo: str, tag: str | None) -> Reference:
    """`repo` (which may itself carry a tag, as CLI28 sends) plus an optional separate `tag`."""
    ref = parse(repo, default_tag=False)
    if tag:
        if not _TAG_RE.match(tag):
            raise InvalidArgument(f"invalid tag format: {tag!r}")
        if ref.digest:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        return Reference(ref.domain, ref.path, tag, None)
    if ref.tag is None and ref.digest is None:
        return Reference(ref.domain, ref.path, DEFAULT_TAG, None)
    return ref


def looks_like_id_prefix(text: str) -> bool:
    return bool(_ID_PREFIX_RE.match(text))


def is_full_id(text: str) -> bool:
    return bool(_HEX64_RE.match(text.removeprefix("sha256:")))


def familiar_string(full: str) -> str:
    """`docker.io/library/busybox:latest` → `busybox:latest` (for stored refs)."""
    return parse(full, default_tag=False).familiar()
