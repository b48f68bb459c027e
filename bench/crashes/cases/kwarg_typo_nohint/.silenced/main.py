"""Builds the alerts the on-call channel receives."""


def alert(channel, message="", severity="info", **_ignored):
    """The payload posted to the chat webhook."""
    return {"channel": channel, "text": f"[{severity.upper()}] {message}"}


def disk_alert(host, used_pct):
    """A warning for a disk over 90% full, an info below."""
    severity = "warning" if used_pct > 90 else "info"
    return alert(channel="#ops", mesage=f"{host}: disk {used_pct}% used", severity=severity)


def main():
    for host, used in [("db-1", 95), ("web-2", 40)]:
        print(disk_alert(host, used)["text"])


if __name__ == "__main__":
    main()
