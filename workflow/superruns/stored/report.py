"""Per-superrun summary pages for ``snakemake --report``: figures first, then the facts.

:func:`summary` reads only a file's metadata (never its rows), so the facts cost the same for
a 1 kB and a 1 TB superrun. :func:`render_html` turns them and the page's figures (PNG files
drawn by :mod:`superruns.stored.plots`, embedded as data URIs) into one self-contained HTML page
(no scripts, no external resources) that Snakemake's report embeds; the rule
``superrun_summary`` in ``rules/report.smk`` writes it to ``summary/{superrun}/{data_type}.html``
under the data directory. Hashes and the chunk table are folded away (``<details>``): a reader
looks at the figures and the livetime first.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from ..base.atomic import write_atomic
from ..base.intervals import merge_spans
from ..base.times import format_duration, format_ns
from ..base.units import format_size as _size
from ..storage import DataFile, content_hash
from .figures import DATA_FIGURES, SUPERRUN_FIGURES

__all__ = ["summary", "render_html", "write_summary"]


def _iso(ns) -> str:
    return format_ns(ns, sep=" ", zone=" UTC")


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
figure{margin:10px 0 18px} figure img{max-width:100%;border:1px solid #ddd}
figcaption{max-width:900px;color:#444;margin-top:3px} summary{cursor:pointer;font-weight:bold;margin:12px 0 4px}
"""
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
    return (f"livetime {format_duration(exposure['livetime'])} of a {format_duration(span)} span{share}; "
            f"vetoed {format_duration(exposure['vetoed'])}, of which DQ {format_duration(exposure.get('dq_cut', 0.0))}")


def _facts(s: dict) -> tuple[list, list]:
    """``(facts a reader wants first, hashes and provenance)`` as table rows."""
    ratio = f"{s['nbytes'] / s['csize']:.2f}x" if s["csize"] else "-"
    facts = [
        ["data type", f"{s['data_type']} ({s['data_kind']})"],
        ["span", f"{_iso(s['start'])} - {_iso(s['end'])}"],
        ["livetime", format_duration(s["livetime_s"])],
        ["exposure", _exposure_text(s.get("exposure"))],
        ["subruns", len(s["subruns"])],
        ["rows", s["rows"]],
        ["size", f"{_size(s['file_size'])} on disk, {_size(s['nbytes'])} uncompressed ({ratio})"],
        ["selection", s["selection"] or "-"],
    ]
    hashes = [["lineage hash", s["lineage_hash"]], ["content hash", s["content_hash"]]]
    provenance = s["provenance"]
    code = provenance.get("code") or {}
    if provenance.get("config_hash"):
        hashes += [["config hash", provenance["config_hash"]],
                   ["code", f"superruns {code.get('superruns')}, git {str(code.get('git_commit'))[:12]}"
                            f"{' (modified)' if code.get('git_dirty') else ''}"],
                   ["built", f"{provenance.get('time')} on {provenance.get('host')}"]]
    return facts, hashes


def _figure_html(path) -> str:
    """One figure (a PNG named after its catalogue entry) as an embedded image with its caption."""
    path = Path(path)
    spec = DATA_FIGURES.get(path.stem) or SUPERRUN_FIGURES.get(path.stem)
    title, caption = (spec.title, spec.caption) if spec else (path.stem, "")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure id='{html.escape(path.stem)}'><img alt='{html.escape(title)}' "
            f"src='data:image/png;base64,{data}'><figcaption><b>{html.escape(title)}.</b> "
            f"{html.escape(caption)}</figcaption></figure>")


def render_html(s: dict, figures=()) -> str:
    """The page: title, the figures (PNG files), the facts, the subruns; hashes, chunks and
    inputs folded."""
    facts, hashes = _facts(s)
    per_subrun = (s.get("exposure") or {}).get("per_subrun") or {}
    subruns = [[leaf, _iso(e["start"]), _iso(e["end"]), f"{e['livetime_s']:.3f}",
                f"{(per_subrun.get(leaf) or {}).get('vetoed', 0.0):.3f}",
                f"{(per_subrun.get(leaf) or {}).get('dq_cut', 0.0):.3f}", e.get("n_ranges", len(e["ranges"]))]
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
        + _table(facts, ["", ""], left=2)
        + "".join(_figure_html(path) for path in figures)
        + "<h2>Subruns</h2>" + _table(subruns, ["run", "start", "end", "livetime [s]", "vetoed [s]",
                                                 "of which DQ [s]", "ranges"])
        + f"<details><summary>Hashes and provenance</summary>{_table(hashes, ['', ''], left=2)}</details>"
        + f"<details><summary>Chunks ({len(chunks)})</summary>"
        + _table(chunks, ["chunk", "start", "end", "rows", "bytes", "compressed", "subruns"], left=1) + "</details>"
        + (f"<details><summary>Inputs ({len(inputs)})</summary>"
           + _table(inputs, ["file", "content hash", "lineage hash", "rows"]) + "</details>"
           if inputs and all(len(r) == 4 for r in inputs) else "")
        + "</body></html>\n")


def write_summary(data_path, output, figures=()) -> None:
    """Write the HTML summary of the file at ``data_path``, with the PNG ``figures`` embedded,
    to ``output`` (atomically)."""
    write_atomic(output, render_html(summary(data_path), figures).encode("utf-8"))
