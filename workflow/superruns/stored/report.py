"""Per-superrun summaries for ``snakemake --report``: subruns on a time line, livetime, sizes.

:func:`summary` reads only a file's metadata (never its rows), so a summary costs the same
for a 1 kB and a 1 TB superrun. :func:`render_html` turns it into one self-contained HTML
page (inline SVG, no scripts, no external resources) that Snakemake's report embeds; the rule
``superrun_summary`` in ``rules/report.smk`` writes it to ``summary/{superrun}/{data_type}.html``
under the data directory.
"""

from __future__ import annotations

import html
import os

from ..base.atomic import write_atomic
from ..base.intervals import merge_spans
from ..base.times import format_ns
from ..storage import DataFile, content_hash

__all__ = ["summary", "render_html", "write_summary"]


def _iso(ns) -> str:
    return format_ns(ns, sep=" ", zone=" UTC")


def _size(n) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return str(n)


def _subruns(data: DataFile) -> dict[str, dict]:
    """``{leaf: {"start", "end", "ranges", "livetime_s"}}`` from the chunks' subrun records."""
    spans: dict[str, list] = {}
    for chunk in data.chunks:
        for leaf, span in (chunk.subruns or {}).items():
            spans.setdefault(leaf, []).append(span)
    subruns = {}
    for leaf, parts in spans.items():
        ranges = merge_spans(r for span in parts for r in span.get("ranges") or [[span["start"], span["end"]]])
        subruns[leaf] = {"start": min(span["start"] for span in parts), "end": max(span["end"] for span in parts),
                         "ranges": ranges, "livetime_s": sum(e - s for s, e in ranges) / 1e9}
        summarised = [span for span in parts if "n_ranges" in span]   # chunks of many ranges
        if summarised:
            listed = merge_spans(r for span in parts if "n_ranges" not in span
                                 for r in span.get("ranges") or [[span["start"], span["end"]]])
            subruns[leaf].update(
                n_ranges=len(listed) + sum(span["n_ranges"] for span in summarised),
                livetime_s=(sum(e - s for s, e in listed) + sum(span["livetime_ns"] for span in summarised)) / 1e9)
    return subruns


def summary(path) -> dict:
    """What a superrun (or run) file holds, from its metadata."""
    data = DataFile(path)
    md = data.metadata
    subruns = _subruns(data)
    run_md = md.get("run_metadata") or {}
    provenance = md.get("provenance") or {}
    csize = sum(c.csize for c in data.chunks)
    return {
        "path": str(path), "run_id": md.get("run_id"), "data_type": md.get("data_type"),
        "data_kind": md.get("data_kind"), "lineage_hash": md.get("lineage_hash"),
        "start": md.get("start"), "end": md.get("end"),
        "livetime_s": run_md.get("livetime"), "selection": md.get("selection"),
        "description": run_md.get("description"), "sub_run_spec": md.get("sub_run_spec"),
        "exposure": run_md.get("exposure"),
        "subruns": subruns, "rows": data.n_rows, "nbytes": data.nbytes, "csize": csize,
        "file_size": os.path.getsize(path), "content_hash": content_hash(data),
        "chunks": [{"chunk_i": c.chunk_i, "start": c.start, "end": c.end, "n": c.n,
                    "nbytes": c.nbytes, "csize": c.csize, "subruns": list(c.subruns or {})}
                   for c in data.chunks],
        "provenance": {k: provenance.get(k) for k in ("config_hash", "code", "host", "time")},
        "inputs": provenance.get("inputs") or md.get("input_lineage_hashes") or {},
    }


_CSS = """
body{font-family:sans-serif;font-size:13px;margin:12px;color:#222}
h1{font-size:17px;margin:0 0 6px} h2{font-size:14px;margin:16px 0 4px}
table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f2f2f2} td.l,th.l{text-align:left} .muted{color:#777}
"""
_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d")


