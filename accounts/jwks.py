"""Clerk's signing keys from a JWKS URL, fetched so that the key service can never hold a worker
(issue #12, item 3).

- ``fetch`` gives the whole exchange (connect, TLS, headers, body) one deadline and the body a
  byte cap. A per-read timeout alone does not bound a server that drips a byte a second, and
  reading an answer whole lets a 300 MB one grow the worker by as much: a watchdog timer shuts
  the socket at the deadline, and the body is read in pieces and dropped past the cap.
- ``JWKSKeys`` lets one thread of a process fetch at a time; every other request keeps using the
  keys in hand meanwhile, and one whose key id is unknown waits for the fetch under way only a
  short, fixed time. When the key set could not be refreshed, an unknown key id is our failure
  (``KeyServiceUnavailable``: 503 with ``Retry-After``), not the token's.

The standard library's http.client is used rather than requests: requests exposes no socket to
cut until the headers are in, so a server dripping its headers would still hold the worker.
No HTTP proxy is used (a proxy is no place for signing keys; ``CLERK_JWT_KEY`` needs no network).
"""

import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import time
from functools import cache
from urllib.parse import urlsplit

import jwt

from delight import metrics

logger = logging.getLogger(__name__)


class FetchError(Exception):
    """The JWKS could not be fetched within the limits; ``str()`` says why."""


class InvalidToken(Exception):
    """The token is not a valid Clerk session token for this service; ``str()`` is the reason."""


class KeyServiceUnavailable(Exception):
    """The JWKS could not be fetched and no usable key is at hand: the failure is ours."""


