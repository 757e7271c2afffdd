#!/usr/bin/env python3
"""Plots the connect-storm results of scripts/bench-scale.sh (docs/BENCHMARKS.md).

    python3 scripts/plot-scale.py [artifacts/scale/results.txt] [docs/scale.png]

Reads the RESULT lines and draws, for one standalone node, the time until every
user's list is complete, the server CPU per join, and the server CPU per
delivered `joined` event, against the number of users, one line per label
(before/after). A run whose lists never completed is drawn at its last join,
annotated.
"""
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

source = sys.argv[1] if len(sys.argv) > 1 else "artifacts/scale/results.txt"
target = sys.argv[2] if len(sys.argv) > 2 else "docs/scale.png"

series = defaultdict(list)
for line in open(source):
    if not line.startswith("RESULT"):
        continue
    fields = dict(item.split("=", 1) for item in line.split()[1:])
    if fields.get("mode") != "single":
        continue
    users = int(fields["users"])
    joined = max(int(fields["joined"]), 1)
    complete = float(fields["complete_s"])
    seconds = complete if complete > 0 else float(fields["join_s"])
    cpu = float(fields["cpu_s"])
    per_event = cpu * 1e6 / max(int(fields["presence_events"]), 1)
    series[fields["label"]].append((users, seconds, cpu * 1000 / joined, per_event, joined, complete > 0))

figure, (time_axis, cpu_axis, event_axis) = plt.subplots(1, 3, figsize=(14, 4))
for label, points in sorted(series.items()):
    points.sort()
    users = [p[0] for p in points]
    time_axis.plot(users, [p[1] for p in points], marker="o", label=label)
    cpu_axis.plot(users, [p[2] for p in points], marker="o", label=label)
    event_axis.plot(users, [p[3] for p in points], marker="o", label=label)
    for p in points:
        if not p[5]:
            time_axis.annotate(f"{p[4]} of {p[0]} joined,\nlists never complete", (p[0], p[1]), fontsize=7,
                               xytext=(-90, 8), textcoords="offset points")
time_axis.set_title("Connect storm, one node, 500 handshakes in flight")
time_axis.set_xlabel("users")
time_axis.set_ylabel("seconds until every list is complete")
cpu_axis.set_title("Server CPU per join (presence included)")
cpu_axis.set_xlabel("users")
cpu_axis.set_ylabel("ms of CPU per join")
event_axis.set_title("Server CPU per joined event delivered")
event_axis.set_xlabel("users")
event_axis.set_ylabel("µs of CPU per delivery")
event_axis.set_ylim(bottom=0)
for axis in (time_axis, cpu_axis, event_axis):
    axis.grid(True, alpha=0.3)
    axis.legend()
figure.tight_layout()
figure.savefig(target, dpi=110)
print(f"wrote {target}")
