"""Mean latency of the successful requests, from the access log."""

import statistics

# Statuses are written lower case by the proxy: "ok" or "error".
REQUESTS = [
    {"path": "/a", "status": "ok", "ms": 120},
    {"path": "/b", "status": "error", "ms": 3000},
    {"path": "/c", "status": "ok", "ms": 80},
    {"path": "/d", "status": "ok", "ms": 100},
]


def mean_ok_latency(requests):
    """Mean of "ms" over the successful requests."""
    return statistics.mean(r["ms"] for r in requests if r["status"] == "OK")


def main():
    print(f"mean latency of successful requests: {mean_ok_latency(REQUESTS):.1f} ms")


if __name__ == "__main__":
    main()
