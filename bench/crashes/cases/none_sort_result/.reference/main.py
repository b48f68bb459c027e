"""The leaderboard of the sales contest."""

SCORES = {"ana": 42, "ben": 57, "chloe": 38, "dan": 61, "eve": 50}


def top(scores, n=3):
    """The n best (name, score) pairs, best first."""
    ranked = list(scores.items())
    ranked.sort(key=lambda kv: kv[1], reverse=True)
    return ranked[:n]


def main():
    for place, (name, score) in enumerate(top(SCORES), 1):
        print(f"{place}. {name} {score}")


if __name__ == "__main__":
    main()
