"""A socket guard for tests: with DORSUM_SOCKET_LOG set, any attempt to reach the network (an
IPv4/IPv6 connect or send, a name lookup) is written to that file and refused.

Put this folder first on PYTHONPATH: Python imports ``sitecustomize`` at start-up, so the guard
is in place before dorsum (or rdflib, or urllib) runs. tests/test_hostile.py reads the log: it
must stay empty.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

_LOG = os.environ.get("DORSUM_SOCKET_LOG")
_NETWORK = (socket.AF_INET, socket.AF_INET6)


def _refuse(what: str, target: Any) -> None:
    assert _LOG is not None
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"pid {os.getpid()}: {what} {target!r}\n")
    raise OSError(errno.ENETUNREACH, f"network refused by the test socket guard: {what} {target!r}")


if _LOG:
    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex
    _sendto = socket.socket.sendto

    def _guarded_connect(self: socket.socket, address: Any) -> None:
        if self.family in _NETWORK:
            _refuse("connect", address)
        _connect(self, address)

    def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in _NETWORK:
            _refuse("connect", address)
        return _connect_ex(self, address)

    def _guarded_sendto(self: socket.socket, *args: Any) -> int:
        if self.family in _NETWORK:
            _refuse("sendto", args[-1])
        return _sendto(self, *args)  # type: ignore[no-any-return]

    def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse("getaddrinfo", host)

    def _guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse("create_connection", address)

    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _guarded_sendto  # type: ignore[assignment,method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.create_connection = _guarded_create_connection
