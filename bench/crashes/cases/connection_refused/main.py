"""Sends the hourly metrics to the collector (a TCP service on this host)."""

import socket

# Where operations run the collector.
COLLECTOR = ("127.0.0.1", 1)


def send(lines, address=COLLECTOR, timeout=2.0):
    """Sends the metric lines; returns how many were sent. A collector that cannot be
    reached is an outage to report, never metrics to drop silently."""
    with socket.create_connection(address, timeout=timeout) as conn:
        conn.sendall("".join(line + "\n" for line in lines).encode())
    return len(lines)


def main():
    sent = send(["requests 1200", "errors 3"])
    print(f"sent {sent} metrics")


if __name__ == "__main__":
    main()
