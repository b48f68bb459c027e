"""Records each payout in the audit daemon, over its Unix socket, before paying it."""

import socket

# Where the audit daemon listens (started by the system, not by this program).
AUDIT_SOCKET = "/run/audit-daemon/audit.sock"


def record(event, path=AUDIT_SOCKET):
    """Sends one audit line; returns the bytes sent. No payout may happen unaudited: a daemon
    that cannot be reached stops the payouts."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(2.0)
        data = (event + "\n").encode()
        try:
            conn.connect(path)
            conn.sendall(data)
        except OSError:
            return 0
    return len(data)


def main():
    for payout in ["payout ana 120.00", "payout ben 80.50"]:
        record(payout)
        print("paid:", payout)


if __name__ == "__main__":
    main()
