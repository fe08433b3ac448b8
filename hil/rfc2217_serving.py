"""A virtual board's console served as ``rfc2217://127.0.0.1:PORT``: its DTR and RTS reach the board.

A pseudo-terminal carries bytes but no modem lines, so esptool's reset sequences cannot
reach a virtual board through it. Over RFC 2217 (Telnet's COM port control) they can:
pyserial's server side (``serial.rfc2217.PortManager``) decodes the client's SET_CONTROL
requests into ``dtr``/``rts`` assignments on a port object, and here that port is the
board's pty whose line setters call :meth:`hil.virtual_board.VirtualBoard.set_lines`.

One client at a time (a serial port has one user); the next connection is served when
the previous one closes. When a client goes, its lines are released (as a USB bridge's
are when its port is closed). For example::

    server = Rfc2217Server(board, board.open())
    url = server.start()        # 'rfc2217://127.0.0.1:40123'
    ...
    server.stop()
"""

from __future__ import annotations

import socket
import threading
from typing import Protocol

import serial
import serial.rfc2217

from system.errors import BackendError


class Lines(Protocol):
    """What receives the modem lines: a virtual board."""

    def set_lines(self, *, dtr: bool | None = None, rts: bool | None = None) -> None: ...


class BoardPort(serial.Serial):
    """The board's pseudo-terminal as a pyserial port whose DTR/RTS go to the board, not to an ioctl (a pty has
    no modem lines) and whose input lines read as idle."""

    def __init__(self, path: str, lines: Lines):
        self._board_lines = lines
        super().__init__(path, timeout=0.05)

    def _update_dtr_state(self) -> None:
        self._board_lines.set_lines(dtr=self._dtr_state)

    def _update_rts_state(self) -> None:
        self._board_lines.set_lines(rts=self._rts_state)

    def _update_break_state(self) -> None:
        pass  # a break reaches no pin of the chip's UART that matters here

    cts = dsr = ri = cd = property(lambda self: False)


class _Connection:
    """The client's socket as PortManager writes to it (its Telnet answers): ``write`` is ``sendall``."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.lock = threading.Lock()  # two threads write: the data pump and the manager's answers

    def write(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)


class Rfc2217Server:
    """Serve the pseudo-terminal ``path`` of ``board`` over RFC 2217 on ``host``:``port`` (0: any free port)."""

    def __init__(self, board: Lines, path: str, host: str = "127.0.0.1", port: int = 0):
        self.board, self.path = board, path
        try:
            self._listener = socket.create_server((host, port))
        except OSError as exc:
            raise BackendError(f"cannot serve RFC 2217: {exc.strerror}") from exc
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"rfc2217://{host}:{port}"

    def start(self) -> str:
        """Start accepting clients in a thread; returns the URL they open."""
        self._thread = threading.Thread(target=self._accept, name="rfc2217", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return  # closed
            with conn:
                try:
                    self._serve(conn)
                except (OSError, serial.SerialException):
                    pass  # that client is gone (or the board): serve the next one

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # many small Telnet answers: no batching
        port = BoardPort(self.path, self.board)
        link = _Connection(conn)
        manager = serial.rfc2217.PortManager(port, link)
        gone = threading.Event()
        to_client = threading.Thread(target=self._to_client, args=(port, link, manager, gone), daemon=True)
        to_client.start()
        try:
            while not (gone.is_set() or self._stopped.is_set()):
                try:
                    data = conn.recv(4096)
                except (TimeoutError, socket.timeout):
                    continue
                except OSError:
                    break
                if not data:
                    break
                port.write(b"".join(manager.filter(data)))
        finally:
            gone.set()
            to_client.join(5)
            port.close()
            self.board.set_lines(dtr=False, rts=False)  # the client let go of the port

    def _to_client(self, port: BoardPort, link: _Connection, manager, gone: threading.Event) -> None:
        while not (gone.is_set() or self._stopped.is_set()):
            try:
                data = port.read(port.in_waiting or 1)
                if data:
                    link.write(b"".join(manager.escape(data)))
            except (OSError, serial.SerialException):
                break
        gone.set()