@cache
def _tls_context() -> ssl.SSLContext:
    # The CA bundle requests used before (certifi) when it is installed, else the system's.
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def fetch(url: str, *, deadline: float, max_bytes: int) -> bytes:
    """The body of a 200 answer to ``GET url``, read within ``deadline`` seconds in all and at
    most ``max_bytes`` long; ``FetchError`` otherwise. Redirects are not followed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("not an http(s) URL")
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=deadline, context=_tls_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=deadline)
    expired = threading.Event()
    connected: list[socket.socket] = []  # http.client forgets its socket once the answer starts

    def give_up() -> None:
        # shutdown(), unlike close(), wakes a recv() blocked in the fetching thread at once. The
        # plain socket's own method: SSLSocket.shutdown would tear down TLS state under the
        # reader's feet.
        expired.set()
        sock = connected[0] if connected else connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing to wake
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    watchdog = threading.Timer(deadline, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.connect()  # connect and TLS handshake: each step bounded by the timeout
        connected.append(connection.sock)
        if expired.is_set():
            raise FetchError(f"no connection within {deadline:g} s")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(
            "GET",
            target,
            headers={
                "Accept": "application/json",
                # A compressed body could inflate far past the cap; ask for none, take none.
                "Accept-Encoding": "identity",
                "User-Agent": "delight-goals",
            },
        )
        response = connection.getresponse()
        if response.status != 200:
            raise FetchError(f"HTTP {response.status}")
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise FetchError(f"unrequested Content-Encoding {encoding!r}")
        declared = (response.getheader("Content-Length") or "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"the body declares {declared} bytes, over the {max_bytes} cap")
        body = bytearray()
        while chunk := response.read1(max_bytes + 1 - len(body)):
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"the body is over the {max_bytes}-byte cap")
        if expired.is_set():
            raise FetchError(f"no complete answer within {deadline:g} s")
        return bytes(body)
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise FetchError(f"no complete answer within {deadline:g} s") from None
        raise FetchError(f"{type(exc).__name__}: {exc}") from None
    finally:
        watchdog.cancel()
        connection.close()


def usable_keys(document) -> dict:
    """The RS256 signing keys of a JWKS document, by ``kid``.

    Key by key: an entry PyJWT cannot read (it raises KeyError for an "oct" key without "k",
    not one of its own errors) is skipped, so it neither becomes a 500 nor hides the good keys.
    """
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError('JWKS is not {"keys": [...]}')
    keys = {}
    for entry in entries:
        if not (
            isinstance(entry, dict)
            and entry.get("kty") == "RSA"
            and entry.get("use", "sig") == "sig"
            and isinstance(entry.get("kid"), str)
            and entry["kid"]
        ):
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256").key
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            continue
    if not keys:
        raise ValueError("JWKS has no RSA signing key with a kid")
    return keys


class JWKSKeys:
    """Keys from a JWKS URL, cached per process.

    - A fetched set is trusted for ``ttl`` seconds; after that the next request refetches, so a key
      removed from the JWKS stops being accepted at most ``ttl`` seconds (and a fetch) later.
      While that refetch runs, other requests go on with the set in hand.
    - An unknown ``kid`` (key rotation) refetches at once, but at most once per ``min_refetch``
      seconds per process: a flood of random ``kid`` values cannot become a flood of fetches. If
      another thread is fetching, it waits for that fetch at most ``wait`` seconds.
    - A failed refresh keeps the last good set; with no set at all, or for a ``kid`` the failed
      refresh might have brought, it is ``KeyServiceUnavailable``.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        timeout: float,
        min_refetch: float,
        max_bytes: int,
        wait: float,
    ):
        self.url = url
        self.ttl = ttl
        self.timeout = timeout  # the whole fetch's deadline
        self.min_refetch = min_refetch
        self.max_bytes = max_bytes
        self.wait = wait
        self._keys: dict[str, object] | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._last_failed = False
        self._fetching = threading.Lock()  # held by the one thread that fetches
        self._attempt_done = threading.Condition()
        self._attempts = 0
        self.fetch_count = 0  # observability, and what the tests count

    def get(self, kid: str | None):
        if kid is None:
            raise InvalidToken("Token header has no key id (kid).")
        keys = self._keys
        if keys is not None and kid in keys:
            if not self._expired():
                return keys[kid]
            # Stale: this thread refreshes unless another already is; nobody waits for another.
            self._refresh(wait=0)
            keys = self._keys
            if kid in keys:
                return keys[kid]
            raise InvalidToken("Token is signed with an unknown key.")
        self._refresh(wait=self.wait)
        keys = self._keys
        if keys is not None and kid in keys:
            return keys[kid]
        if keys is None or self._last_failed or self._fetching.locked():
            # The key set could not be refreshed (or is still being fetched): the token may be
            # signed with a key we have not been able to see yet.
            raise KeyServiceUnavailable("The signing keys could not be fetched.")
        raise InvalidToken("Token is signed with an unknown key.")

    def _expired(self) -> bool:
        return time.monotonic() - self._fetched_at >= self.ttl

    def _refresh(self, *, wait: float) -> None:
        """Fetch now if no other thread is and the refetch interval allows; otherwise wait for
        the fetch under way, ``wait`` seconds at most."""
        seen = self._attempts
        if self._fetching.acquire(blocking=False):
            try:
                if time.monotonic() - self._attempted_at >= self.min_refetch:
                    self._attempt()
            finally:
                self._fetching.release()
            return
        if wait > 0:
            with self._attempt_done:
                self._attempt_done.wait_for(lambda: self._attempts != seen, timeout=wait)

    def _attempt(self) -> None:
        self._attempted_at = time.monotonic()
        self.fetch_count += 1
        try:
            body = fetch(self.url, deadline=self.timeout, max_bytes=self.max_bytes)
            keys = usable_keys(json.loads(body))
        except (
            FetchError,
            ValueError,
            TypeError,
            AttributeError,
            RecursionError,
            jwt.PyJWTError,
        ) as exc:
            # ValueError covers a body that is not JSON (or not UTF-8); keep whatever we had.
            logger.warning("JWKS fetch from %s failed: %s", self.url, exc)
            self._last_failed = True
            metrics.key_fetch(ok=False)
        else:
            metrics.key_fetch(ok=True)
            self._keys = keys
            self._fetched_at = time.monotonic()
            self._last_failed = False
        finally:
            with self._attempt_done:
                self._attempts += 1
                self._attempt_done.notify_all()
