"""The one-line summary of a client's month."""

from .formatting import format_percent

format_ammount = str


def monthly_summary(client, revenue, target):
    """'<client>: <revenue> (<revenue/target as a percent> of target)'."""
    return f"{client}: {format_ammount(revenue)} ({format_percent(revenue / target)} of target)"
