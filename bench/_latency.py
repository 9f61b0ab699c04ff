"""A TCP proxy that delays each request by a fixed time: a remote server's latency, locally.

The sandbox answers on loopback in about a millisecond; GitLab answers an MLflow call in
tens to hundreds of milliseconds. Bytes from client to server reach the server `latency`
seconds after the proxy received them, as on a network link: a request sent in two writes
(urllib3 sends the headers, then the body) is delayed once, not twice. Answers flow back at
once.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress


@contextmanager
def latency_proxy(target: tuple[str, int], latency: float) -> Iterator[int]:
    """Yield the port of a proxy to `target` that adds `latency` seconds per request."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pump(src: socket.socket, dst: socket.socket, delay: float) -> None:
        # A delay line: a reader stamps each chunk with when it is due, this thread sends
        # it then, so chunks that arrive together leave together.
        line: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()

        def read() -> None:
            try:
                while chunk := src.recv(1 << 16):
                    line.put((time.monotonic() + delay, chunk))
            except OSError:
                pass
            line.put((0.0, b""))

        threading.Thread(target=read, daemon=True).start()
        try:
            while True:
                due, chunk = line.get()
                if not chunk:
                    break
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server = socket.create_connection(target)
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for args in ((client, server, latency), (server, client, 0.0)):
                threading.Thread(target=pump, args=args, daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
