"""`offload-receiver`: the receiver daemon and its tools."""

from __future__ import annotations

import argparse
import sys

from offload._cli_util import delegate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offload-receiver",
        description="Receiver worker: runs offloaded pipeline scripts and serves Dataway's aggregate API.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the receiver daemon", description="Run the receiver daemon.")
    serve.add_argument("--config", metavar="FILE", help="receiver config (TOML); defaults apply without it")
    serve.add_argument("--check-config", action="store_true", help="validate the config and exit")
    serve.set_defaults(handler=delegate("receiver.daemon:serve_command"))

    pipeline = sub.add_parser("pipeline", help="pipeline script tools", description="Pipeline script tools.")
    psub = pipeline.add_subparsers(dest="pipeline_command", required=True, metavar="COMMAND")
    run = psub.add_parser(
        "run",
        help="run a script over raw log lines",
        description="Run a pipeline script over raw log lines and print one JSON object per point.",
    )
    run.add_argument("script", metavar="SCRIPT", help="path of the .p script")
    run.add_argument("--source", required=True, metavar="NAME", help="measurement (source) name of the points")
    run.add_argument("--category", default="logging", help="point category (default: logging)")
    group = run.add_mutually_exclusive_group(required=True)
    group.add_argument("--input", metavar="FILE", help="file of log lines, one point per line ('-' = stdin)")
    group.add_argument("--message", metavar="TEXT", help="a single log line")
    run.set_defaults(handler=delegate("receiver.pipeline.cli:run_command"))

    rules = sub.add_parser("rules", help="aggregation rule tools", description="Aggregation rule tools.")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    check = rsub.add_parser("check", help="validate a rules file", description="Validate an aggregation rules file.")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(handler=delegate("offload.aggregate.rules:check_command"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
