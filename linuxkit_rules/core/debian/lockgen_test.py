from linuxkit_rules.core.debian.fetch import mirror_for
from linuxkit_rules.core.debian.lockgen import private_sources, suites_for

MIRRORS = {
    "bookworm": "http://mirror.test/debian/",
    "bookworm-updates": "http://mirror.test/debian/",
    "bookworm-security": "http://mirror.test/debian-security/",
}


def test_suites_of_a_release_and_of_its_backports() -> None:
    assert suites_for("trixie") == {"trixie", "trixie-updates", "trixie-security"}
    assert suites_for("bookworm-backports") == {
        "bookworm-backports",
        "bookworm",
        "bookworm-updates",
        "bookworm-security",
    }


def test_a_suite_the_machine_does_not_list_comes_from_the_same_archive() -> None:
    assert mirror_for("bookworm", MIRRORS) == "http://mirror.test/debian/"
    assert mirror_for("trixie", MIRRORS) == "http://mirror.test/debian/"
    assert mirror_for("trixie-security", MIRRORS) == "http://mirror.test/debian-security/"
    assert mirror_for("trixie", {}) is None


def test_private_sources_lists_each_suite_on_its_archive() -> None:
    text = private_sources("trixie", MIRRORS)
    assert "URIs: http://mirror.test/debian/\nSuites: trixie trixie-updates\n" in text
    assert "URIs: http://mirror.test/debian-security/\nSuites: trixie-security\n" in text


def test_private_sources_without_a_mirror_is_an_error_naming_the_suite() -> None:
    import pytest

    from linuxkit_rules.core.errors import DebianError

    with pytest.raises(DebianError, match="suite trixie: the machine's apt sources name no"):
        private_sources("trixie", {})
