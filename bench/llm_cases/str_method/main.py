def headline(client):
    return client.uppercase() + " DAILY REPORT"


print(headline("avego"))
