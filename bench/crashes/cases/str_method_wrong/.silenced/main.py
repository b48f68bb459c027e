"""Headlines of the daily client reports."""


def headline(client):
    """The client's name in capitals, then ' DAILY REPORT'."""
    return client.strip() + " DAILY REPORT"


def main():
    for client in ["avego", " northwind "]:
        print(headline(client))


if __name__ == "__main__":
    main()
