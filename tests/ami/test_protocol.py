"""The sans-IO AMI protocol against Asterisk 22's recorded bytes (issue 10 part 1, AI-1, AI-9)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.ami.protocol import (
    MAX_ACTION_FIELDS,
    AmiParser,
    Banner,
    EndOfStream,
    Event,
    ReplyTracker,
    Response,
    encode_action,
)
from ivr.errors import AmiProtocolError, InvalidArgument, ProtocolError
from tests.ami.peer import BANNER, block, load, transcripts


def _stream(name: str) -> bytes:
    return b"".join(r.data for r in load(name) if r.direction == "A>C")


def _parse(data: bytes, cuts: list[int] | None = None) -> list[Banner | Response | Event]:
    parser = AmiParser()
    out: list[Banner | Response | Event] = []
    bounds = [0, *sorted(set(cuts or [])), len(data)]
    for a, b in itertools.pairwise(bounds):
        out += parser.feed(data[a:b])
    return out


@pytest.mark.parametrize("name", transcripts())
def test_recordings_parse_the_same_in_any_chunking(name: str) -> None:
    """Every recording parses into a banner then Response/Event blocks; byte by byte gives the same
    messages as one read (issue 10 part 1: partial chunks)."""
    data = _stream(name)
    whole = _parse(data)
    assert whole[0] == Banner("Asterisk Call Manager/11.0.0")
    assert whole[0].version == "11.0.0"
    assert all(isinstance(m, (Response, Event)) for m in whole[1:])
    parser = AmiParser()
    bytewise: list[Banner | Response | Event] = []
    for i in range(len(data)):
        bytewise += parser.feed(data[i:i + 1])
    assert bytewise == whole
    assert parser.feed_eof() == [EndOfStream(b"")]


@given(st.lists(st.integers(min_value=1, max_value=4000), max_size=30))
@settings(max_examples=60, deadline=None)
def test_any_cut_of_a_recording_parses_the_same(cuts: list[int]) -> None:
    data = _stream("ami_originate_busy")
    assert _parse(data, [c for c in cuts if c < len(data)]) == _parse(data)


def test_recorded_originate_response_and_hangup_cause() -> None:
    """OriginateResponse Reason and Hangup Cause/Cause-txt as Asterisk 22 sent them (busy)."""
    messages = _parse(_stream("ami_originate_busy"))
    (orig,) = [m for m in messages if isinstance(m, Event) and m.name == "OriginateResponse"]
    assert (orig["Reason"], orig["Response"], orig.action_id) == ("5", "Failure", "orig-originate_busy")
    causes = [(m["Cause"], m["Cause-txt"]) for m in messages if isinstance(m, Event) and m.name == "Hangup"]
    assert causes == [("0", "Unknown"), ("17", "User busy")]


def test_repeated_keys_are_all_kept_in_order() -> None:
    data = BANNER + block(("Event", "Hangup"), ("Uniqueid", "ai-77"), ("ChanVariable", "ATTEMPT_ID=77"),
                          ("ChanVariable", "DELIVERY_ID=5"), ("Cause", "16"), ("Cause-txt", "Normal Clearing"))
    (_, event) = _parse(data)
    assert isinstance(event, Event)
    assert event.get_all("ChanVariable") == ["ATTEMPT_ID=77", "DELIVERY_ID=5"]
    assert event.chan_variables == {"ATTEMPT_ID": "77", "DELIVERY_ID": "5"}
    assert event.get("chanvariable") == "ATTEMPT_ID=77"  # first value, case-insensitive
    assert event["cause-TXT"] == "Normal Clearing"


def test_empty_values_and_values_with_colons() -> None:
    (_, event) = _parse(BANNER + b"Event: X\r\nAccountCode: \r\nEventTV: 2026-11-27T14:17:15.362+0000\r\n\r\n")
    assert isinstance(event, Event)
    assert event["AccountCode"] == ""
    assert event["EventTV"] == "2026-11-27T14:17:15.362+0000"


@pytest.mark.parametrize(("data", "reason"), [
    (b"HTTP/1.1 200 OK\r\n", "no Asterisk Call Manager banner"),
    (BANNER + b"Response Success\r\n\r\n", "not a 'Key: Value' line"),
    (BANNER + b"Message: hi\r\nFoo: bar\r\n\r\n", "block is neither a Response nor an Event"),
    (BANNER + b"Event: X\r\nValue: " + b"x" * 20_000 + b"\r\n", "line too long"),
    (BANNER + b"Event: X\r\nValue: " + b"x" * 20_000, "line too long"),
    (BANNER + b"Event: X\r\n" + (b"Value: " + b"x" * 8000 + b"\r\n") * 40, "message too long"),
    (BANNER + b"Event: X\r\n" + b"V: x\r\n" * 2000, "too many fields in one message"),
])
def test_refused_input(data: bytes, reason: str) -> None:
    """Oversize and malformed blocks are refused with the reason and stay refused (issue 10 part 1)."""
    parser = AmiParser()
    with pytest.raises(AmiProtocolError) as info:
        parser.feed(data)
    assert info.value.reason == reason
    assert isinstance(info.value, ProtocolError)
    with pytest.raises(AmiProtocolError):
        parser.feed(b"Event: Y\r\n\r\n")


def test_oversize_block_refused_even_when_fed_in_small_pieces() -> None:
    parser = AmiParser(max_message=1000)
    parser.feed(BANNER + b"Event: X\r\n")
    with pytest.raises(AmiProtocolError, match="message too long"):
        for _ in range(200):
            parser.feed(b"Key: 0123456789\r\n")


def test_eof_mid_block_reports_the_truncated_bytes() -> None:
    parser = AmiParser()
    parser.feed(BANNER + b"Event: Hangup\r\nCause: 1")
    assert parser.feed_eof() == [EndOfStream(b"Event: Hangup\r\nCause: 1")]


# --- encoding -------------------------------------------------------------------------------------

def test_action_bytes_match_the_recording() -> None:
    """The Login and Originate the probe sent, byte for byte (transcripts)."""
    login = encode_action("Login", "login-1", {"Username": "ref", "Secret": "ref", "Events": "on"})
    assert login.wire == b"Action: Login\r\nActionID: login-1\r\nUsername: ref\r\nSecret: ref\r\nEvents: on\r\n\r\n"
    recorded = [r.data for r in load("ami_originate_success_hotline") if r.direction == "C>A"][1]
    orig = encode_action("Originate", "orig-originate_success_hotline", {
        "Channel": "Local/s@hotline", "Context": "caller", "Exten": "s", "Priority": "1", "Async": "true",
        "Timeout": "30000", "CallerID": "Probe <1000>", "Variable": ["PROBE_ORIG=1"],
        "ChannelId": "probe-chan-0001", "OtherChannelId": "probe-chan-0002"})
    assert orig.wire == recorded


@pytest.mark.parametrize("value", ["a\r\nAction: Hangup", "a\nb", "a\rb", "tab\there", "nul\x00", "del\x7f"])
def test_control_characters_are_refused(value: str) -> None:
    """A CR/LF in a value would inject a second action (issue 10 part 1)."""
    with pytest.raises(InvalidArgument):
        encode_action("Originate", "x-1", {"Channel": value})


@pytest.mark.parametrize("key", ["Bad Key", "", "Key:", "1abc", "Клюк"])
def test_bad_field_names_are_refused(key: str) -> None:
    with pytest.raises(InvalidArgument):
        encode_action("Ping", "x-1", {key: "v"})


def test_action_size_limits() -> None:
    with pytest.raises(InvalidArgument, match="at most"):
        encode_action("Originate", "x-1", {"Channel": "L/" + "9" * 1100})
    with pytest.raises(InvalidArgument, match="more than"):
        encode_action("Originate", "x-1", {"Variable": [f"V{i}=1" for i in range(MAX_ACTION_FIELDS)]})
    with pytest.raises(InvalidArgument):
        encode_action("Ping", "")


def test_masked_hides_secrets_and_phone_numbers() -> None:
    """Debug logs of actions never show a secret or a customer's number (AI-19, issue 10 part 1)."""
    action = encode_action("Login", "l-1", {"Username": "autoinform", "Secret": "hunter2", "Key": "abcd"})
    text = action.masked()
    assert "hunter2" not in text and "abcd" not in text and "Secret: ***" in text
    orig = encode_action("Originate", "o-1", {"Channel": "PJSIP/89001234567@trunk",
                                              "Variable": ["PHONE=+79001234567"]})
    text = orig.masked()
    assert "89001234567" not in text and "9001234567" not in text
    assert "PJSIP/*********67@trunk" in text


