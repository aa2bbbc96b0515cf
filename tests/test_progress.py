"""srs_tf.progress: the counter with rate and ETA used by every long job."""

from srs_tf import progress as progress_lib
from srs_tf.progress import Progress, format_eta


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _progress(monkeypatch, **kwargs):
    clock = Clock()
    monkeypatch.setattr(progress_lib.time, "monotonic", clock)
    lines = []
    return Progress(write=lines.append, **kwargs), clock, lines


def test_lines_carry_count_rate_and_eta(monkeypatch):
    p, clock, lines = _progress(monkeypatch, label="train", total=1000, unit="examples")
    clock.now += 5.0
    p.update(250, note="L_r 0.5")
    assert lines == ["[train] 250/1,000 examples  50.0/s  ETA 00:00:15  L_r 0.5"]
    assert p.last_rate == 50.0


def test_lines_are_throttled_unless_forced(monkeypatch):
    p, clock, lines = _progress(monkeypatch, label="x", total=100, every_s=5.0)
    for _ in range(4):
        clock.now += 1.0
        p.update(10)
    assert lines == []  # 4 s < every_s
    clock.now += 1.0
    p.update(10)
    assert len(lines) == 1 and lines[0].startswith("[x] 50/100  10.0/s")
    clock.now += 1.0
    p.set(60, force=True)
    assert len(lines) == 2 and "10.0/s" in lines[1]  # rate over the last interval


def test_a_resumed_job_counts_only_its_own_rate(monkeypatch):
    p, clock, lines = _progress(monkeypatch, label="train", total=1000, start=600, every_s=0)
    clock.now += 2.0
    p.set(700)
    assert lines[-1].startswith("[train] 700/1,000  50.0/s  ETA 00:00:06")
    assert p.rate() == 50.0
    p.close()
    assert lines[-1].endswith("(2.0s)")


def test_disabled_and_unknown_total(monkeypatch):
    p, clock, lines = _progress(monkeypatch, label="quiet", enabled=False, every_s=0)
    p.update(5)
    p.close()
    assert lines == []
    p, clock, lines = _progress(monkeypatch, label="lines", every_s=0)
    clock.now += 1.0
    p.update(3)
    assert lines == ["[lines] 3  3.0/s"]  # no total: no ETA


def test_format_eta():
    assert format_eta(3725) == "01:02:05"
    assert format_eta(float("nan")) == "?" and format_eta(float("inf")) == "?"


def test_slow_jobs_show_a_rate_per_hour(monkeypatch):
    p, clock, lines = _progress(monkeypatch, label="table3", total=18, unit="runs", every_s=0.0)
    clock.now += 600.0  # one run in 10 minutes
    p.update(1)
    assert lines == ["[table3] 1/18 runs  6.0/h  ETA 02:50:00"]
