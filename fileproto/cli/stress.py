"""``fileproto stress``: the load generator against a running server, from the shell.

One load (or, with ``--matrix``, the sizes x clients grid of both operations) runs
through :mod:`fileproto.stress`, the code the pytest plugin uses: every client worker
starts together, every transfer is streamed and verified byte for byte. The results are
the classic table (:func:`fileproto.report.render_text`), the aggregate throughput and,
with ``--json``, a pytest-benchmark-shaped file that ``fileproto report`` reads.

Ctrl-C (or SIGTERM) during a case cancels it: client threads abort at their next chunk,
client processes are terminated, what was measured so far is printed, and files this
command created (the local test file, uploads on the server) are removed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from fileproto import report
from fileproto.addresses import DEFAULT_SERVER
from fileproto.argtypes import positive_int
from fileproto.cases.classic import CLIENT_WORKERS, SIZES_MIB
from fileproto.cases.slowclients import DISPATCH_LABELS, fixed_dispatch
from fileproto.errors import FileprotoError
from fileproto.results import EXTERNAL
from fileproto.results.document import load_results, write_document
from fileproto.results.felt import Waiting
from fileproto.server.registry import kind_names
from fileproto.stress.display import Display
from fileproto.stress.interrupts import Interrupts
from fileproto.stress.load_arguments import (
    add_load_options,
    add_probe_option,
    add_waiting_options,
    address,
    comma_list,
    operation,
    positive_mib,
    server_workers,
)
from fileproto.stress.plan import (
    LoadRequest,
    PlanError,
    StressOptions,
    plan,
    scenario_of,
)
from fileproto.stress.runner import LoadRounds, Runner
from fileproto.stress.spec import method_for
from fileproto.stress.summary import benchmark_json, failure_lines, felt_lines, summary_lines
from fileproto.units import MIB


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``stress`` subcommand to the main CLI's subparsers."""
    parser = subparsers.add_parser(
        "stress",
        help="run the load generator against a running server",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run N client workers against a running server: all start together, each\n"
            "moves the test file once (UPLOAD or DOWNLOAD), streamed and verified byte for\n"
            "byte. Prints the classic results table and the aggregate throughput. The exit\n"
            "status is 0 only if every client succeeded.\n\n"
            "A progress bar of the bytes moved by all clients is shown on stderr when\n"
            "stderr is a terminal. Ctrl-C stops the run: what was measured so far is\n"
            "printed, client processes are stopped, files this command made are removed.\n\n"
            "What clients felt is printed under the table: per request the time to the\n"
            "first byte of the answer and the total time (p50/p90/p99/max), the latency of\n"
            "a LIST probe sent every 100 ms during the case, and what happened to the\n"
            "background connections (--idle, --slowloris, --parked, --stalled)."
        ),
        epilog=(
            "examples:\n"
            "  fileproto stress --server 127.0.0.1:45000 --operation DOWNLOAD "
            "--size-mib 100 --clients 50\n"
            "  fileproto stress --operation upload --volume 10 --worker 5 --method process\n"
            "  fileproto stress --matrix --server-workers 5 --json results.json\n"
            "  fileproto stress --operation upload --volume 10 --clients 20 --rate 1M "
            "--deadline 15\n"
            "  fileproto stress --operation upload --volume 10 --clients 5 --idle 200 "
            "--slowloris 20\n"
            "  fileproto stress --operation upload --volume 10 --clients 5 --stalled 20\n"
            "  fileproto report results.json --md results.md"
        ),
    )
    target = parser.add_argument_group("server")
    target.add_argument(
        "--server",
        "-s",
        type=address,
        default=DEFAULT_SERVER,
        metavar="HOST:PORT",
        help="the server to load: HOST:PORT or fileproto://HOST:PORT (default: %(default)s)",
    )
    target.add_argument(
        "--server-workers",
        type=server_workers,
        default=EXTERNAL,
        metavar="N",
        help="the server's worker count, for the table's Server Workers column; we cannot "
        "see it from here (default: %(default)s)",
    )
    target.add_argument(
        "--server-kind",
        default=EXTERNAL,
        metavar="KIND",
        help=f"a label for the server in the table, e.g. {' or '.join(kind_names())}: the "
        "table has one section per kind, and a known kind sets the default --method "
        "(default: %(default)s)",
    )
    target.add_argument(
        "--server-dispatch",
        choices=DISPATCH_LABELS,
        default=None,
        help="a label for the server's dispatch, recorded with the figures: ready or "
        "accept (the pools' --dispatch), loop (the asyncio kind); we cannot see it from "
        "here (default: loop for --server-kind asyncio, else not recorded)",
    )

    load = parser.add_argument_group("load")
    load.add_argument(
        "--operation",
        "-o",
        type=operation,
        metavar="{UPLOAD,DOWNLOAD}",
        help="what every client does, in any case: UPLOAD sends the test file (client i "
        "stores it as NAME-c<i>), DOWNLOAD fetches it; required unless --matrix "
        "(with --matrix: only this operation instead of both)",
    )
    load.add_argument(
        "--size-mib",
        "--volume",
        dest="size_mib",
        type=comma_list(positive_mib),
        metavar="MIB",
        help="size of the test file in MiB (fractions allowed, e.g. 0.5); required unless "
        "--file or --matrix. With --matrix a comma-separated list "
        f"(default there: {','.join(map(str, SIZES_MIB))})",
    )
    load.add_argument(
        "--clients",
        "--worker",
        dest="clients",
        type=comma_list(positive_int),
        metavar="N",
        help="number of client workers, all started together; required unless --matrix. "
        "With --matrix a comma-separated list "
        f"(default there: {','.join(map(str, CLIENT_WORKERS))})",
    )
    add_load_options(load.add_argument)
    load.add_argument(
        "--matrix",
        action="store_true",
        help="run the whole grid: both operations x every size x every client count, "
        "against this one server",
    )
    load.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="longest wait on the network at once, per client (default: %(default)s)",
    )

    waiting = parser.add_argument_group(
        "clients that wait",
        "Slower links for the clients, and connections that wait beside them (opened "
        "before the clients start, kept open through the case, closed after it; one the "
        "server closes is opened again). A case with any of these is a slow-client case: "
        "'fileproto report' shows it in a table of its own.",
    )
    add_waiting_options(waiting.add_argument)
    add_probe_option(waiting.add_argument)

    files = parser.add_argument_group("files")
    files.add_argument(
        "--file",
        type=Path,
        metavar="PATH",
        help="use this local file as the test file instead of a random one (its size is "
        "the size); DOWNLOAD uploads it to the server first unless --no-upload",
    )
    files.add_argument(
        "--remote-name",
        metavar="NAME",
        help="name of the test file on the server (DOWNLOAD) or the stem of the uploads "
        "(UPLOAD) (default: a fresh fileproto-stress-<random>.bin)",
    )
    files.add_argument(
        "--no-upload",
        action="store_true",
        help="DOWNLOAD: the server already holds --file under --remote-name; do not "
        "upload it first (it is still verified against the local file)",
    )
    files.add_argument(
        "--keep",
        action="store_true",
        help="leave the files this run stored on the server (by default they are deleted "
        "once verified)",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write the figures as pytest-benchmark JSON, which 'fileproto report' "
        "and 'pytest-benchmark compare' read",
    )
    output.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar even when stderr is a terminal",
    )
    output.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no status lines on stderr (failures are still reported)",
    )
    parser.set_defaults(func=run, _stress_parser=parser)


