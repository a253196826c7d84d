"""The figures of a superrun's summary pages: which figures a page has, which data type each
reads, and its caption. The drawing is :mod:`superruns.stored.plots` (matplotlib).

One figure per superrun comes from its definition alone (no data), ``exposure``: the livetime
per subrun, with what ``veto:`` and DQ defects removed, beside the cumulative livetime over
calendar time.
The others come from data, chosen by the fields a physicist checks first, as strax and
straxen name them: a figure is on the page of a data type when that data type, or another of
its data kind, holds the figure's fields (``event_info``: S1/S2 area spectra and the drift
time; ``peaks``: area against width, from ``peak_basics``, and a few waveforms;
``raw_records``: waveforms; every data type: its rate over live time). The job drawing a
figure reads exactly the one file this module names for it, which the rule ``superrun_figure``
gives as its input.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base.errors import SuperrunsError

__all__ = ["DATA_FIGURES", "Figure", "FigureError", "SUPERRUN_FIGURES", "caption", "figure_inputs",
           "figure_source", "page_figures", "page_inputs"]


@dataclass(frozen=True)
class Figure:
    """One figure: its name (the file's stem), title, caption, the fields it reads (all from
    one data type of the page's kind), and fields that keep it off a page (``unless``)."""

    name: str
    title: str
    caption: str
    fields: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


LIVE_AXIS = ("the x axis is the superrun's live time, the gaps between subruns removed; dotted lines "
             "mark where each subrun begins")

#: Figures of a superrun from its definition (``summary/{superrun}/{name}.png``): one figure of
#: two panels (Snakemake's report shows a pair of results as a toggle, not side by side).
SUPERRUN_FIGURES = {f.name: f for f in (
    Figure("exposure", "Livetime and exposure",
           "Left: per leaf subrun, in time order, the livetime the superrun holds (blue) and the time "
           "its veto: ranges (orange) and its DQ defects (red) removed, in seconds (many subruns are "
           "shown in groups of consecutive ones). Right: the cumulative livetime over calendar time "
           "(UTC), rising while a held stretch of a run lasts and flat between runs."),
)}

#: Figures of a superrun's data type from its data (``summary/{superrun}/{data_type}/{name}.png``).
DATA_FIGURES = {f.name: f for f in (
    Figure("rate", "Rate over live time",
           f"Rows per second of the data type (events, peaks, records) in bins of live time; {LIVE_AXIS}. "
           "Error bars: Poisson.", ("time",), unless=("n_s1", "n_s2")),
    Figure("area_spectra", "S1 and S2 area spectra",
           "Area of each event's main S1 (left) and main S2 (right) in PE, in logarithmic bins; "
           "events without one are left out.", ("s1_area", "s2_area")),
    Figure("drift_time", "Drift time",
           "Drift time of the events (main S2 minus main S1 centre time) in microseconds; events "
           "without an S1 and an S2 are left out.", ("drift_time",)),
    Figure("area_width", "Peak area against width",
           "Each peak's area (PE) against its width (the time holding the central 50 % of its "
           "area, ns), both logarithmic; colour: number of peaks.", ("area", "range_50p_area")),
    Figure("waveforms", "A few waveforms",
           "Six waveforms among the first rows of the superrun's file (its first frame), from the "
           "largest summed amplitude to the smallest, against time within the row (ns).",
           ("data", "dt", "length")),
    Figure("peak_rates", "S1 and S2 rates",
           f"S1 and S2 rates (Hz) from the counts per bin of peak_rates; {LIVE_AXIS}.", ("n_s1", "n_s2")),
)}


def _fields(registry, data_type: str) -> set[str]:
    names = getattr(registry[data_type].dtype, "names", None)
    return set(names or ())


def figure_source(registry, data_type: str, figure: str) -> str | None:
    """The data type the figure ``figure`` of ``data_type``'s page reads: ``data_type`` itself
    when it holds the figure's fields, else the first of its data kind (registry order) that
    does, else None (the figure is not on that page)."""
    spec = DATA_FIGURES[figure]
    kind = registry[data_type].data_kind
    candidates = [data_type] + [dt for dt in registry if dt != data_type and registry[dt].data_kind == kind]
    fields_of = {dt: _fields(registry, dt) for dt in candidates}
    if spec.unless and any(set(spec.unless) <= fields for fields in fields_of.values()):
        return None
    return next((dt for dt in candidates if set(spec.fields) <= fields_of[dt]), None)


def page_figures(registry, data_type: str) -> list[str]:
    """The data figures on the summary page of ``data_type``, in the catalogue's order."""
    return [name for name in DATA_FIGURES if figure_source(registry, data_type, name) is not None]


# -- what the rules of rules/report.smk name (paths relative to data_dir) ---------------------

def _figure_path(superrun: str, figure: str, data_type: str | None = None) -> str:
    return f"summary/{superrun}/{figure}.png" if data_type is None else f"summary/{superrun}/{data_type}/{figure}.png"


def page_inputs(project, superrun: str, data_type: str) -> dict:
    """The inputs of the page ``summary/{superrun}/{data_type}.html``: the superrun's file of the
    data type (``data``) and the page's figures (``figures``: the superrun's, then the data type's)."""
    return {"data": project.relative_path(superrun, data_type),
            "figures": [_figure_path(superrun, name) for name in SUPERRUN_FIGURES]
            + [_figure_path(superrun, name, data_type) for name in page_figures(project.registry, data_type)]}


class FigureError(SuperrunsError, ValueError):
    """A figure was asked for a page that does not have it."""


def figure_inputs(project, superrun: str, data_type: str, figure: str) -> dict:
    """``{data type: file}``: the one file the figure reads (relative to data_dir)."""
    source = figure_source(project.registry, data_type, figure)
    if source is None:
        raise FigureError(f"summary/{superrun}/{data_type}/{figure}.png: the figure {figure!r} needs the fields "
                          f"{', '.join(DATA_FIGURES[figure].fields)}, which no data type of the kind of "
                          f"{data_type} holds; the page of {data_type} has: "
                          f"{', '.join(page_figures(project.registry, data_type)) or 'no data figures'}")
    return {source: project.relative_path(superrun, source)}


def caption(superrun: str, figure: str, data_type: str | None = None) -> str:
    """The report's caption of a figure (the same text as under it on the summary page)."""
    spec = (SUPERRUN_FIGURES if data_type is None else DATA_FIGURES)[figure]
    where = superrun if data_type is None else f"{superrun}, {data_type}"
    return f"{where}: {spec.title}. {spec.caption}"
