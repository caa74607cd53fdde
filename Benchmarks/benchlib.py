"""Shared by the benchmark scripts: percentiles and the repository root."""
import os
import signal
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pct(values, p):
    """The p-th percentile (linear interpolation) of values."""
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def stop_agents(agents):
    """Continues (if paused) and terminates the agent processes a benchmark started, by PID."""
    for a in agents:
        try:
            os.killpg(a.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        a.send_signal(signal.SIGTERM)
    for a in agents:
        try:
            a.wait(timeout=10)
        except subprocess.TimeoutExpired:
            a.kill()