def _timeline(s: dict, width: int = 900) -> str:
    """Subruns as bars on one time axis (one line per leaf run), chunk boundaries below."""
    subruns = s["subruns"]
    if not subruns or s["start"] is None:
        return "<p class='muted'>no subruns recorded</p>"
    t0, t1 = s["start"], max(s["end"], s["start"] + 1)
    left, right, line = 110, 20, 16
    span = width - left - right

    def x(t: int) -> float:
        return left + span * (t - t0) / (t1 - t0)

    parts, y = [], 8
    per_subrun = (s.get("exposure") or {}).get("per_subrun") or {}
    for n, (leaf, entry) in enumerate(subruns.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        vetoed = (per_subrun.get(leaf) or {}).get("vetoed")
        label = f"{leaf}" + (f" ({vetoed:.0f} s vetoed)" if vetoed else "")
        parts.append(f"<text x='{left - 6}' y='{y + 11}' text-anchor='end' font-size='11'>"
                     f"<title>{html.escape(label)}</title>{html.escape(leaf)}</text>")
        for a, b in entry["ranges"]:
            title = html.escape(f"{leaf}: {_iso(a)} - {_iso(b)} ({(b - a) / 1e9:.3f} s)")
            parts.append(f"<rect x='{x(a):.1f}' y='{y}' width='{max(x(b) - x(a), 1.0):.1f}' "
                         f"height='{line - 4}' fill='{colour}'><title>{title}</title></rect>")
        y += line
    y += 4
    parts.append(f"<text x='{left - 6}' y='{y + 10}' text-anchor='end' font-size='11'>chunks</text>")
    for c in s["chunks"]:
        parts.append(f"<line x1='{x(c['start']):.1f}' x2='{x(c['start']):.1f}' y1='{y}' y2='{y + 12}' "
                     "stroke='#555'/>")
    parts.append(f"<line x1='{x(t1):.1f}' x2='{x(t1):.1f}' y1='{y}' y2='{y + 12}' stroke='#555'/>")
    y += 16
    parts.append(f"<text x='{left}' y='{y + 10}' font-size='10'>{html.escape(_iso(t0))}</text>")
    parts.append(f"<text x='{width - right}' y='{y + 10}' text-anchor='end' font-size='10'>"
                 f"{html.escape(_iso(t1))}</text>")
    height = y + 16
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}'>" + "".join(parts) + "</svg>")


def _table(rows: list[list], header: list[str], left: int = 1) -> str:
    head = "".join(f"<th class='{'l' if i < left else ''}'>{html.escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td class='{'l' if i < left else ''}'>{html.escape(str(v))}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _exposure_text(exposure) -> str:
    """Livetime of the span, and what vetoes (veto:, DQ defects) removed."""
    if not exposure:
        return "-"
    span = exposure["span"]
    share = f" ({100 * exposure['livetime'] / span:.1f} % of the span)" if span else ""
    return (f"livetime {exposure['livetime']:.3f} s of a {span:.3f} s span{share}; "
            f"vetoed {exposure['vetoed']:.3f} s")


def render_html(s: dict) -> str:
    ratio = f"{s['nbytes'] / s['csize']:.2f}x" if s["csize"] else "-"
    facts = [
        ["data type", f"{s['data_type']} ({s['data_kind']})"],
        ["span", f"{_iso(s['start'])} - {_iso(s['end'])}"],
        ["livetime", f"{s['livetime_s']:.3f} s" if s["livetime_s"] is not None else "-"],
        ["exposure", _exposure_text(s.get("exposure"))],
        ["subruns", len(s["subruns"])],
        ["rows", s["rows"]],
        ["size", f"{_size(s['file_size'])} on disk, {_size(s['nbytes'])} uncompressed ({ratio})"],
        ["chunks", len(s["chunks"])],
        ["selection", s["selection"] or "-"],
        ["lineage hash", s["lineage_hash"]],
        ["content hash", s["content_hash"]],
    ]
    provenance = s["provenance"]
    code = provenance.get("code") or {}
    if provenance.get("config_hash"):
        facts += [["config hash", provenance["config_hash"]],
                  ["code", f"superruns {code.get('superruns')}, git {str(code.get('git_commit'))[:12]}"
                           f"{' (modified)' if code.get('git_dirty') else ''}"],
                  ["built", f"{provenance.get('time')} on {provenance.get('host')}"]]
    per_subrun = (s.get("exposure") or {}).get("per_subrun") or {}
    subruns = [[leaf, _iso(e["start"]), _iso(e["end"]), f"{e['livetime_s']:.3f}",
                f"{(per_subrun.get(leaf) or {}).get('vetoed', 0.0):.3f}", e.get("n_ranges", len(e["ranges"]))]
               for leaf, e in s["subruns"].items()]
    chunks = [[c["chunk_i"], _iso(c["start"]), _iso(c["end"]), c["n"], _size(c["nbytes"]),
               _size(c["csize"]), ",".join(c["subruns"])] for c in s["chunks"]]
    inputs = [[name, *(v.values() if isinstance(v, dict) else [v])] for name, v in s["inputs"].items()]
    title = f"{s['run_id']} / {s['data_type']}"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        + (f"<p>{html.escape(s['description'])}</p>" if s.get("description") else "")
        + _table(facts, ["", ""])
        + "<h2>Subruns on a time line</h2>" + _timeline(s)
        + "<h2>Subruns</h2>" + _table(subruns, ["run", "start", "end", "livetime [s]", "vetoed [s]",
                                                     "ranges"])
        + "<h2>Chunks</h2>" + _table(chunks, ["chunk", "start", "end", "rows", "bytes", "compressed",
                                              "subruns"], left=1)
        + ("<h2>Inputs</h2>" + _table(inputs, ["file", "content hash", "lineage hash", "rows"])
           if inputs and all(len(r) == 4 for r in inputs) else "")
        + "</body></html>\n")


def write_summary(data_path, output) -> None:
    """Write the HTML summary of the file at ``data_path`` to ``output`` (atomically)."""
    write_atomic(output, render_html(summary(data_path)).encode("utf-8"))
