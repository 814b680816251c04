"""What the benchmark scripts share: the harness of the player
integration tests (tests/integration/player/mcharness.py) set up for a
build directory, a stand-in for a unittest.TestCase, /proc readings and
median/spread summaries.  Not a test: nothing here asserts a figure."""

import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def harness(build, prefix="minecast-bench-"):
    """The mcharness module, with its environment pointing at build."""
    os.environ["MC_BUILD_DIR"] = os.path.abspath(build)
    os.environ["MC_SOURCE_DIR"] = SRC
    os.environ.setdefault("MC_SCRATCH_DIR", tempfile.mkdtemp(prefix=prefix))
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    from player import mcharness
    return mcharness


class Bench:
    """Stands in for a unittest.TestCase: the harness only needs id()."""

    def __init__(self, name):
        self.name = name

    def id(self):
        return "bench." + self.name


def proc_stat(pid):
    """(rss_kb, cpu_ticks) of pid from /proc: VmRSS and utime + stime."""
    rss = 0
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return rss, int(fields[11]) + int(fields[12])


def summary(values):
    """Median, min and max of repeated runs, with the runs."""
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "runs": values}
