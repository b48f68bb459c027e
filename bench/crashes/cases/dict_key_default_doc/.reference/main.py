"""Retry policies of the scheduler's jobs."""

JOBS = {
    "sync": {"retries": 5, "backoff_s": 2.0},
    "report": {"backoff_s": 0.5},
    "cleanup": {},
}


def retry_policy(settings):
    """How a job is retried.

    settings["retries"] is optional: when absent, a job is retried 3 times.
    settings["backoff_s"] is optional: when absent, 1.5 seconds between tries.
    """
    return {"retries": settings.get("retries", 3), "backoff_s": settings.get("backoff_s", 1.5)}


def main():
    for name, settings in JOBS.items():
        policy = retry_policy(settings)
        print(f"{name}: {policy['retries']} retries, {policy['backoff_s']} s apart")


if __name__ == "__main__":
    main()
