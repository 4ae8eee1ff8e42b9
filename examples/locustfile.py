"""Load a fileproto server with Locust.

    pip install "fileproto[locust]"
    fileproto serve --kind thread --workers 5 --port 45000 --root /tmp/files &
    locust -f examples/locustfile.py --host 127.0.0.1:45000          # web UI on :8089
    locust -f examples/locustfile.py --host fileproto://127.0.0.1:45000 \\
        --headless -u 20 -r 5 -t 1m --csv results                    # results_stats.csv ...

Distributed: one ``locust ... --master`` and any number of ``locust -f
examples/locustfile.py --worker --master-host MASTER``, on as many machines as you like.

Every request appears in Locust's statistics under its command (LIST, GET, UPLOAD,
DELETE); a GET is verified byte for byte, and an error answer, a reset, a timeout or
wrong bytes count as a failure. The mix and the file size are class attributes.
"""

from typing import ClassVar

from locust import between

from fileproto.locust import MIB, FileprotoUser


class FileServerUser(FileprotoUser):
    # One task iteration runs one command, picked by these weights.
    operations: ClassVar[dict[str, int]] = {"LIST": 1, "GET": 4, "UPLOAD": 2, "DELETE": 1}
    # Bytes per uploaded file; streamed from disk, never held in memory.
    file_size = 1 * MIB
    # Files each simulated user keeps on the server at most (UPLOAD cycles through them).
    max_files = 3
    # Pause between commands, per user.
    wait_time = between(0.01, 0.05)
    # Other knobs: dialect = "text", timeout = 60.0, cleanup = True (delete on stop).
