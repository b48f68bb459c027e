"""Polls the greenhouse sensors: 3 cycles, then exits. Logs go to stdout, as in a container.

Sensor "c" is offline: reading it raises TimeoutError, which is logged each cycle with its
traceback and skipped; that is not a bug. Sensor "b"'s firmware reports its readings as
numeric strings ("21.5"); the others as numbers.
"""

import logging
import sys

log = logging.getLogger("poller")

READINGS = [
    {"a": 20.0, "b": 21.0},
    {"a": 20.5, "b": "21.5"},
    {"a": 21.0, "b": "22.0"},
]


def read_sensor(cycle, sensor):
    """The reading of `sensor` at `cycle` (a number, or a numeric string for sensor "b")."""
    if sensor == "c":
        raise TimeoutError(f"sensor {sensor} did not answer")
    return READINGS[cycle][sensor]


def mean_temperature(cycle, sensors=("a", "b", "c")):
    """Mean reading, in degrees, of the sensors that answered at this cycle."""
    values = []
    for sensor in sensors:
        try:
            values.append(read_sensor(cycle, sensor))
        except TimeoutError:
            log.exception("cycle %d: sensor %s offline", cycle, sensor)
    numbers = [v for v in values if isinstance(v, (int, float))]
    return sum(numbers) / len(numbers)


def main():
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for cycle in range(len(READINGS)):
        log.info("cycle %d: mean %.2f", cycle, mean_temperature(cycle))
    log.info("done")


if __name__ == "__main__":
    main()
