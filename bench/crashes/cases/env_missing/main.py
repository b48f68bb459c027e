"""Pushes the daily spend to the ads API (printed here)."""

import os


def api_token():
    """The ads API token, from ADS_API_TOKEN. It is required and must never be defaulted:
    without it the job must fail loudly rather than push with a wrong or empty token."""
    return os.environ["ADS_API_TOKEN"]


def push(spend):
    token = api_token()
    return f"pushed {spend:.2f} with token ...{token[-4:]}"


def main():
    print(push(123.4))


if __name__ == "__main__":
    main()
