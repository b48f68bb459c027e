"""Expires the idle sessions of the web app."""

NOW = 1_000
TTL = 300


def expire(sessions, now=NOW, ttl=TTL):
    """Removes (in place) the sessions idle for more than ttl seconds; returns their ids, sorted."""
    expired = []
    for sid, last_seen in sessions.items():
        if now - last_seen > ttl:
            del sessions[sid]
            expired.append(sid)
    return sorted(expired)


def main():
    sessions = {"s1": 950, "s2": 100, "s3": 699, "s4": 700}
    print("expired:", expire(sessions))
    print("active:", sorted(sessions))


if __name__ == "__main__":
    main()
