#!/usr/bin/env python3
"""Draws the Grafana dashboard's panels from a Prometheus server, for places
where Grafana itself cannot run (docs/BENCHMARKS.md, "Dashboard").

    python3 scripts/plot-dashboard.py PROMETHEUS_URL START END [OUT.png]

Each panel of deploy/grafana/dashboards/chat-cluster.json becomes one chart:
its PromQL queries are evaluated with /api/v1/query_range over [START, END]
(Unix seconds) and drawn one line per series, labelled like the panel's legend.
"""
import json
import re
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
prometheus, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
output = sys.argv[4] if len(sys.argv) > 4 else "docs/dashboard.png"
dashboard = json.loads((ROOT / "deploy/grafana/dashboards/chat-cluster.json").read_text())
panels = [panel for panel in dashboard["panels"] if panel.get("targets")]


def query(expr):
    parameters = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": 1})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{parameters}", timeout=30) as response:
        return json.load(response)["data"]["result"]


def legend(template, labels):
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda match: labels.get(match.group(1), ""), template or "")
    return text.replace("127.0.0.1:", ":").strip() or "value"


columns = 3
rows = (len(panels) + columns - 1) // columns
figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.2 * rows), squeeze=False)
for axis, panel in zip(axes.flat, panels):
    for target in panel["targets"]:
        for series in query(target["expr"]):
            times = [float(t) - start for t, _ in series["values"]]
            values = [float(v) for _, v in series["values"]]
            axis.plot(times, values, label=legend(target.get("legendFormat"), series["metric"]), linewidth=1.2)
    axis.set_title(panel["title"], fontsize=10)
    axis.set_xlabel("seconds", fontsize=8)
    axis.tick_params(labelsize=8)
    axis.grid(alpha=0.3)
    if axis.lines:
        axis.legend(fontsize=7, loc="upper left")
for axis in list(axes.flat)[len(panels):]:
    axis.axis("off")
figure.suptitle("chat-cluster dashboard, drawn from Prometheus during scripts/dashboard-run.sh", fontsize=12)
figure.tight_layout()
figure.savefig(output, dpi=80)
print(f"wrote {output}")
