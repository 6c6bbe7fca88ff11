"""Cache entries: ISO 8601 expiry, atomic storage, digests that follow content."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from sagepipe.local.cache import CacheEntry, StepCache, parse_expire_after
from sagepipe.storage.digest_memo import DigestMemo


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P30D", dt.timedelta(days=30)),
        ("PT12H", dt.timedelta(hours=12)),
        ("P1W", dt.timedelta(days=7)),
        ("P1DT1H30M5S", dt.timedelta(days=1, hours=1, minutes=30, seconds=5)),
        (None, None),
    ],
)
def test_expire_after_is_an_iso_8601_duration(text, expected):
    assert parse_expire_after(text) == expected


def test_bad_expire_after_names_the_format():
    with pytest.raises(
        ValueError, match=r"'30 days' is not an ISO 8601 duration: write e\.g\. P30D"
    ):
        parse_expire_after("30 days")


def test_expired_entries_are_not_returned(tmp_path):
    cache = StepCache(tmp_path / "runs.db")
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).isoformat()
    cache.store(CacheEntry("k", "Train", "exec-1", old, {"a": 1}, {"s3://b/x": "d"}))

    assert cache.lookup("k", expire_after=dt.timedelta(days=3)).properties == {"a": 1}
    assert cache.lookup("k", expire_after=dt.timedelta(days=1)) is None
    assert cache.lookup("other", expire_after=None) is None


def test_tree_digest_follows_names_and_bytes_not_timestamps(tmp_path):
    memo = DigestMemo(tmp_path / "runs.db")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.csv").write_text("1,2\n")
    first = memo.tree(folder)

    os.utime(folder / "a.csv", (0, 0))
    same = memo.tree(folder)
    (folder / "a.csv").write_text("1,3\n")
    changed = memo.tree(folder)
    (folder / "a.csv").rename(folder / "b.csv")
    renamed = memo.tree(folder)

    assert first == same
    assert len({first, changed, renamed}) == 3
    assert memo.tree(tmp_path / "missing") == "missing"
