"""SampleProtocol and the counters with small fakes: nothing escapes."""

import datetime
import pathlib

from ceilometer_ha import rejection
from ceilometer_ha import signing
from ceilometer_ha import wire
from ceilometer_ha.collector import protocol
from ceilometer_ha.collector import stats as stats_mod

DATA = pathlib.Path(__file__).parent / "data"
SECRET = "nmWpu7Pu8DDWhQ3oPaBpVQjn"
CAPTURE_TIME = datetime.datetime(2026, 11, 22, 3, 0, 1)
PEER = ("198.51.100.7", 40000)


class FakeClock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


class RecordingSink:
    def __init__(self, fail=False):
        self.records = []
        self.fail = fail

    def __call__(self, record):
        if self.fail:
            raise RuntimeError("sink broken")
        self.records.append(record)


class ExplodingDecoder:
    """A decoder with a bug: raises something that is not DatagramError."""

    def now(self):
        return CAPTURE_TIME

    def decode(self, data, now=None):
        raise KeyError("bug")


class CountingClock:
    """The collector clock, one microsecond later at every reading."""

    def __init__(self):
        self.readings = 0

    def __call__(self):
        self.readings += 1
        return CAPTURE_TIME + datetime.timedelta(microseconds=self.readings)


def _protocol(sinks, decoder=None):
    decoder = decoder or wire.DatagramDecoder(
        signing.Signer(SECRET), 16384, 300, lambda: CAPTURE_TIME
    )
    stats = stats_mod.Stats()
    return protocol.SampleProtocol(decoder, sinks, stats), stats


def test_accepted_datagram_reaches_every_sink():
    first, second = RecordingSink(), RecordingSink()
    proto, stats = _protocol([first, second])
    proto.datagram_received((DATA / "signed_plain.msgpack").read_bytes(), PEER)
    assert [r.host for r in first.records] == ["compute-1"]
    assert first.records == second.records
    assert stats.received == 1
    assert sum(stats.rejected.values()) == 0


def test_rejections_are_counted_by_reason():
    sink = RecordingSink()
    proto, stats = _protocol([sink])
    for name in ("forged", "unsigned", "truncated", "forged"):
        proto.datagram_received((DATA / f"{name}.msgpack").read_bytes(), PEER)
    assert sink.records == []
    assert stats.received == 4
    assert {k: v for k, v in stats.rejected.items() if v} == {
        rejection.BAD_SIGNATURE: 2,
        rejection.UNSIGNED: 1,
        rejection.UNDECODABLE: 1,
    }


def test_datagrams_read_together_share_one_clock_reading():
    clock, sink = CountingClock(), RecordingSink()
    decoder = wire.DatagramDecoder(signing.Signer(SECRET), 16384, 300, clock)
    proto, stats = _protocol([sink], decoder)
    good = (DATA / "signed_plain.msgpack").read_bytes()
    forged = (DATA / "forged.msgpack").read_bytes()
    proto.datagrams_received([(good, PEER), (forged, PEER), (good, PEER)])
    assert clock.readings == 1
    assert [r.recorded_at for r in sink.records] == [
        CAPTURE_TIME + datetime.timedelta(microseconds=1)
    ] * 2
    assert stats.received == 3
    assert stats.rejected[rejection.BAD_SIGNATURE] == 1
    proto.datagram_received(good, PEER)
    assert clock.readings == 2
    assert sink.records[-1].recorded_at > sink.records[0].recorded_at


def test_a_decoder_bug_is_counted_not_raised():
    proto, stats = _protocol([RecordingSink()], ExplodingDecoder())
    proto.datagram_received(b"anything", PEER)
    assert stats.rejected[protocol.INTERNAL_ERROR] == 1


def test_a_failing_sink_does_not_stop_the_others_and_counts_a_drop():
    broken, working = RecordingSink(fail=True), RecordingSink()
    proto, stats = _protocol([broken, working])
    data = (DATA / "signed_plain.msgpack").read_bytes()
    proto.datagrams_received([(data, PEER), (data, PEER)])
    assert len(working.records) == 2
    assert stats.snapshot()["dropped"] == 2


def test_rate_limited_log_lets_one_line_per_interval_through():
    clock = FakeClock()
    limiter = stats_mod.RateLimitedLog(interval=10.0, clock=clock)
    assert limiter.warning("stale", "x %s", 1)
    assert not limiter.warning("stale", "x %s", 2)
    assert limiter.warning("future", "y %s", 1)
    clock.now = 10.0
    assert limiter.warning("stale", "x %s", 3)


def test_snapshot_counts_queue_sources_and_outcomes():
    stats = stats_mod.Stats()
    stats.queued_sources += [lambda: 3, lambda: 4]
    stats.stored(5, 2)
    stats.dropped(1)
    stats.reject(rejection.STALE)
    snap = stats.snapshot()
    assert (snap["queued"], snap["stored"], snap["duplicates"]) == (7, 5, 2)
    assert snap["dropped"] == 1
    assert snap["rejected"][rejection.STALE] == 1
    assert set(rejection.REASONS) <= set(snap["rejected"])
