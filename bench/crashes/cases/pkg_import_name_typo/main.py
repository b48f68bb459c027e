"""Prints the monthly summaries."""

from reports.summary import monthly_summary

CLIENTS = [("avego", 12500.0, 10000.0), ("northwind", 800.0, 1000.0)]


def main():
    for client, revenue, target in CLIENTS:
        print(monthly_summary(client, revenue, target))


if __name__ == "__main__":
    main()
