"""A TCP proxy on 127.0.0.1 that a test can cut and restore: PostgreSQL, Redis or S3 made to fail for
real, without touching the servers other tests share.

    with TcpProxy(5432) as proxy:          # forwards 127.0.0.1:<proxy.port> → 127.0.0.1:5432
        ...                                # point the app at proxy.port
        proxy.cut()                        # existing connections reset, new ones refused
        proxy.cut(hang=True)               # existing connections reset, new ones accepted and left silent
        proxy.restore()                    # forwarding again, on the same port
        proxy.cut_after(5_000_000)         # cut() once 5 MB more have gone upstream (mid-upload)

`cut()` models a server that crashed or failed over (the client sees RST, then "connection
refused"); `cut(hang=True)` a network that drops packets, where only the client's own timeouts end
a connection attempt. `Balancer` is the same machinery in front of several backends, sending new
connections only to those whose readiness check passes. Nothing here imports Django.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

BUFFER_BYTES = 64 * 1024


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: the peer sees 'connection reset', as when a server process dies."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", port: int = 0):
        self.target = (target_host, target_port)
        self.port = port
        self.connections_made = 0
        self.bytes_upstream = 0
        self._cut_at: int | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._forwarding = False
        self._closed = False

    # --- control ------------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._forwarding = True
        self._listen()
        return self

    def cut(self, *, hang: bool = False) -> None:
        """Reset every open connection; then refuse new ones, or (hang=True) accept them and stay silent."""
        self._forwarding = False
        if not hang:
            self._stop_listening()
        elif self._listener is None:
            self._listen()
        self._reset_all()

    def cut_after(self, upstream_bytes: int) -> None:
        """cut() as soon as `upstream_bytes` more have been forwarded to the target."""
        self._cut_at = self.bytes_upstream + upstream_bytes

    def restore(self) -> None:
        """Forward again; connections accepted while hanging are reset (their clients have given up)."""
        self._reset_all()
        self._forwarding = True
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self._closed = True
        self._forwarding = False
        self._stop_listening()
        self._reset_all()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- machinery ----------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]  # the same port on every restore
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._accepting.start()

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the accept loop at once; close() alone would leave it blocked.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
            self._accepting = None

    def _reset_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    def _track(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._open.update(sockets)

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            self._track(client)
            if not self._forwarding:
                continue  # hanging: held open, never answered, reset on restore()
            target = self._pick()
            try:
                if target is None:
                    raise OSError("no backend to send the connection to")
                upstream = socket.create_connection(target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            self._track(upstream)
            self.connections_made += 1
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _pick(self) -> tuple[str, int] | None:
        return self.target

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(pair), [], [], 0.5)
                for sock in readable:
                    data = sock.recv(BUFFER_BYTES)
                    if not data:
                        return
                    if sock is client:
                        self.bytes_upstream += len(data)
                        if self._cut_at is not None and self.bytes_upstream >= self._cut_at:
                            self._cut_at = None
                            self.cut()
                            return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return  # reset by cut(), or by either end
        finally:
            with self._lock:
                self._open.discard(client)
                self._open.discard(upstream)
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()


class Balancer(TcpProxy):
    """A layer-4 load balancer on 127.0.0.1 that, like a cloud one, gives new connections only to backends
    whose readiness check (GET `ready_path`) answered 200 at its last poll, round-robin. Connections it
    already handed out stay where they are; `connections_to[port]` counts what each backend was given.
    """

    def __init__(self, *backends: int, ready_path: str = "/health/ready", interval: float = 0.25):
        super().__init__(0)
        self.ready_path = ready_path
        self.interval = interval
        self.backends: list[int] = list(backends)
        self.healthy: list[int] = []
        self.connections_to: dict[int, int] = {}
        self._turn = 0
        self._polling = threading.Event()

    def start(self) -> Balancer:
        super().start()
        self._polling.set()
        self.poll()
        threading.Thread(target=self._poll_loop, name="balancer-health", daemon=True).start()
        return self

    def close(self) -> None:
        self._polling.clear()
        super().close()

    def add(self, port: int) -> None:
        self.backends = [*self.backends, port]

    def remove(self, port: int) -> None:
        self.backends = [backend for backend in self.backends if backend != port]
        self.healthy = [backend for backend in self.healthy if backend != port]

    def poll(self) -> None:
        """Check every backend once; only those that answered 200 get new connections."""
        self.healthy = [port for port in list(self.backends) if self._ready(port)]

    def _ready(self, port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.settimeout(2)
                sock.sendall(f"GET {self.ready_path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                return sock.recv(32).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
        except OSError:
            return False

    def _poll_loop(self) -> None:
        while self._polling.is_set():
            time.sleep(self.interval)
            self.poll()

    def _pick(self) -> tuple[str, int] | None:
        healthy = self.healthy
        if not healthy:
            return None
        with self._lock:
            port = healthy[self._turn % len(healthy)]
            self._turn += 1
            self.connections_to[port] = self.connections_to.get(port, 0) + 1
        return ("127.0.0.1", port)
