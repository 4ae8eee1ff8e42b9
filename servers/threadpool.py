"""``python -m servers.threadpool [N]``: the thread pool with N workers,
as the classic exercise starts it (fileproto/server/threadpool.py)."""

import sys

from fileproto.server.run import main

if __name__ == "__main__":
    sys.exit(main("thread", module="servers.threadpool"))
