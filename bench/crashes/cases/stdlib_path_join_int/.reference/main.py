"""Where the monthly exports are written."""

import os

EXPORT_ROOT = "exports"


def export_path(year, month):
    """'exports/<year>/<month as two digits>.csv', e.g. 'exports/2024/05.csv'."""
    return os.path.join(EXPORT_ROOT, str(year), f"{month:02d}.csv")


def main():
    for year, month in [(2024, 5), (2024, 12)]:
        print(export_path(year, month))


if __name__ == "__main__":
    main()
