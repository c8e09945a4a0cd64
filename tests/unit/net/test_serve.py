"""The daemons' listening sockets: connections accepted on them send small writes at once (TCP_NODELAY), so
a response written in two pieces does not wait for the client's delayed ACK."""

from __future__ import annotations

import socket

from corral.net.serve import make_socket


def test_accepted_connections_have_nodelay() -> None:
    with make_socket("127.0.0.1", 0) as listener:
        listener.listen(1)
        with socket.create_connection(listener.getsockname()[:2]):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