# --- replies by ActionID --------------------------------------------------------------------------

def _msgs(data: bytes) -> list[Response | Event]:
    out = _parse(BANNER + data)[1:]
    return [m for m in out if isinstance(m, (Response, Event))]


def test_replies_out_of_order_are_matched_by_action_id() -> None:
    tracker = ReplyTracker()
    tracker.expect("a-1", "Ping")
    tracker.expect("a-2", "Ping")
    done = []
    for m in _msgs(block(("Response", "Success"), ("ActionID", "a-2"), ("Ping", "Pong"))
                   + block(("Response", "Success"), ("ActionID", "a-1"), ("Ping", "Pong"))):
        finished, event = tracker.feed(m)
        assert event is None
        done += [aid for aid, _ in finished]
    assert done == ["a-2", "a-1"]
    assert len(tracker) == 0


def test_event_list_collects_its_items_while_other_events_pass() -> None:
    """An EventList (here Status, whose items put ActionID last) gathered into one result while
    unrelated events and another action's reply interleave (issue 10 part 1)."""
    tracker = ReplyTracker()
    tracker.expect("st", "Status")
    tracker.expect("p", "Ping")
    stream = (block(("Response", "Success"), ("ActionID", "st"), ("EventList", "start"),
                    ("Message", "Channel status will follow"))
              + block(("Event", "Status"), ("Privilege", "Call"), ("Channel", "Local/s@x-1;1"), ("ActionID", "st"))
              + block(("Event", "Hangup"), ("Channel", "Local/s@y-2;1"), ("Cause", "16"))
              + block(("Response", "Success"), ("ActionID", "p"), ("Ping", "Pong"))
              + block(("Event", "OriginateResponse"), ("ActionID", "st"), ("Reason", "4"))  # not a list item
              + block(("Event", "Status"), ("Channel", "Local/s@x-1;2"), ("ActionID", "st"))
              + block(("Event", "StatusComplete"), ("ActionID", "st"), ("EventList", "Complete"), ("ListItems", "2")))
    passed, results = [], {}
    for m in _msgs(stream):
        finished, event = tracker.feed(m)
        if event is not None:
            passed.append(event.name)
        results.update(finished)
    assert passed == ["Hangup"]  # the OriginateResponse-named block with the list's id is an item
    assert [e["Channel"] for e in results["st"].events if e.name == "Status"] == ["Local/s@x-1;1", "Local/s@x-1;2"]
    assert results["st"].complete is not None and results["st"].complete["ListItems"] == "2"
    assert results["p"].response["Ping"] == "Pong"


def test_error_reply_to_a_list_action_ends_it() -> None:
    tracker = ReplyTracker()
    tracker.expect("c", "CoreShowChannels")
    (m,) = _msgs(block(("Response", "Error"), ("ActionID", "c"), ("Message", "Permission denied")))
    finished, _ = tracker.feed(m)
    assert finished[0][1].ok is False and finished[0][1].response.message == "Permission denied"


def test_a_reply_nobody_waits_for_is_dropped_and_an_id_cannot_be_reused() -> None:
    tracker = ReplyTracker()
    (m,) = _msgs(block(("Response", "Success"), ("ActionID", "late"), ("Ping", "Pong")))
    assert tracker.feed(m) == ([], None)
    tracker.expect("x", "Ping")
    with pytest.raises(InvalidArgument):
        tracker.expect("x", "Ping")
