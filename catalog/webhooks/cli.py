"""``catalog webhooks deliver``: send the deliveries that are due (left by a crash or waiting to retry)."""
from __future__ import annotations

import click

from .. import create_app
from ..db import get_db
from .delivery import Settings, attempt, due_deliveries


@click.group("webhooks")
def webhooks() -> None:
    """Change notifications to subscribed systems."""


@webhooks.command("deliver")
@click.option("--limit", type=click.IntRange(1, 100000), default=1000, show_default=True)
def deliver(limit: int) -> None:
    """Make one try of each pending delivery that is due, in this process, and print the outcome."""
    app = create_app()
    database, settings = get_db(app), Settings.from_config(app.config)
    counts: dict[str, int] = {}
    for delivery_id in due_deliveries(database, limit=limit):
        outcome = attempt(database, delivery_id, settings)
        if outcome.sent:
            key = "retry later" if outcome.status == "pending" else outcome.status or "gone"
            counts[key] = counts.get(key, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"
    click.echo(f"Webhook deliveries: {summary}")
