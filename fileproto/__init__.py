"""fileproto: a JSON-over-TCP file server protocol, its servers, client, load generator
and a pytest plugin that turns them into a benchmark and conformance suite."""

__version__ = "0.1.0"
