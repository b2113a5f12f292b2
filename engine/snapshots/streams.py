"""Byte streams for layer tars: compression detection, hashing while reading, gzip blobs.

`Decompressing` undoes gzip, bzip2, xz or zstd when a stream starts with their
magic and passes anything else through. `HashingReader` computes the sha256 of
every byte read through it (a layer's diff ID) and can copy them to a file on
the way, so one pass over a stream both unpacks and identifies a layer.
`LayerTar` is a layer's uncompressed tar opened from the store. `write_gzip`
makes the deterministic gzip blob a registry push sends.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from typing import IO, Protocol, Self, cast

from engine.errors import InvalidArgument

BLOCK = 1 << 20
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def compression_of(head: bytes) -> str:
    """"gzip", "bzip2", "xz" or "zstd" from a stream's first six bytes; "" for anything else."""
    return next((name for magic, name in _MAGIC if head.startswith(magic)), "")


class Decompressing:
    """A reader that undoes gzip, bzip2, xz or zstd if the stream starts with their magic.

    `kind` says which it found ("" when the stream is passed through as it is).
    Corrupt compressed data raises `InvalidArgument`.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        head = raw.read(6)
        self.kind = compression_of(head)
        prefixed = cast(IO[bytes], _Prefixed(head, raw))  # read() is all the decompressors use
        self.inner: Readable = prefixed
        if self.kind == "gzip":
            self.inner = gzip.GzipFile(fileobj=prefixed, mode="rb")
        elif self.kind == "bzip2":
            self.inner = bz2.BZ2File(prefixed)
        elif self.kind == "xz":
            self.inner = lzma.LZMAFile(prefixed)  # noqa: SIM115 - holds no fd: the caller owns and closes `raw`
        elif self.kind == "zstd":
            import zstandard

            self.inner = zstandard.ZstdDecompressor().stream_reader(prefixed)

    def read(self, n: int = -1) -> bytes:
        try:
            return self.inner.read(n)
        except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise InvalidArgument(f"invalid compressed archive: {exc}") from None


class Readable(Protocol):
    """Anything with read(); all the layer streams need."""

    def read(self, n: int = -1, /) -> bytes: ...


class _Prefixed:
    """`head` (already read from `rest`) followed by the rest of `rest`."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.rest.read(n)
        if n < 0:
            data, self.head = self.head + self.rest.read(), b""
            return data
        data, self.head = self.head[:n], self.head[n:]
        if len(data) < n:
            data += self.rest.read(n - len(data))
        return data


class HashingReader:
    """Reads `source`, hashing (and, given `copy`, writing out) every byte exactly once, in order."""

    def __init__(self, source: Readable, copy: IO[bytes] | None = None) -> None:
        self.source = source
        self.copy = copy
        self.sha256 = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        if data:
            self.sha256.update(data)
            self.count += len(data)
            if self.copy is not None:
                self.copy.write(data)
        return data

    def drain(self) -> None:
        """Read to the end: a tar reader stops at the end-of-archive blocks, but the digest covers all."""
        while self.read(BLOCK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


class LayerTar:
    """A layer's uncompressed tar, open for one read front to back; `size` bytes long."""

    def __init__(self, stream: IO[bytes] | gzip.GzipFile, raw: IO[bytes], size: int) -> None:
        self._stream = stream
        self._raw = raw
        self.size = size

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def close(self) -> None:
        self._stream.close()
        self._raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _CountingWriter:
    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.count = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.count += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


def write_gzip(source: Readable, path: str) -> tuple[str, int]:
    """Compress `source` into a new file at `path`; returns the blob's (digest, size).

    mtime 0 and a fixed level: the same tar always gives the same blob.
    """
    with open(path, "xb") as raw:
        counted = _CountingWriter(raw)
        with gzip.GzipFile(fileobj=counted, mode="wb", mtime=0) as gz:
            while block := source.read(BLOCK):
                gz.write(block)
    return "sha256:" + counted.sha256.hexdigest(), counted.count
