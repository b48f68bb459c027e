"""Reconciles the ledger with the bank statement before the month is closed."""

LEDGER = [("inv-1", 120.00), ("inv-2", 80.50), ("inv-3", 42.25)]
BANK = [("inv-1", 120.00), ("inv-2", 80.50), ("inv-3", 24.25)]


def total(entries):
    return round(sum(amount for _, amount in entries), 2)


def reconcile(ledger, bank):
    """Returns the month's total when the ledger and the bank agree. When they do not, the
    month must not be closed: the assertion stops the job for finance to review."""
    ledger_total, bank_total = total(ledger), total(bank)
    assert ledger_total == bank_total, (
        f"totals differ ({ledger_total:.2f} vs {bank_total:.2f}): ask finance to review"
    )
    return ledger_total


def main():
    print(f"month closed at {reconcile(LEDGER, BANK):.2f}")


if __name__ == "__main__":
    main()
