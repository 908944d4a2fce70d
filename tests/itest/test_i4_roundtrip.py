"""Issue 4: confluent-kafka (librdkafka 2.0.2) produce/consume round trips
through Brook, for every compression codec and acks 0/1/all.

Keyed messages (key, value incl. empty and null values, headers incl.
empty, null and repeated keys; see tests/lib/i4util.py) go to a 6-partition
topic that the broker auto-creates (num.partitions=6). The consumer reads
every partition from the beginning. For acks 1/all the result must be
exact: every message once, at the partition and offset its delivery report
gave, with per-partition order kept. For acks=0 (no offsets in the reports)
nothing may be corrupted, duplicated or reordered (none should be lost on
loopback either, but acks=0 gives no guarantee, so a loss only warns).

Sizes: 100,000 messages for every codec and acks level (~40 s for all 15
against a release build; I4_N overrides). The raw-fetch test checks that the batches
Brook stores really are compressed with the producer's codec (librdkafka
silently falls back to uncompressed when the broker's ApiVersions do not
enable a codec, see CLIENTS.md 2.1), and decodes them with kafka-python's
independent record reader.
"""

import os
import time
import warnings

import pytest

import i4util
import kwirex

N = int(os.environ.get("I4_N", "100000"))
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PARTS = 6


def roundtrip(brook, topic, tag, n, acks, codec, timeout=100):
    i4util.auto_create(brook.bootstrap, topic, PARTS)
    t0 = int(time.time() * 1000)
    prod = i4util.produce_confluent(brook.bootstrap, topic, tag, n, acks=acks, compression=codec,
                                    timeout=timeout)
    t1 = int(time.time() * 1000)
    assert not prod.errors, "delivery errors: %s" % prod.errors[:10]
    used = {p for p, _ in prod.where.values()}
    assert len(used) == PARTS, "keyed messages should spread over all %d partitions, used %s" % (PARTS, used)
    exact = str(acks) != "0"
    consumed = i4util.consume_all(brook.bootstrap, topic, PARTS, expected=n if exact else None, timeout=timeout)
    seen = i4util.verify(tag, n, consumed, prod, exact=exact, t_window=(t0, t1))
    if not exact and len(seen) < n:
        warnings.warn("acks=0: %d of %d messages lost on loopback" % (n - len(seen), n))
    if exact:
        # the offsets the reports gave are dense per partition: 0..count-1
        per = {}
        for p, off in prod.where.values():
            per.setdefault(p, []).append(off)
        for p, offs in per.items():
            assert sorted(offs) == list(range(len(offs))), "partition %d: offsets not 0..%d" % (p, len(offs) - 1)
    brook.assert_alive("after the round trip")
    return prod, consumed


@pytest.mark.timeout(240)
@pytest.mark.brook_config({"num.partitions": PARTS})
@pytest.mark.parametrize("acks", ["all", "1", "0"])
@pytest.mark.parametrize("codec", CODECS)
def test_confluent_roundtrip(brook, codec, acks):
    roundtrip(brook, "rt-%s-acks%s" % (codec, acks), "rt%s%s" % (codec, acks), N, acks, codec)


@pytest.mark.smoke
@pytest.mark.timeout(120)
@pytest.mark.brook_config({"num.partitions": PARTS})
def test_confluent_roundtrip_smoke(brook):
    """Every codec with acks=all and uncompressed with acks 0 and 1, 1,000
    messages each, on one broker (the quick version for the ASan run)."""
    for codec, acks in [(c, "all") for c in CODECS] + [("none", "1"), ("none", "0")]:
        roundtrip(brook, "smoke-%s-%s" % (codec, acks), "s%s%s" % (codec, acks), 1000, acks, codec)


@pytest.mark.smoke
@pytest.mark.timeout(120)
@pytest.mark.brook_config({"num.partitions": 1})
@pytest.mark.parametrize("codec", CODECS)
def test_stored_batches_keep_the_producer_codec(brook, codec):
    """compression.type=producer (the default): what a raw Fetch returns is
    the producer's batches, compressed with its codec, and kafka-python's
    decoder reads back exactly what librdkafka wrote."""
    topic = "codec-" + codec
    tag = "c" + codec
    n = 3000
    i4util.auto_create(brook.bootstrap, topic, 1)
    prod = i4util.produce_confluent(brook.bootstrap, topic, tag, n, acks="all", compression=codec,
                                    conf={"linger.ms": 50, "batch.num.messages": 1000})
    assert not prod.errors, prod.errors[:5]
    batches, hw = kwirex.fetch_all((brook.host, brook.port), topic, 0)
    assert hw == n
    want = kwirex.COMPRESSION[codec]
    codecs = {b["compression"] for b in batches}
    # librdkafka sends a batch uncompressed when compressing would not make
    # it smaller (a batch of one or two short records), so a few small
    # uncompressed batches are legitimate; a broker that did not enable the
    # codec (ApiVersions gates) makes them all uncompressed.
    small_plain = [b for b in batches if b["compression"] == 0 and want != 0]
    in_codec = sum(len(b["records"]) for b in batches if b["compression"] == want)
    assert codecs <= {want, 0} and in_codec >= 0.9 * n and all(
        len(b["records"]) <= 5 for b in small_plain), (
        "stored batches use codec(s) %s (%d of %d records in %s): the producer asked for %s "
        "(%d); if mostly 0, librdkafka sent them uncompressed because the broker's ApiVersions "
        "did not enable %s (lz4 needs FindCoordinator v0 advertised, zstd Produce v7 + Fetch "
        "v10, gzip/snappy Produce v0)"
        % (sorted(codecs), in_codec, n, codec, codec, want, codec))
    recs = [r for b in batches for r in b["records"]]
    assert [r[0] for r in recs] == list(range(n)), "offsets are not 0..%d" % (n - 1)
    for off, k, v, h in recs:
        i = i4util.index_of(tag, k)
        assert i == off, "offset %d holds message %d" % (off, i)
        assert v == i4util.value_of(tag, i), "message %d: value" % i
        assert [(hk, hv) for hk, hv in h] == i4util.headers_of(tag, i), "message %d: headers %r" % (i, h)
    # batch offsets are contiguous and every batch is counted right
    nxt = 0
    for b in batches:
        assert b["base_offset"] == nxt
        assert b["count"] == b["last_offset"] - b["base_offset"] + 1 == len(b["records"])
        nxt = b["last_offset"] + 1
