"""Crash loop for the storage engine: kill -9 a process that appends to a
partition log and flushes it at random moments, 50 times, restarting it
each time, and check what recovery leaves behind.

The process is tests/crash/crashwriter.c (build/bin/crashwriter, or the
CRASHWRITER environment variable). Each cycle:

  1. start `crashwriter run DIR --expect-leo-min F` where F is the last
     "FLUSHED <offset>" line the previous, killed process printed. On start
     it opens the log (recovery from the checkpointed recovery point), checks
     through the storage API every batch from the segment holding the older
     of the recovery point and the previous start's LEO (content, CRC,
     contiguous offsets, offset and time index lookups, file sizes), checks
     every batch from offset 0 by an independent parse of the .log files
     (nothing after the last valid batch), then prints one JSON line and
     starts appending and flushing;
  2. wait 20-300 ms and kill -9 it; every other cycle the writer also
     arms a thread that kills it (SIGKILL) inside the write of a large
     batch, which leaves a torn tail most of the time;
  3. `crashwriter verify DIR --min-leo F --allow-torn`: the killed log as it
     is on disk, before any recovery: every flushed batch is there and
     intact; a partial batch is tolerated only at the very end. The next
     start must recover exactly this: the same LEO (kill -9 keeps the page
     cache, so no whole batch may be lost) and the partial batch cut.

After the last cycle, two starts that check the whole log through the API
(the first recovers the last kill and closes cleanly, the second loads the
log as after a clean shutdown) and a strict verify (no torn tail) close the
run. The writer also checks the time index and the max timestamp
on every start; a failure there does not stop the loop and fails the test
at the end, after the data checks of all cycles.

CRASH_SEED fixes the kill delays (the writer's own seed is in its JSON
line); CRASH_NO_TIME_CHECKS=1 skips the time index and max timestamp checks
(to look at the data path alone).

kill -9 keeps the page cache, so this tests recovery from a process crash
(torn tails of interrupted writes, interrupted rolls, flushes and checkpoint
renames), not from power loss: the unit tests cover lost unsynced data with
the fault-injecting file layer.
"""

import json
import os
import random
import select
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CYCLES = 50
SEGMENT_BYTES = 256 * 1024


def _binary():
    path = os.environ.get("CRASHWRITER", os.path.join(REPO, "build", "bin", "crashwriter"))
    if not os.path.isabs(path):
        path = os.path.join(REPO, path)
    if not os.access(path, os.X_OK):
        pytest.fail("crashwriter not built: %s (make all)" % path)
    return path


