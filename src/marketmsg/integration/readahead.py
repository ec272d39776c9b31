"""Reading ahead: an iterator's next items made on a thread while the caller works on this one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_WAKE_SECONDS = 0.2  # how often a producer blocked on a full queue looks whether it should stop


def read_ahead(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yields what ``source`` yields, in order, with up to ``depth`` items made ahead on a thread.

    An exception in ``source`` is raised here, where the caller reads; a caller that stops early
    (an error, Ctrl-C) stops the thread too. ``source`` must not use the caller's database
    connection: Django's connections belong to their thread."""
    box: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(message: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                box.put(message, timeout=_WAKE_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not hand_over(("item", item)):
                    return
        except BaseException as error:  # handed to the reader, raised there
            hand_over(("error", error))
            return
        hand_over(("done", None))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            tag, value = box.get()
            if tag == "done":
                return
            if tag == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
