from __future__ import annotations

import pytest

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.strict_yaml import Loc, MapReader, as_octal, as_scalar_str, load_yaml

DOC = """\
name: sshd
mode: 0600
list:
  - a
  - b
nested:
  key: 1
"""


def test_lines_of_keys_and_items_are_kept() -> None:
    doc = load_yaml(DOC, "x.yml")
    assert doc.line == 1
    assert doc.key_lines == {"name": 1, "mode": 2, "list": 3, "nested": 6}
    assert doc["list"].item_lines == [4, 5]
    assert doc["nested"].key_lines == {"key": 7}
    # the integer keeps its source text, so a mode reads as octal digits
    assert doc["mode"] == 0o600 and doc["mode"].raw == "0600"


def test_duplicate_key_names_both_lines() -> None:
    with pytest.raises(SchemaError) as e:
        load_yaml("a: 1\nb: 2\na: 3\n", "dup.yml")
    assert e.value.file == "dup.yml" and e.value.line == 3 and e.value.field == "a"
    assert "first set on line 1" in str(e.value)


def test_syntax_error_has_the_line() -> None:
    with pytest.raises(SchemaError, match=r"^bad\.yml:2: yaml: .*must be valid YAML"):
        load_yaml("a: [1\nb: 2\n", "bad.yml")


def test_non_string_key_is_refused() -> None:
    with pytest.raises(SchemaError, match="mapping keys must be strings"):
        load_yaml("1: a\n", "k.yml")


def test_reader_refuses_unknown_keys_with_file_line_field_and_allowed() -> None:
    doc = load_yaml(DOC, "x.yml")
    with pytest.raises(SchemaError) as e:
        MapReader(doc, Loc("x.yml", "", 1), ("name", "mode", "list"))
    assert str(e.value) == (
        "x.yml:6: nested: 'nested' is not allowed; allowed keys: name, mode, list"
    )


def test_reader_names_why_a_refused_key_is_refused_before_unknown_keys() -> None:
    doc = load_yaml(DOC, "x.yml")
    with pytest.raises(SchemaError) as e:
        MapReader(doc, Loc("x.yml", "", 1), ("name",), refused={"list": "lists are not wanted"})
    assert (e.value.line, e.value.field, e.value.value) == (3, "list", ["a", "b"])
    assert "lists are not wanted" in str(e.value)
    # A refused key that is absent changes nothing.
    r = MapReader(doc, Loc("x.yml", "", 1), ("name", "mode", "list", "nested"), refused={"x": "no"})
    assert r.get_str("name") == "sshd"


def test_reader_types_and_paths() -> None:
    doc = load_yaml(DOC, "x.yml")
    r = MapReader(doc, Loc("x.yml", "top", 1), ("name", "mode", "list", "nested"))
    assert r.get_str("name") == "sshd" and r.get_str("absent") is None
    assert r.get_strs("list") == ("a", "b")
    assert r.get_octal("mode") == 0o600
    assert r.map("nested", ("key",)) is not None
    with pytest.raises(
        SchemaError, match=r"x\.yml:2: top\.mode: 384 .*must be a string, not a integer"
    ):
        r.get_str("mode")
    with pytest.raises(SchemaError, match=r"x\.yml:3: top\.list: .*must be true or false"):
        r.get_bool("list")
    with pytest.raises(SchemaError, match=r"top: None .*the key 'image' is required"):
        r.required_str("image")
    with pytest.raises(
        SchemaError, match=r"x\.yml:7: top\.nested\.key: 'key' .*allowed keys: other"
    ):
        r.map("nested", ("other",))


def test_list_items_carry_their_index_and_line() -> None:
    doc = load_yaml("list:\n  - a\n  - 3\n", "l.yml")
    r = MapReader(doc, Loc("l.yml", "", 1), ("list",))
    with pytest.raises(SchemaError) as e:
        r.get_strs("list")
    assert (e.value.line, e.value.field, e.value.value) == (3, "list[1]", 3)


def test_plain_dicts_work_without_lines() -> None:
    r = MapReader({"a": "x", "n": 5, "b": True}, Loc("label", "", None), ("a", "n", "b"))
    assert r.get_str("a") == "x" and r.get_int("n") == 5 and r.get_bool("b") is True
    with pytest.raises(SchemaError, match=r"^label: n: 5 .*must be a string"):
        r.get_str("n")
    with pytest.raises(SchemaError, match="must be an integer, not a boolean"):
        r.get_int("b")
    with pytest.raises(SchemaError, match=r"must be a mapping \(a build\.yml\), not a list"):
        MapReader([], Loc("b.yml", "", 1), (), what="a build.yml")


@pytest.mark.parametrize("text,mode", [('"0644"', 0o644), ("0600", 0o600), ('"0o755"', 0o755)])
def test_octal_modes(text: str, mode: int) -> None:
    doc = load_yaml(f"mode: {text}\n", "m.yml")
    assert as_octal(doc["mode"], Loc("m.yml", "mode", 1)) == mode


@pytest.mark.parametrize("text", ['"0888"', "010000", "true", '""'])
def test_bad_octal_modes(text: str) -> None:
    doc = load_yaml(f"mode: {text}\n", "m.yml")
    with pytest.raises(SchemaError, match="octal mode"):
        as_octal(doc["mode"], Loc("m.yml", "mode", 1))


def test_scalar_strings_keep_integers_as_written_and_refuse_booleans() -> None:
    doc = load_yaml("a: 010\nb: yes\nc: text\n", "s.yml")
    loc = Loc("s.yml", "v", 1)
    assert as_scalar_str(doc["a"], loc) == "010"
    assert as_scalar_str(doc["c"], loc) == "text"
    with pytest.raises(SchemaError, match="must be a string \\(quote it\\), not a boolean"):
        as_scalar_str(doc["b"], loc)
    with pytest.raises(SchemaError, match="must be a mapping of strings, not a list"):
        MapReader({"m": []}, loc, ("m",)).str_map("m")
    assert MapReader({"m": {"b": "2", "a": 1}}, loc, ("m",)).str_map("m") == (
        ("a", "1"),
        ("b", "2"),
    )
