"""Latency statistics of the last health checks."""

import math

LATENCIES_MS = [120, 80, 100, 140, 60]


def stddev(values):
    """Population standard deviation."""
    mean = sum(values) / len(values)
    return math.sqr(sum((v - mean) ** 2 for v in values) / len(values))


def main():
    print(f"mean {sum(LATENCIES_MS) / len(LATENCIES_MS):.1f} ms")
    print(f"stddev {stddev(LATENCIES_MS):.2f} ms")


if __name__ == "__main__":
    main()
