"""The old home of the pytest plugin, kept so that ``from fileproto.pytest_plugin import
RunningServer, ServerPool`` keeps working. The plugin is :mod:`fileproto.pytest.plugin`
(the ``pytest11`` entry point named ``fileproto``); this module registers nothing."""

from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.pytest.settings import Options
from fileproto.results import EXTERNAL

__all__ = ["EXTERNAL", "Options", "RunningServer", "ServerPool"]
