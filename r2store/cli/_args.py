"""Argument types for the parser: each turns a string into a value or says what is wrong."""

from __future__ import annotations

import argparse

from ..buckets import check_origin

MAX_EXPIRES = 604800  # 7 days: R2's (and SigV4's) limit for presigned URLs


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def expires(value: str) -> int:
    number = positive(value)
    if number > MAX_EXPIRES:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_EXPIRES} (7 days), got {number}")
    return number


def seconds(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {number}")
    return number


def origin(value: str) -> str:
    try:
        return check_origin(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, got {number}")
    return number
