"""The shipped demo data source: a small simulated liquid-xenon TPC.

=================  ============  ==========================================================
data type          kind          module
=================  ============  ==========================================================
raw_records        raw_records   :mod:`.simulation` (source; PMT pulses, 60 s chunks)
peaks              peaks         :mod:`.peaks` (records clustered, summed in PE)
peak_basics        peaks         :mod:`.peaks` (area, widths, top fraction, S1/S2 type)
events             events        :mod:`.events` (a window around each large S2)
event_basics       events        :mod:`.events` (main S1 and S2, drift time)
event_positions    events        :mod:`.events` (x, y, z)
event_info         events        :mod:`.events` (event_basics + event_positions)
accidental_events  (own)         :mod:`.accidentals` (superrun-level, exhaust: isolated S1/S2 pairs)
peak_rates         (own)         :mod:`.accidentals` (superrun-level, streaming: S1/S2 rates in bins)
=================  ============  ==========================================================

Per-run default options: ``sim_pmt_gains`` (raw_records) and ``pmt_gains`` (peaks).
"""

from .accidentals import AccidentalEvents, PeakRates
from .events import EventBasics, EventInfo, EventPositions, Events
from .peaks import PeakBasics, Peaks
from .simulation import RawRecords

PLUGINS = [RawRecords, Peaks, PeakBasics, Events, EventBasics, EventPositions, EventInfo,
           AccidentalEvents, PeakRates]

__all__ = ["PLUGINS", "RawRecords", "Peaks", "PeakBasics", "Events", "EventBasics",
           "EventPositions", "EventInfo", "AccidentalEvents", "PeakRates"]