def options_of(args: argparse.Namespace) -> StressOptions:
    """The library's options from the command line's arguments."""
    host, port = args.server
    return StressOptions(
        host,
        port,
        dialect=args.dialect,
        rounds=args.rounds,
        timeout=args.timeout,
        rate=args.rate,
        deadline=args.deadline,
        probe=not args.no_probe,
        waiting=Waiting(args.idle, args.slowloris, args.parked, args.stalled),
        stalled_size=round(args.stalled_size_mib * MIB),
        file=args.file,
        remote_name=args.remote_name,
        no_upload=args.no_upload,
        keep=args.keep,
        scenario=args.scenario,
    )


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args._stress_parser
    file_size: int | None = None
    if args.file is not None:
        if not args.file.is_file():
            parser.error(f"--file {args.file}: no such file")
        file_size = args.file.stat().st_size
        if file_size == 0:
            parser.error(f"--file {args.file} is empty")
    options = options_of(args)
    request = LoadRequest(args.operation, args.size_mib, args.clients, args.matrix)
    try:
        loads = plan(request, options, file_size, SIZES_MIB, CLIENT_WORKERS)
    except PlanError as exc:
        parser.error(str(exc))
    kind = str(args.server_kind)
    method = args.method or method_for(kind)
    interrupts = Interrupts()
    bar = sys.stderr.isatty() and not args.no_progress
    interrupted = False
    error: BaseException | None = None
    results: list[LoadRounds] = []
    interrupts.install()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="fileproto-stress-") as workdir,
            Display(sys.stderr, bar, args.quiet) as display,
        ):
            interrupts.workdir = Path(workdir)
            runner = Runner(options, method, display, interrupts, Path(workdir))
            results = runner.results
            try:
                for load in loads:
                    runner.run_load(load)
                    if interrupts.interrupted:
                        break
            except KeyboardInterrupt:
                interrupted = True
            except (OSError, FileprotoError, RuntimeError) as exc:
                error = exc  # print what was measured, then say why it stopped
            finally:
                interrupted = interrupted or interrupts.interrupted
                try:
                    runner.cleanup()
                except KeyboardInterrupt:
                    interrupted = True
    except KeyboardInterrupt:  # in the clean-up of the temporary folder
        interrupted = True
    finally:
        interrupts.restore()
    status = interrupts.exit_status if interrupted else None
    return _finish(results, kind, method, args, options, status, error)


