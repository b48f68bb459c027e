"""Days until each invoice is due."""

from datetime import date, datetime

TODAY = date(2024, 5, 1)
DUE = {"F-001": "2024-05-17", "F-002": "2024-06-02"}


def parse_day(text):
    """The export writes due dates as ISO dates: '2024-05-17'."""
    return datetime.strptime(text, "%d/%m/%Y").date()


def days_left(text, today=TODAY):
    try:
        return (parse_day(text) - today).days
    except ValueError:
        return 0


def main():
    for invoice, due in DUE.items():
        print(f"{invoice}: due in {days_left(due)} days")


if __name__ == "__main__":
    main()
