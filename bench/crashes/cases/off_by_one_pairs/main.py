"""Day-over-day change of the signups."""

SIGNUPS = [120, 132, 129, 150]


def daily_changes(values):
    """Change from each day to the next: len(values) - 1 numbers (none for 0 or 1 day)."""
    return [values[i + 1] - values[i] for i in range(len(values))]


def main():
    print("changes:", daily_changes(SIGNUPS))


if __name__ == "__main__":
    main()
