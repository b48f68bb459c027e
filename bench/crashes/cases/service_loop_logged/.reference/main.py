"""A queue worker: prices the orders of each batch, 3 cycles, then exits.

Malformed messages are not bugs: they are logged (with their traceback) and skipped, and the
worker goes on. Coupon codes are case-insensitive (customers type them as they like);
COUPONS holds them upper case.
"""

import json
import logging

log = logging.getLogger("worker")

COUPONS = {"SPRING": 0.1, "VIP": 0.25}

BATCHES = [
    ['{"order": "A1", "amount": 10.0}', "not json at all", '{"order": "A2", "amount": 5.5}'],
    ['{"order": "A3", "amount": 8.0, "coupon": "Spring"}', '{"order": "A4"}'],
    ['{"order": "A5", "amount": 2.0, "coupon": "vip"}', '{"order": "A6", "amount": 1.0}'],
]


def parse(raw):
    """A message as a dict; ValueError for one that is not JSON or has no amount."""
    message = json.loads(raw)
    if "amount" not in message:
        raise ValueError(f"order {message.get('order')} has no amount")
    return message


def price(message):
    """The amount after the coupon's discount (a coupon is optional), rounded to cents."""
    discount = COUPONS[message["coupon"].upper()] if "coupon" in message else 0.0
    return round(message["amount"] * (1 - discount), 2)


def run(batches):
    """The total of each cycle, bad messages skipped."""
    totals = []
    for cycle, batch in enumerate(batches, 1):
        total = 0.0
        for raw in batch:
            try:
                message = parse(raw)
            except ValueError:
                log.exception("cycle %d: skipping a bad message", cycle)
                continue
            total += price(message)
        log.info("cycle %d: total %.2f", cycle, total)
        totals.append(round(total, 2))
    return totals


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    totals = run(BATCHES)
    print("totals:", totals)


if __name__ == "__main__":
    main()
