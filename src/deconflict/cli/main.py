"""The ``deconflict`` console script."""

from __future__ import annotations

import typer

from deconflict.cli.audit_cmd import audit_app
from deconflict.cli.client_cmd import HELP as CLIENT_HELP
from deconflict.cli.client_cmd import client_command
from deconflict.cli.demo_cmd import demo_command
from deconflict.cli.detect_cmd import advise_command, detect_command
from deconflict.cli.hotline_cmd import hotline_app, keys_app
from deconflict.cli.party_cmd import party_app
from deconflict.cli.plan_cmd import plan_app
from deconflict.cli.private_cmd import private_app
from deconflict.cli.replay_cmd import replay_command
from deconflict.cli.report_cmd import report_command
from deconflict.cli.serve_cmd import serve_command
from deconflict.cli.sim_cmd import sim_command
from deconflict.cli.zones_cmd import zones_command

app = typer.Typer(
    name="deconflict",
    help="Airspace deconfliction between parties that do not trust each other.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command("detect")(detect_command)
app.command("advise")(advise_command)
app.command("zones")(zones_command)
app.add_typer(party_app, name="party")
app.add_typer(plan_app, name="plan")
app.add_typer(private_app, name="private")
app.add_typer(hotline_app, name="hotline")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.command("serve")(serve_command)
app.command("sim")(sim_command)
app.command("client", help=CLIENT_HELP)(client_command)
app.command("demo")(demo_command)
app.command("report")(report_command)
app.command("replay")(replay_command)


def main() -> None:
    """Entry point for ``python -m deconflict``."""
    app()
