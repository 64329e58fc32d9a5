"""Freeing big structures a piece at a time.

Dropping the last reference to a structure of 100,000 objects frees them all in one cascade of
C code that holds the GIL throughout: half a second in which no other thread runs (measured: a
533 ms stall of the API's event loop when a 100,000-intent plan returned and its locals went).
Emptying the big containers a thousand items at a time, with Python code between the pieces,
lets the interpreter hand the GIL over in between.
"""

from __future__ import annotations

from typing import Any

CHUNK = 1000
"""Items per piece."""


def release(items: list[Any]) -> None:
    """Empty the list `items` a thousand at a time."""
    while items:
        del items[-CHUNK:]


def release_all(content: Any) -> None:
    """`release` every big list and dict in a JSON-like answer (after it was rendered)."""
    if isinstance(content, list):
        for item in content[:CHUNK]:
            release_all(item)
        release(content)
    elif isinstance(content, dict):
        for item in content.values():
            if isinstance(item, list | dict):
                release_all(item)
        while len(content) > CHUNK:
            for _ in range(CHUNK):
                content.popitem()


def release_each(*containers: Any) -> None:
    """Empty each list or dict given (`release` for lists, pieces of `popitem` for dicts),
    without descending into their items."""
    for container in containers:
        if isinstance(container, list):
            release(container)
        elif isinstance(container, dict):
            while container:
                for _ in range(min(CHUNK, len(container))):
                    container.popitem()
