"""A TCP proxy for the tests, between the service and PostgreSQL, that can stop forwarding
without closing anything: what a server whose processes are stopped, a hung VM or a network
partition looks like from the client (the connection stays open; nothing comes back).

``Proxy(upstream)`` listens on 127.0.0.1 (``.port``) and forwards each connection to
``upstream``, a ``(host, port)`` pair or the path of a Unix socket (the embedded PostgreSQL's).
``freeze()`` stops reading from either side (bytes wait in the kernel's buffers, new
connections are accepted and get no answer), ``thaw()`` goes on. ``close()`` ends it all.
"""

import contextlib
import select
import socket
import threading


class Proxy:
    def __init__(self, upstream: tuple[str, int] | str):
        self.upstream = upstream
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.upstream)
            return sock
        return socket.create_connection(self.upstream, timeout=10)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        # Frozen, a new connection is accepted (the kernel would) but not passed on yet.
        self._wait_flowing()
        try:
            server = self._connect_upstream()
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._sockets += [client, server]
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        self._pump(client, server)

    def _wait_flowing(self) -> None:
        while not self._flowing.wait(0.1):
            if self._closed.is_set():
                return

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                self._wait_flowing()
                readable, _, _ = select.select([source], [], [], 0.1)
                if not readable or not self._flowing.is_set():
                    continue
                data = source.recv(65536)
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
                target.sendall(data)
        except (OSError, ValueError):  # ValueError: a socket close() already closed
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_RDWR)
