"""Checks every HTTP request passes before the app sees it: Host allow-list, bearer token, body size.

A pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which hides client disconnects from the app):

1. ``Host`` must name this server (``allowed_hosts``; the port is ignored). A web page on another origin that
   resolves its own name to 127.0.0.1 (DNS rebinding) sends its own name and gets 400.
2. With a token, ``Authorization: Bearer <token>`` is required (401 otherwise) on every path but ``public_paths``
   (``/health`` and the static review page, which holds no data and which a browser opens without headers).
   The comparison is constant-time (``hmac.compare_digest``).
3. The body may not exceed ``max_body_bytes``: a larger ``Content-Length`` gets 413 before any byte is read, and
   the body is counted while it streams, so a chunked body (no Content-Length) cannot bypass the limit either.
   The checked body is then replayed to the app; memory per request is bounded by the limit. A body that has
   not fully arrived within ``body_timeout_s`` gets 408, so a slow sender cannot hold a connection forever.

Rejections are JSON ``{"detail": "..."}`` and are logged with the status and path only.

Example:
    >>> host_name("[::1]:8000"), host_name("LocalHost:80"), host_name("127.0.0.1")
    ('[::1]', 'localhost', '127.0.0.1')
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio

__all__ = ["Guard", "host_name"]

log = logging.getLogger("cancerllm.serve")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def host_name(host: str) -> str:
    """The name part of a Host header, lower-cased: ``[::1]:8000`` -> ``[::1]``, ``a.b:80`` -> ``a.b``."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal: the port, if any, follows the closing bracket
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _reply(send: Send, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware enforcing the Host allow-list, the optional bearer token and the body-size limit.

    Args:
        app: the ASGI app to protect.
        max_body_bytes: largest accepted body.
        allowed_hosts: accepted Host names (``"*"`` accepts any); ``::1`` and ``[::1]`` are the same.
        token: required bearer token, or None for no authentication.
        public_paths: paths served without a token.
        body_timeout_s: seconds allowed for the whole body to arrive.
    """

    def __init__(self, app: Any, *, max_body_bytes: int, allowed_hosts: Iterable[str], token: str | None = None,
                 public_paths: Iterable[str] = ("/health", "/"), body_timeout_s: float = 120.0):
        self.app, self.max_body_bytes, self.body_timeout_s = app, max_body_bytes, body_timeout_s
        self.allowed = {host_name(f"[{h}]" if h.count(":") > 1 and not h.startswith("[") else h)
                        for h in allowed_hosts}
        self.expected = f"Bearer {token}".encode() if token else None
        self.public = set(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan events carry no request
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        path = scope.get("path", "")
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        if "*" not in self.allowed and host not in self.allowed:
            log.info("rejected %s: 400 Host not allowed", path)
            await _reply(send, 400, f"Host {host or '(none)'!r} is not allowed; this server answers to "
                                    f"{sorted(self.allowed)} (allowed_hosts)")
            return
        if self.expected is not None and path not in self.public:
            given = headers.get(b"authorization", b"")
            scheme, _, cred = given.partition(b" ")
            # Compare the whole normalised header so the time taken does not depend on where a wrong token differs.
            if not hmac.compare_digest(b"Bearer " + cred.strip() if scheme.lower() == b"bearer" else b"",
                                       self.expected):
                log.info("rejected %s: 401 %s bearer token", path, "wrong" if given else "missing")
                await _reply(send, 401, "missing or wrong bearer token: send 'Authorization: Bearer <token>' with "
                                        "the server's token (--token or CANCERLLM_SERVE_TOKEN)",
                             [(b"www-authenticate", b'Bearer realm="cancerllm"')])
                return
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _reply(send, 400, "Content-Length: expected a non-negative integer")
                return
            if int(declared) > self.max_body_bytes:
                log.info("rejected %s: 413 Content-Length %s > %d", path, declared.decode(), self.max_body_bytes)
                await _reply(send, 413, self._too_large(f"Content-Length is {int(declared)} bytes"))
                return
        await self._buffered(scope, receive, send, path)

    def _too_large(self, what: str) -> str:
        return (f"request body too large: {what}, the limit is {self.max_body_bytes} bytes (max_body_bytes); "
                "send fewer or shorter notes per request (cancerllm extract handles files of any size)")

    async def _buffered(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        # Read the body here, counting as it arrives: a missing or understated Content-Length cannot make the
        # server hold more than max_body_bytes (h11 already refuses bytes beyond a declared length).
        chunks, total = [], 0
        with anyio.move_on_after(self.body_timeout_s) as slow:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left before sending its body; nobody to answer
                body = message.get("body", b"")
                total += len(body)
                if total > self.max_body_bytes:
                    log.info("rejected %s: 413 streamed body > %d", path, self.max_body_bytes)
                    await _reply(send, 413, self._too_large(f"more than {self.max_body_bytes} bytes were sent"))
                    return
                chunks.append(body)
                if not message.get("more_body", False):
                    break
        if slow.cancelled_caught:
            log.info("rejected %s: 408 body incomplete after %g s", path, self.body_timeout_s)
            await _reply(send, 408, f"request body incomplete after {self.body_timeout_s:g} s ({total} bytes "
                                    "received; timeout_s)")
            return
        pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> dict[str, Any]:
            # The app first gets the whole checked body, then the real channel (so it still sees disconnects).
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)
