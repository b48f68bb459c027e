"""Which sign-ups may join the wine-tasting event."""

# Form submissions: every field arrives as a string.
SIGNUPS = [
    {"name": "ana", "age": "34"},
    {"name": "ben", "age": "17"},
    {"name": "chloe", "age": "9"},
    {"name": "dan", "age": "18"},
]
MIN_AGE = 18


def eligible(signups, min_age=MIN_AGE):
    """Names of the sign-ups aged min_age or more, in order."""
    return [s["name"] for s in signups if int(s["age"]) >= min_age]


def main():
    print("eligible:", ", ".join(eligible(SIGNUPS)))


if __name__ == "__main__":
    main()
