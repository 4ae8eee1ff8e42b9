"""``python -m servers.eventloop [N]``: the event loops with N workers,
as the classic exercise starts it (fileproto/server/eventloop.py)."""

import sys

from fileproto.server.run import main

if __name__ == "__main__":
    sys.exit(main("asyncio", module="servers.eventloop"))
