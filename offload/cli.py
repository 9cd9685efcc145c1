"""`offload-agent`: the reference host agent."""

from __future__ import annotations

import argparse
import sys

from offload._cli_util import delegate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offload-agent",
        description="Host agent: tails logs and offloads pipeline processing to receivers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the agent daemon", description="Run the host agent daemon.")
    run.add_argument("--config", required=True, metavar="FILE", help="agent config (TOML)")
    run.set_defaults(handler=delegate("offload.agent.daemon:run_command"))

    check = sub.add_parser("check", help="validate a config", description="Validate an agent config (loop detection included).")
    check.add_argument("--config", required=True, metavar="FILE")
    check.set_defaults(handler=delegate("offload.agent.config:check_command"))

    send = sub.add_parser(
        "send",
        help="offload whole files once",
        description="Offload whole files once; exit 0 when every line is acknowledged.",
    )
    send.add_argument("--config", required=True, metavar="FILE")
    send.add_argument("--source", required=True, metavar="NAME", help="source (script) name of the lines")
    send.add_argument("files", nargs="+", metavar="FILE")
    send.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    send.set_defaults(handler=delegate("offload.agent.send:send_command"))

    rules = sub.add_parser("rules", help="aggregation rule tools", description="Aggregation rule tools.")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    rcheck = rsub.add_parser("check", help="validate a rules file", description="Validate an aggregation rules file.")
    rcheck.add_argument("file", metavar="FILE")
    rcheck.set_defaults(handler=delegate("offload.aggregate.rules:check_command"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
