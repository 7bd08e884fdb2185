"""Per-message reply tags (issue 20): a tag names its message and nothing else can pass for it."""

from __future__ import annotations

from bot.outreach.reply_tag import reply_address, reply_tag, tag_matches, tagged_message

KEY = "<dunbot.17.20260610@xinghe.com.cn>"
OTHER_KEY = "<dunbot.18.20260610@xinghe.com.cn>"
SECRET = "a-session-secret"


def test_a_tag_reads_back_to_its_message_and_check() -> None:
    """The tagged address carries the row id and a check that verifies against the message's key,
    also when a mail system upper-cased the address on the way back."""
    address = reply_address("ar-replies@xinghe.com.cn", reply_tag(SECRET, 17, KEY))
    assert address.startswith("ar-replies+r17-") and address.endswith("@xinghe.com.cn")
    for seen in (address, address.upper(), f"Accounts <{address}>"):
        found = tagged_message(seen)
        assert found is not None and found[0] == 17
        assert tag_matches(SECRET, KEY, found[1])


def test_a_tag_does_not_pass_for_another_message_secret_or_a_typo() -> None:
    """Changing the id (a typo, or a guess at the next message), the secret or one digit of the check
    fails the check: a reply is never matched to another customer's message by its tag."""
    tag = reply_tag(SECRET, 17, KEY)
    found = tagged_message(f"ar+{tag}@x.cn")
    assert found is not None
    _, check = found
    assert not tag_matches(SECRET, OTHER_KEY, check)  # the tag of 17 presented as 18's
    assert not tag_matches("another secret", KEY, check)
    assert not tag_matches("", KEY, check)
    typo = check[:-1] + ("0" if check[-1] != "0" else "1")
    assert not tag_matches(SECRET, KEY, typo)
    assert reply_tag(SECRET, 18, OTHER_KEY).split("-")[1] != check


def test_addresses_without_a_tag_are_not_taken_for_one() -> None:
    """Plain addresses, other sub-addresses and malformed tags carry no message."""
    for address in ("ar@x.cn", "ar+newsletter@x.cn", "ar+r17@x.cn", "ar+r17-zz@x.cn", "ar+r-0123456789@x.cn"):
        assert tagged_message(address) is None, address
    assert reply_address("not-an-address", "r1-0123456789") == "not-an-address"
