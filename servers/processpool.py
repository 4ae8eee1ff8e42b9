"""``python -m servers.processpool [N]``: the process pool with N workers,
as the classic exercise starts it (fileproto/server/processpool.py)."""

import sys

from fileproto.server.run import main

if __name__ == "__main__":
    sys.exit(main("process", module="servers.processpool"))
