"""``hilsim broker``: the embedded live MQTT broker (filled in by the telemetry work)."""

import click


@click.command()
def broker() -> None:
    """Run the embedded amqtt broker (not yet implemented)."""
    raise click.ClickException("hilsim broker is not implemented yet")
