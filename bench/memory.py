"""Memory figures shared by the benchmarks (Linux)."""

import resource


def peak_rss_mb(children=False):
    """Peak resident memory of this process (or of the largest finished child process, if larger) in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if children:
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return peak / 1024  # Linux reports KiB


def rss_now_mb():
    """{"rss", "anon", "file"} in MiB from /proc/self/status (file = mapped file pages such as the cache)."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file"}
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            name = line.split(":", 1)[0]
            if name in fields:
                found[fields[name]] = int(line.split()[1]) / 1024
    return found
