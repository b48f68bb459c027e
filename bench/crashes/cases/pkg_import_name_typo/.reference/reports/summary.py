"""The one-line summary of a client's month."""

from .formatting import format_amount, format_percent


def monthly_summary(client, revenue, target):
    """'<client>: <revenue> (<revenue/target as a percent> of target)'."""
    return f"{client}: {format_amount(revenue)} ({format_percent(revenue / target)} of target)"
