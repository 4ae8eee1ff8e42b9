"""The classic entry points, kept as they were taught: ``python -m servers.threadpool 5``,
``python -m servers.processpool 5``, ``python -m servers.eventloop 5``. The servers
themselves are in ``fileproto.server``."""
