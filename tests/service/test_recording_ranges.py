"""``Range`` headers of the recording route, read as RFC 9110 reads them: one byte range is
answered, a range past the end or one that does not parse is refused (416), several ranges
or another unit are ignored (the whole recording)."""

from __future__ import annotations

import pytest

from evaluator.service.routes.recordings import RangeNotSatisfiable, byte_range

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 1)),
        ("bytes=0-99", (0, 100)),
        ("bytes=990-2000", (990, 1000)),  # an end past the last byte is the last byte
        ("bytes=999-", (999, 1000)),
        ("bytes=-10", (990, 1000)),
        ("bytes=-5000", (0, 1000)),  # a suffix longer than the file is all of it
        ("BYTES = 5 - 9", (5, 10)),
        ("items=0-5", None),  # another unit: ignored
        ("bytes=0-1,5-9", None),  # several ranges: the whole recording
    ],
)
def test_ranges_that_are_answered(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=1000-1005", "bytes=9-3", "bytes=-0", "bytes=-", "bytes=a-b",
               "bytes=", "bytes=1.5-2"],
)  # fmt: skip
def test_ranges_that_are_refused(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, SIZE)


def test_every_range_of_an_empty_recording_is_refused() -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=-1", 0)
    with pytest.raises(RangeNotSatisfiable):
        byte_range("bytes=0-", 0)
