"""Date generator and character tokeniser (pure Python, no torch)."""

from datetime import date

import numpy as np
import pytest

from core.data import dates
from core.errors import UserError
from core.tokenizer import (
    MAX_SRC_LEN,
    VOCAB,
    TokenizeError,
    decode_target,
    encode_source,
    encode_target,
    pad_batch,
    token_strings,
)


def test_generator_is_deterministic_and_seeded():
    assert dates.train_examples(500, seed=3, epoch=1) == dates.train_examples(500, seed=3, epoch=1)
    assert dates.train_examples(500, seed=3, epoch=1) != dates.train_examples(500, seed=4, epoch=1)
    assert dates.train_examples(500, seed=3, epoch=1) != dates.train_examples(500, seed=3, epoch=2)
    assert dates.test_split() == dates.test_split()


def test_splits_are_disjoint_by_date_and_cover_every_day():
    split = dates.split_days()
    sets = {k: set(v) for k, v in split.items()}
    assert not sets["train"] & sets["test"] and not sets["train"] & sets["val"] and not sets["val"] & sets["test"]
    assert len(sets["train"] | sets["val"] | sets["test"]) == dates.N_DAYS == 73049
    train_dates = {dates.iso(dates._day(i)) for i in split["train"]}
    test_dates = dates.split_dates(dates.test_split())
    val_dates = dates.split_dates(dates.val_split())
    assert not test_dates & train_dates and not val_dates & train_dates and not test_dates & val_dates
    # many epochs of training examples never touch a test or validation date, in any format
    seen = set().union(*(dates.split_dates(dates.train_examples(5000, 0, e)) for e in range(3)))
    assert not seen & test_dates and not seen & val_dates


def test_issue_formats_and_cases():
    d = date(2026, 11, 28)
    got = {name: fn(d) for name, fn in dates.FORMATS.items()}
    for text in ("28 November 2026", "November 28, 2026", "Nov 28 2026", "28 Nov 2026", "Saturday, November 28, 2026",
                 "Sat 28 Nov 2026", "28.11.2026", "2026/11/28", "11/28/2026", "28th of November 2026",
                 "November 28th, 2026", "28-Nov-2026", "2026-11-28", "2026.11.28"):
        assert text in got.values(), text
    assert len(dates.FORMATS) == 14 and dates.FORMAT_NAMES[:12] == [  # older cards key figures by these names
        "d_month_y", "month_d_y", "mon_d_y", "d_mon_y", "weekday_month_d_y", "wkd_d_mon_y", "dd.mm.yyyy",
        "yyyy/mm/dd", "mm/dd/yyyy", "dth_of_month_y", "month_dth_y", "d-mon-y"]
    assert dates.FORMATS["yyyy-mm-dd"](d) == dates.iso(d)  # ISO 8601 in, ISO 8601 out
    assert dates.render(d, "dth_of_month_y", "title") == "28th Of November 2026"
    assert dates.render(d, "d-mon-y", "lower") == "28-nov-2026"
    assert dates.render(d, "wkd_d_mon_y", "upper") == "SAT 28 NOV 2026"
    d2 = date(2009, 1, 5)  # numeric formats are also written without leading zeros
    assert [dates.render(d2, f, "lower", pad) for f in dates.NUMERIC for pad in (True, False)] == [
        "05.01.2009", "5.1.2009", "2009/01/05", "2009/1/5", "01/05/2009", "1/5/2009", "2009-01-05", "2009-1-5",
        "2009.01.05", "2009.1.5"]
    assert dates.render(date(2005, 10, 20), "yyyy-mm-dd", "lower", pad=False) == "2005-10-20"  # never the year's 0
    assert [dates.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]


def test_examples_are_true_to_their_dates():
    examples = dates.test_split()
    assert len(examples) == dates.N_TEST
    counts = {f: sum(e.fmt == f for e in examples) for f in dates.FORMAT_NAMES}
    assert len(set(counts.values())) == 1  # balanced
    for e in examples[:600]:
        d = date.fromisoformat(e.target)
        assert 1900 <= d.year <= 2099
        assert e.source == dates.render(d, e.fmt, e.case, e.padded)
        low = e.source.lower()
        if "weekday" in e.fmt or "wkd" in e.fmt:
            assert low.startswith(dates.WEEKDAYS[d.weekday()].lower()[:3])
        assert str(d.year) in e.source
    assert {e.case for e in examples} == set(dates.CASES)
    numeric = [e for e in examples if e.fmt in dates.NUMERIC]
    assert 0.4 < np.mean([e.padded for e in numeric]) < 0.6
    assert max(len(e.source) for e in dates.train_examples(20000, 0)) <= MAX_SRC_LEN


def test_tokeniser_round_trip():
    for e in dates.test_split(120):
        ids = encode_source("  " + e.source + "\t\n", MAX_SRC_LEN)  # surrounding whitespace is trimmed
        assert "".join(token_strings(ids)) == e.source
        assert all(i >= len(("pad", "bos", "eos", "unk")) for i in ids)
        tgt = encode_target(e.target)
        assert tgt[-1] == VOCAB.eos_id and decode_target(tgt) == e.target
        assert decode_target([VOCAB.bos_id, *tgt, 7, 8]) == e.target  # stops at eos, skips bos
    assert pad_batch([[5, 6, 7], [8]]).tolist() == [[5, 6, 7], [8, VOCAB.pad_id, VOCAB.pad_id]]
    assert len(set(VOCAB.tokens)) == len(VOCAB) and VOCAB.special_ids() == {"pad": 0, "bos": 1, "eos": 2, "unk": 3}


@pytest.mark.parametrize("text, words", [
    ("28 Novembre 2026 — lundi", ["'—'"]),
    ("２８ Nov 2026", ["'２'", "'８'"]),
    ("Nov 28 2026!", ["'!'"]),
    ("Nov\t28 2026", ["U+0009"]),
    ("<eos>", ["'<'", "'>'"]),
])
def test_tokeniser_names_unknown_characters(text, words):
    with pytest.raises(TokenizeError) as err:
        encode_source(text)
    msg = str(err.value)
    assert "outside the vocabulary" in msg
    for w in words:
        assert w in msg
    assert isinstance(err.value, UserError)


def test_tokeniser_length_and_empty():
    with pytest.raises(TokenizeError, match="at most 32"):
        encode_source("Wednesday, September 30, 2026 and more")
    with pytest.raises(TokenizeError, match="empty"):
        encode_source("   \n")
    with pytest.raises(TokenizeError, match="expected text"):
        encode_source(None)
    assert len(encode_source("  " + "1" * MAX_SRC_LEN + "  ")) == MAX_SRC_LEN
