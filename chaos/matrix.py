"""placeholder"""


def main(*args: object) -> int:
    return 0
