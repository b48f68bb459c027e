"""The customer records of the billing system."""


def customer(name, country, vat_rate):
    """A customer: {"name": str, "country": str, "vat_rate": float (0.2 is 20%)}."""
    return {"name": name, "country": country, "vat_rate": vat_rate}


CUSTOMERS = [customer("avego", "FR", 0.2), customer("northwind", "DE", 0.19)]