def _readline(proc, timeout):
    """One line of proc's stdout within timeout seconds, '' at EOF."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        proc.wait()
        pytest.fail("crashwriter printed nothing for %.0f s" % timeout)
    return proc.stdout.readline().decode()


def _json(line, what):
    try:
        return json.loads(line)
    except ValueError:
        pytest.fail("%s: not a JSON line: %r" % (what, line))


def _run_args(binary, logdir, flushed, check_from=0, kill_in_write=False):
    args = [binary, "run", logdir, "--segment-bytes", str(SEGMENT_BYTES),
            "--expect-leo-min", str(flushed), "--check-from", str(check_from)]
    if kill_in_write:
        args.append("--kill-in-write")
    if os.environ.get("CRASH_NO_TIME_CHECKS"):
        args.append("--no-time-checks")
    return args


def _verify(binary, logdir, min_leo, allow_torn):
    args = [binary, "verify", logdir, "--min-leo", str(min_leo)]
    if allow_torn:
        args.append("--allow-torn")
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    res = _json(p.stdout.decode().strip(), "verify")
    assert p.returncode == 0 and res["ok"], "verify failed: %s %s" % (res, p.stderr.decode())
    return res


def _check_recovery(cycle, ready, on_disk):
    """kill -9 loses nothing that write(2) had written: recovery must keep
    every whole batch the verify of the killed log found, and cut exactly
    the partial one after them."""
    if on_disk is None:
        return
    same = ready["leo"] == on_disk["leo"] and ready["truncated_bytes"] == on_disk["torn_bytes"]
    assert same, (
        "cycle %s: recovery kept LEO %d and cut %d bytes; the killed log had LEO %d and "
        "a %d-byte torn tail" % (cycle, ready["leo"], ready["truncated_bytes"], on_disk["leo"],
                                 on_disk["torn_bytes"]))


@pytest.mark.timeout(120)
def test_crash_loop(tmp_path):
    binary = _binary()
    logdir = str(tmp_path)
    seed = int(os.environ.get("CRASH_SEED", time.time_ns() % 1000000007))
    rng = random.Random(seed)
    print("CRASH_SEED=%d dir=%s" % (seed, logdir))

    flushed = 0          # last FLUSHED offset of a killed process
    checked = 0          # LEO at the last start: the API checked all below it
    stats = {"cycles": 0, "recovered_truncations": 0, "truncated_bytes": 0,
             "torn_after_kill": 0, "kills_in_write": 0, "flushes": 0}
    time_failures = []   # (start, time_error): checked after the loop
    on_disk = None       # the last verify of the killed log: what recovery must find
    t0 = time.monotonic()
    for cycle in range(CYCLES):
        in_write = cycle % 2 == 1
        proc = subprocess.Popen(_run_args(binary, logdir, flushed, checked, in_write),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            ready = _json(_readline(proc, 30), "cycle %d start" % cycle)
            assert ready.get("event") == "ready" and ready["ok"], \
                "cycle %d: recovery check failed: %s" % (cycle, ready)
            assert ready["leo"] >= flushed
            _check_recovery(cycle, ready, on_disk)
            if not ready["time_ok"]:
                time_failures.append((cycle, ready["time_error"]))
            checked = ready["leo"]
            if ready["truncated_bytes"]:
                stats["recovered_truncations"] += 1
                stats["truncated_bytes"] += ready["truncated_bytes"]
            time.sleep(rng.uniform(0.020, 0.300))
            if proc.poll() is not None:
                stats["kills_in_write"] += 1
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL, \
            "cycle %d: crashwriter exited by itself (%s): %s" % (cycle, proc.returncode,
                                                                  err.decode())
        last = flushed
        for line in out.decode().splitlines():
            if not line.startswith("FLUSHED "):
                continue  # a line cut by the kill has no newline and ends the output
            off = int(line.split()[1])
            assert off >= last, "cycle %d: FLUSHED went backwards: %d after %d" % (cycle, off, last)
            last = off
            stats["flushes"] += 1
        flushed = last
        res = on_disk = _verify(binary, logdir, flushed, allow_torn=True)
        if res["torn_bytes"]:
            stats["torn_after_kill"] += 1
        stats["cycles"] += 1

    # two last starts with a full API check: recovery of the last kill and a
    # clean close (with the clean-shutdown marker), then a start after the
    # clean close, which trusts the files; a strict file check
    for final in range(2):
        p = subprocess.run(_run_args(binary, logdir, flushed) + ["--exit-after-open"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        lines = p.stdout.decode().splitlines()
        ready = _json(lines[0] if lines else "", "final start")
        assert p.returncode == 0 and ready["ok"], "final start: %s %s" % (ready, p.stderr.decode())
        assert ready["clean"] == (final == 1), "final start: clean-shutdown marker: %s" % ready
        _check_recovery("final", ready, on_disk)
        on_disk = None
        if ready["truncated_bytes"]:
            stats["recovered_truncations"] += 1
            stats["truncated_bytes"] += ready["truncated_bytes"]
        if not ready["time_ok"]:
            time_failures.append(("final", ready["time_error"]))
        flushed = ready["leo"]
    res = _verify(binary, logdir, flushed, allow_torn=False)
    assert res["leo"] == flushed
    stats.update(leo=res["leo"], segments=res["segments"], bytes=res["bytes"],
                 seconds=round(time.monotonic() - t0, 1))
    stats["time_index_failures"] = len(time_failures)
    print("crash loop: %s" % json.dumps(stats))
    sys.stdout.flush()
    assert stats["cycles"] == CYCLES
    # The data survived; the time index (ListOffsets by timestamp, max
    # timestamp) must survive too.
    assert not time_failures, "%d of %d starts found a wrong time index; first ones: %s" % (
        len(time_failures), CYCLES + 2, time_failures[:3])
