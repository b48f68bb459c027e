"""A small reporting agent: sums the day's spend per client and prints a report.

It has a bug on purpose (report.py adds a float to a string) that no instant rule can fix, so
that `heal demo` can show a model's fix when one is configured.
"""
from report import daily_report

SPEND = {"avego": [120.5, 80.25, 42.0], "brightline": [310.0, 12.75]}


def main():
    for client, amounts in SPEND.items():
        print(daily_report(client, amounts), flush=True)


if __name__ == "__main__":
    main()
