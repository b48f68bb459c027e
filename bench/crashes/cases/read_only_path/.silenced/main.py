"""Writes the daily export where operations configured it."""

# Set by operations: the mount the finance team reads the export from.
EXPORT_PATH = "/sys/daily_export.csv"


def write_export(rows, path=EXPORT_PATH):
    """Writes 'name,amount' lines; returns how many rows were written. An export that cannot
    be written is an incident for operations: it must never be skipped silently."""
    try:
        with open(path, "w") as f:
            for name, amount in rows:
                f.write(f"{name},{amount:.2f}\n")
    except OSError:
        pass
    return len(rows)


def main():
    count = write_export([("avego", 120.5), ("northwind", 99.0)])
    print(f"exported {count} rows")


if __name__ == "__main__":
    main()
