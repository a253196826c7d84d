"""A straxen 4.1.1 Context for XAMS run 002240 (../shared/data): straxen's own plugins, no
online resources, every option set explicitly (xams_options.json: the options of the stored
peaks' lineage, so the Context's key of peaks is the stored folder's)."""

import json
from pathlib import Path

import strax
import straxen

PLUGINS = ["DAQReader", "PulseProcessing", "Peaklets", "PeakletClassificationVanilla",
           "MergedS2sVanilla", "PeaksVanilla", "PeakBasicsVanilla"]
OPTIONS = json.loads((Path(__file__).parent / "xams_options.json").read_text())


def make_context() -> strax.Context:
    context = strax.Context(storage=[], config=OPTIONS)
    for name in PLUGINS:
        context.register(getattr(straxen, name))
    return context
