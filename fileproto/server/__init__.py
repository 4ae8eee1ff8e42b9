"""The drivers: the server kinds, thin around one server session (``fileproto.session``).

By role (docs/architecture.md): ``registry`` lists the kinds; ``policy`` decides how
workers are shared; ``turn`` is one worker's turn with a connection, ``drive`` the loop
it runs; ``dispatcher`` is the selector that holds waiting connections; ``threadpool``,
``processpool`` (with ``worker`` and ``handoff``) and ``perconnection`` say how a
connection reaches a worker; ``eventloop`` (with ``loop_protocol``) is the other model.
"""