def _finish(
    results: list[LoadRounds],
    kind: str,
    method: str,
    args: argparse.Namespace,
    options: StressOptions,
    interrupted: int | None,
    error: BaseException | None,
) -> int:
    """Print the table, the summary and the failures; write the JSON. ``interrupted`` is
    the exit status after a signal, None if the run was not interrupted."""
    recorded = {"rounds": options.rounds, "method": method, "dialect": options.dialect}
    document = benchmark_json(
        results,
        kind,
        args.server_workers,
        recorded,
        server=options.address_text,
        dispatch=args.server_dispatch or fixed_dispatch(kind),
        scenario=scenario_of(options),
    )
    if document["benchmarks"]:
        _print(report.render_text(load_results(document)))
        print()
        for line in summary_lines(results):
            _print(line)
        felt = felt_lines(results)
        if felt:
            print()
            for line in felt:
                _print(line)
        sys.stdout.flush()
    if args.json is not None:
        write_document(document, args.json)
        print(f"wrote {len(document['benchmarks'])} case(s) to {args.json}", file=sys.stderr)
    for line in failure_lines(results):
        print(f"fileproto stress: {line}", file=sys.stderr)
    if error is not None:
        print(
            f"fileproto stress: stopped (server {options.address_text}): "
            f"{type(error).__name__}: {error}",
            file=sys.stderr,
        )
    if interrupted is not None:
        print(
            "fileproto stress: interrupted; the figures above are what was measured before that",
            file=sys.stderr,
        )
        return interrupted
    if error is not None:
        return 1
    return 1 if any(r.failures for r in results) else 0


def _print(text: str) -> None:
    # The table's failure marker is not ASCII; a terminal that cannot show it gets "?".
    text = text if text.endswith("\n") else text + "\n"
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.encode(encoding, "replace").decode(encoding))
