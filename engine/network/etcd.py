"""A client for etcd v3 through its JSON gateway: HTTP POSTs of JSON, keys and values in base64.

Every call blocks (run it on a worker thread, never on the event loop) and tries
the configured endpoints in turn, starting with the one that answered last. When
none answers, it raises `StoreUnavailable`; when etcd answers with an error, it
raises `StoreError`. A watch is a generator that yields batches of events from a
revision on, re-opening its stream (from the next revision, so nothing is missed)
when it has been idle for `WATCH_IDLE` seconds, and ending when its stop event is set.

Gateway paths: etcd 3.4 (Debian bookworm's etcd-server) serves `/v3/...` (and the
older `/v3beta/...`); 3.3 served `/v3beta/...` only. `GATEWAY` is the one used.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from engine.errors import SystemFault, Unavailable

GATEWAY = "/v3"
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0
WATCH_IDLE = 10.0

Json = dict[str, Any]


class StoreUnavailable(Unavailable):
    """No endpoint of the cluster store answered."""


class StoreError(SystemFault):
    """The cluster store answered with an error."""


class WatchCompacted(StoreError):
    """The watch's start revision was compacted away: read everything again."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int = 0
    mod_revision: int = 0
    lease: int = 0


@dataclass(frozen=True)
class Event:
    deleted: bool
    kv: KeyValue


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def prefix_end(prefix: str) -> str:
    """The range end that makes [prefix, end) every key starting with `prefix` (ASCII prefixes)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _kv(doc: Json) -> KeyValue:
    return KeyValue(base64.b64decode(doc.get("key", "")).decode(), base64.b64decode(doc.get("value", "")),
                    int(doc.get("create_revision", 0)), int(doc.get("mod_revision", 0)), int(doc.get("lease", 0)))


# -- transaction parts (pure) -------------------------------------------------------------
def key_absent(key: str) -> Json:
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def key_present(key: str) -> Json:
    return {"key": b64(key), "target": "VERSION", "result": "GREATER", "version": "0"}


def value_is(key: str, value: bytes) -> Json:
    return {"key": b64(key), "target": "VALUE", "result": "EQUAL", "value": b64(value)}


def prefix_unchanged_since(prefix: str, revision: int) -> Json:
    """No key under `prefix` was created or changed after `revision`."""
    return {"key": b64(prefix), "range_end": b64(prefix_end(prefix)), "target": "MOD", "result": "LESS",
            "mod_revision": str(revision + 1)}


def prefix_empty(prefix: str) -> Json:
    return {"key": b64(prefix), "range_end": b64(prefix_end(prefix)), "target": "CREATE", "result": "LESS",
            "create_revision": "1"}


def put_op(key: str, value: bytes, lease: int = 0) -> Json:
    body: Json = {"key": b64(key), "value": b64(value)}
    if lease:
        body["lease"] = str(lease)
    return {"request_put": body}


def delete_op(key: str, prefix: bool = False) -> Json:
    body: Json = {"key": b64(key)}
    if prefix:
        body["range_end"] = b64(prefix_end(key))
    return {"request_delete_range": body}


def range_op(key: str, prefix: bool = False) -> Json:
    body: Json = {"key": b64(key)}
    if prefix:
        body["range_end"] = b64(prefix_end(key))
    return {"request_range": body}


@dataclass(frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    ranges: list[list[KeyValue]]  # the KeyValues of each range operation that ran, in order


class EtcdClient:
    """Blocking etcd v3 calls over the JSON gateway; safe to use from several threads at once."""

    def __init__(self, endpoints: tuple[str, ...]) -> None:
        if not endpoints:
            raise ValueError("no etcd endpoints")
        self.endpoints = list(endpoints)
        # a request every few seconds: urllib3's per-request debug lines would drown the engine's log
        logging.getLogger("urllib3").setLevel(logging.INFO)
        self._local = threading.local()
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _order(self) -> list[str]:
        with self._lock:
            return list(self.endpoints)

    def _answered(self, endpoint: str) -> None:
        with self._lock:
            if self.endpoints[0] != endpoint:
                self.endpoints.remove(endpoint)
                self.endpoints.insert(0, endpoint)

    def call(self, path: str, body: Json) -> Json:
        failures = []
        for endpoint in self._order():
            try:
                r = self._session().post(f"http://{endpoint}{GATEWAY}{path}", json=body,
                                         timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
                doc = r.json()
            except (requests.RequestException, ValueError) as exc:
                failures.append(f"{endpoint}: {_reason(exc)}")
                continue
            self._answered(endpoint)
            if not isinstance(doc, dict):
                raise StoreError(f"etcd {endpoint}{path}: unexpected answer")
            if "error" in doc or r.status_code >= 400:
                raise StoreError(f"etcd {endpoint}{path}: {doc.get('message') or doc.get('error') or r.status_code}")
            return doc
        raise StoreUnavailable("; ".join(failures))

    # -- keys ---------------------------------------------------------------------------------
    def range(self, key: str, prefix: bool = False) -> tuple[int, list[KeyValue]]:
        """The keys (one, or all under a prefix) and the store's revision they were read at."""
        body = range_op(key, prefix)["request_range"]
        doc = self.call("/kv/range", body)
        return int(doc.get("header", {}).get("revision", 0)), [_kv(k) for k in doc.get("kvs", [])]

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        doc = self.call("/kv/put", put_op(key, value, lease)["request_put"])
        return int(doc.get("header", {}).get("revision", 0))

    def delete(self, key: str, prefix: bool = False) -> int:
        doc = self.call("/kv/deleterange", delete_op(key, prefix)["request_delete_range"])
        return int(doc.get("deleted", 0))

    def txn(self, compare: list[Json], success: list[Json], failure: list[Json] | None = None) -> TxnResult:
        doc = self.call("/kv/txn", {"compare": compare, "success": success, "failure": failure or []})
        ranges = [[_kv(k) for k in resp["response_range"].get("kvs", [])]
                  for resp in doc.get("responses", []) if "response_range" in resp]
        return TxnResult(bool(doc.get("succeeded")), int(doc.get("header", {}).get("revision", 0)), ranges)

    # -- leases -------------------------------------------------------------------------------
    def grant(self, ttl: int) -> int:
        return int(self.call("/lease/grant", {"TTL": str(ttl)})["ID"])

    def keepalive(self, lease: int) -> int:
        """Refresh a lease; its remaining TTL, 0 when it has expired (its keys are gone)."""
        doc = self.call("/lease/keepalive", {"ID": str(lease)})
        return int((doc.get("result") or {}).get("TTL", 0))

    # -- watch --------------------------------------------------------------------------------
    def watch(self, prefix: str, start_revision: int, stop: threading.Event) -> Iterator[list[Event]]:
        """Batches of events on keys under `prefix` from `start_revision` on, until `stop` is set."""
        next_revision = start_revision
        while not stop.is_set():
            failures = []
            for endpoint in self._order():
                request = {"create_request": {"key": b64(prefix), "range_end": b64(prefix_end(prefix)),
                                              "start_revision": str(next_revision)}}
                created = False
                try:
                    with self._session().post(f"http://{endpoint}{GATEWAY}/watch", json=request, stream=True,
                                              timeout=(CONNECT_TIMEOUT, WATCH_IDLE)) as r:
                        for line in r.iter_lines():
                            if stop.is_set():
                                return
                            if not line:
                                continue
                            result = _watch_result(json.loads(line), endpoint)
                            created = True
                            events = [Event(e.get("type") == "DELETE", _kv(e["kv"])) for e in result.get("events", [])]
                            if events:
                                next_revision = max(e.kv.mod_revision for e in events) + 1
                                yield events
                except (requests.RequestException, ValueError) as exc:
                    if created:  # idle, or the stream broke after it worked: open it again where it was
                        self._answered(endpoint)
                        break
                    failures.append(f"{endpoint}: {_reason(exc)}")
                    continue
                break  # the server ended the stream: open it again
            else:
                raise StoreUnavailable("; ".join(failures))


def _watch_result(doc: Json, endpoint: str) -> Json:
    if "error" in doc:
        raise StoreError(f"etcd {endpoint} watch: {doc['error'].get('message') if isinstance(doc['error'], dict) else doc['error']}")
    result = doc.get("result") or {}
    if int(result.get("compact_revision", 0)):
        raise WatchCompacted(f"etcd {endpoint} watch: revision compacted (now {result['compact_revision']})")
    if result.get("canceled"):
        raise StoreError(f"etcd {endpoint} watch canceled: {result.get('cancel_reason', '')}")
    return result


def _reason(exc: BaseException) -> str:
    """A short cause for a failed request (requests' messages nest the whole chain)."""
    if isinstance(exc, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer in time"
    text = str(exc)
    for marker in ("Connection refused", "No route to host", "Network is unreachable", "timed out"):
        if marker in text:
            return marker.lower() if marker != "timed out" else "connection timed out"
    return text[:200]
