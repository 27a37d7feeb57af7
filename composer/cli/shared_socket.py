"""Run daphne on a listening socket inherited from ``composer up``, so several processes share a port.

``python -m composer.cli.shared_socket FD INET|INET6 APP``. The socket is handed over the way systemd
socket activation does (descriptor 3, ``LISTEN_PID``/``LISTEN_FDS``/``LISTEN_FDNAMES``), which
daphne's Twisted accepts as the ``systemd:`` endpoint; the kernel spreads new connections over
every process that accepts on the socket.
"""
from __future__ import annotations

import os
import sys

SD_LISTEN_FDS_START = 3


def main(argv: list[str]) -> int:
    fd, domain, app = int(argv[0]), argv[1], argv[2]
    if fd != SD_LISTEN_FDS_START:
        os.dup2(fd, SD_LISTEN_FDS_START)
        os.close(fd)
    # Twisted reads these when its endpoints module is imported: set them before daphne loads it.
    os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1", LISTEN_FDNAMES="composer")
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(["-e", f"systemd:domain={domain}:index=0", app])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
