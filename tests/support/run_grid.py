"""A grid of runs for definition tests: run ``rid(i)`` holds ``[start(i), end(i))``, 100 s
long, with 100 s gaps between runs, from 2019-01-03T10:00:00Z."""

S = 1_000_000_000
T = 1_546_509_600 * S  # 2019-01-03T10:00:00Z


def start(i: int) -> int:
    return T + (i - 1) * 200 * S


def end(i: int) -> int:
    return start(i) + 100 * S


def rid(i: int) -> str:
    return f"{i:06d}"
