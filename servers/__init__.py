"""The concurrency models: thin drivers (blocking, selector, event loop) over one
server session (``fileproto.session``); ``servers.registry`` lists them."""
