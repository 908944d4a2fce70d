"""Every version the broker advertises gets an answer.

A client may pick any version inside an advertised range (CLIENTS.md
section 1), so each must work. For every API key and version in
ApiVersions, a request with values at every field (the seed corpus of the
request fuzzer, fuzz/corpus/request/: populated by the generator's
descriptors, one file per key and version) is sent on its own connection;
the broker must answer it with a response frame carrying the request's
correlation id, and must neither close the connection nor crash. The
values are random, so most answers carry error codes: that is fine, a
closed connection is not (it is what an encoding bug in a handler looks
like, e.g. a field the version cannot carry).

The only request without an answer is Produce with acks=0; the corpus
values are random, so such a request is recognised and skipped.
"""

import glob
import os
import struct

import pytest

import kwire
from kwire import API_API_VERSIONS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "fuzz", "corpus", "request")


def advertised(brook):
    with kwire.Conn(brook.host, brook.port) as c:
        corr, body = c.roundtrip(API_API_VERSIONS, 3, 1, kwire.api_versions_body(3))
    return kwire.parse_api_versions(body, 3)["keys"]


def produce_acks(frame, version):
    """Acks of a Produce request frame (header + body) at version >= 3."""
    off = 8
    (clen,) = struct.unpack_from(">h", frame, off)  # client id, classic string
    off += 2 + max(clen, 0)
    if version >= 9:
        off += 1  # header tagged fields (the corpus writes none)
        n, shift = 0, 0
        while True:  # compact nullable transactional id
            b = frame[off]
            off += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        off += max(n - 1, 0)
    else:
        (tlen,) = struct.unpack_from(">h", frame, off)
        off += 2 + max(tlen, 0)
    (acks,) = struct.unpack_from(">h", frame, off)
    return acks


@pytest.mark.smoke
def test_every_advertised_version_answers(brook):
    check_every_version(brook)


@pytest.mark.brook_config({"brook.controller.requests.enable": "true"})
def test_every_advertised_version_answers_in_cluster_mode(brook):
    """Cluster mode also advertises LeaderAndIsr, StopReplica and
    UpdateMetadata: every version of those answers too."""
    ranges = advertised(brook)
    assert {4, 5, 6} <= set(ranges)
    check_every_version(brook)


def check_every_version(brook):
    ranges = advertised(brook)
    assert ranges, "ApiVersions listed nothing"
    files = sorted(glob.glob(os.path.join(CORPUS, "*-req")))
    assert len(files) > 300, "the request corpus is missing (make fuzz-corpus)"
    sent, skipped, failures = 0, 0, []
    covered = set()
    for path in files:
        frame = open(path, "rb").read()
        key, ver, corr = struct.unpack_from(">hhi", frame, 0)
        if key not in ranges or not ranges[key][0] <= ver <= ranges[key][1]:
            continue
        covered.add((key, ver))
        if key == 0 and ver < 3:
            pass  # answered UNSUPPORTED_VERSION per partition
        elif key == 0 and produce_acks(frame, ver) == 0:
            skipped += 1
            continue
        try:
            with kwire.Conn(brook.host, brook.port, timeout=10) as c:
                c.send(struct.pack(">i", len(frame)) + frame)
                resp = c.recv_frame()
        except Exception as e:  # closed, reset or timed out
            failures.append("%s: %s" % (os.path.basename(path), e))
            continue
        sent += 1
        if len(resp) < 4 or struct.unpack_from(">i", resp, 0)[0] != corr:
            failures.append("%s: wrong correlation id" % os.path.basename(path))
    want = {(k, v) for k, (lo, hi) in ranges.items() for v in range(lo, hi + 1)}
    assert want <= covered, "no corpus request for %s" % sorted(want - covered)
    assert not failures, "%d of %d requests not answered:\n%s" % (
        len(failures), sent + len(failures), "\n".join(failures[:20]))
    assert sent + skipped == len(want) and skipped <= 2
