"""Formats the daily spend report of one client."""


def daily_report(client, amounts):
    total = sum(amounts)
    line = "Total: " + total
    return f"{client}: {line} over {len(amounts)} campaigns"
