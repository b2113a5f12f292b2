from __future__ import annotations

import pytest

from engine.errors import InvalidArgument
from engine.util.filters import Filters


def test_it_reads_both_encodings() -> None:
    cli = Filters.parse('{"label":{"a=1":true},"name":{"web":true}}')
    sdk = Filters.parse('{"label":["a=1"],"name":["web"]}')
    assert cli.values("label") == sdk.values("label") == ["a=1"]
    assert cli.values("name") == sdk.values("name") == ["web"]


def test_labels_match_key_and_value() -> None:
    f = Filters.parse('{"label":["a","b=2"]}')
    assert f.match_labels({"a": "x", "b": "2"})
    assert not f.match_labels({"a": "x", "b": "3"})
    assert not f.match_labels({"b": "2"})


def test_negated_labels() -> None:
    f = Filters.parse('{"label!":["a=1"]}')
    assert f.match_labels({"a": "2"})
    assert not f.match_labels({"a": "1"})


def test_it_refuses_unknown_keys_and_bad_json() -> None:
    with pytest.raises(InvalidArgument):
        Filters.parse("{not json")
    with pytest.raises(InvalidArgument):
        Filters.parse('{"bogus":["x"]}').validate({"label"})


def test_bool_values() -> None:
    assert Filters.parse('{"dangling":["true"]}').bool_value("dangling", None) is True
    assert Filters.parse('{"dangling":["0"]}').bool_value("dangling", None) is False
    with pytest.raises(InvalidArgument):
        Filters.parse('{"dangling":["maybe"]}').bool_value("dangling", None)
