# Loaded by every python3 of a bench case through PYTHONPATH (bench/locals/run.sh): a program
# that uses the Sentry SDK the usual way, `sentry_sdk.init()` reading SENTRY_DSN. Under
# `heal run` the DSN names heal's own ingest, so the crash arrives with its frames' locals;
# with HEAL_RUN_SENTRY=false, or in the proof's runs (no SENTRY_DSN), it does nothing.
import os

if os.environ.get("SENTRY_DSN"):
    import sentry_sdk

    sentry_sdk.init()
