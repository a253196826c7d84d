"""``raw_records``: simulated PMT pulses of a small liquid-xenon TPC.

Interactions (flat-spectrum background, plus 41.5 keV Kr83m in Kr83m runs) happen uniformly
in a cylinder. Each one gives an S1 (prompt scintillation, exponential decay) and, one drift
time later, an S2 (electroluminescence, Gaussian widened by diffusion), split over the 8 PMTs
by a simple light pattern; single-PE dark counts come on top. Every pulse is stored as strax
stores it: one or more 110-sample records (``record_i``), zero-padded, baseline-subtracted.

Chunks are ``chunk_duration_s`` long; interactions keep a quiet margin of ``chunk_margin_us``
at both edges of a chunk, so no interaction, peak or event window crosses a chunk boundary.
Each chunk has its own random stream, seeded by the run, the options and the chunk index.
"""

from __future__ import annotations

import json
import zlib

import numpy as np

from ..model.plugins import ChunkSpan, Option, SourcePlugin
from .common import (
    DRIFT_VELOCITY,
    DT,
    LENGTH,
    N_CHANNELS,
    N_TOP_CHANNELS,
    PMT_GAINS_PER_RUN,
    RECORD_SAMPLES,
    SAMPLE_DT,
    TIME,
    TOP_PMT_POSITIONS,
    DetectorPlugin,
    run_number,
)

BASELINE = 16000

RAW_RECORDS_DTYPE = np.dtype([
    TIME, LENGTH, DT,
    (("Channel/PMT number", "channel"), "<i2"),
    (("Length of pulse to which the record belongs (without zero-padding)", "pulse_length"), "<i4"),
    (("Fragment number in the pulse", "record_i"), "<i2"),
    (("Baseline determined by the digitizer", "baseline"), "<i2"),
    (("Waveform data in ADC counts above baseline", "data"), "<i2", (RECORD_SAMPLES,)),
])

# The simulated truth of each interaction (not a data type; for tests and studies).
TRUTH_DTYPE = np.dtype([
    ("time", "<i8"), ("s2_center_time", "<i8"), ("drift_time", "<i8"),
    ("energy", "<f4"), ("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
    ("s1_pe", "<i4"), ("s2_pe", "<i4"), ("kr83m", "?"),
])

EXPONENTIAL, GAUSSIAN = 0, 1

# The knobs of the simulation: the chunking, the physics of an interaction, the PMTs.
SIMULATION_OPTIONS = (
    Option("chunk_duration_s", 60, help="Duration of a raw_records chunk [s]", kind=(int, float), exclusive_minimum=0),
    Option("chunk_margin_us", 1000, help="No interactions this close to a chunk edge [us]", kind=(int, float), minimum=0),
    Option("sim_seed", 0, help="Mixed into every chunk's random seed (with run id and options)"),
    Option("sim_interaction_rate_hz", 10.0, help="Background interaction rate [Hz]", minimum=0),
    Option("sim_kr83m_rate_hz", 10.0,
           help="Extra rate of 41.5 keV Kr83m interactions when mode or source says kr83m [Hz]", minimum=0),
    Option("sim_energy_range_kev", [1.0, 50.0], help="Flat background energy spectrum [keV]", minimum=0),
    Option("sim_kr83m_energy_kev", 41.5, help="Kr83m deposit (both transitions) [keV]", minimum=0),
    Option("sim_tpc_radius_cm", 20.0, help="TPC radius [cm]", exclusive_minimum=0),
    Option("sim_tpc_length_cm", 30.0, help="Gate to cathode [cm]", exclusive_minimum=0),
    Option("sim_drift_velocity", DRIFT_VELOCITY, help="True electron drift velocity [cm/us]", exclusive_minimum=0),
    Option("sim_diffusion_cm2_per_s", 20.0, help="Longitudinal diffusion constant [cm^2/s]", minimum=0),
    Option("sim_w_value_ev", 13.7, help="Energy per quantum [eV]", exclusive_minimum=0),
    Option("sim_photon_fraction", 0.5, help="Fraction of quanta that are photons", minimum=0, maximum=1),
    Option("sim_g1", 0.12, help="Detected PE per S1 photon", minimum=0),
    Option("sim_g2", 9.0, help="Detected S2 PE per ionisation electron (with extraction)", minimum=0),
    Option("sim_s1_tau_ns", 25.0, help="S1 scintillation decay time [ns]", exclusive_minimum=0),
    Option("sim_s2_sigma0_ns", 200.0, help="S2 width (sigma) without diffusion [ns]", minimum=0),
    Option("sim_s1_aft_gate_cathode", [0.35, 0.1],
           help="S1 area fraction top for interactions at the gate and at the cathode", minimum=0, maximum=1),
    Option("sim_s2_aft", 0.7, help="S2 area fraction top", minimum=0, maximum=1),
    Option("sim_top_pmt_positions", TOP_PMT_POSITIONS, help="(x, y) of PMTs 0-3 [cm]"),
    Option("sim_lce_height_cm", 5.0, help="Height of the S2 light source above the top PMTs [cm]", exclusive_minimum=0),
    Option("sim_pmt_gains", default_per_run=PMT_GAINS_PER_RUN,
           help="True PMT gains [ADC counts (summed over samples) per PE]", exclusive_minimum=0),
    Option("sim_spe_tau_ns", 8.0, help="Width (decay time) of a single-PE pulse [ns]", exclusive_minimum=0),
    Option("sim_dark_rate_hz", 10.0, help="Single-PE dark count rate per PMT [Hz]", minimum=0),
    Option("sim_noise_adc", 2.0, help="Electronic noise per sample [ADC counts]", minimum=0),
    Option("sim_saturation_adc", 16000, help="Digitizer saturation above baseline [ADC counts]", exclusive_minimum=0),
)


def is_kr83m(run) -> bool:
    return "kr83m" in f"{getattr(run, 'mode', '')} {getattr(run, 'source', '')}".lower()


def chunk_bounds(start: int, end: int, chunk_duration_s: float) -> list[tuple[int, int]]:
    """Consecutive ``[start, end)`` chunks of fixed duration covering the run exactly."""
    step = int(round(chunk_duration_s * 1e9))
    if step <= 0:
        raise ValueError(f"chunk_duration_s must be positive, got {chunk_duration_s}")
    return [(s, min(s + step, end)) for s in range(int(start), int(end), step)]


def chunk_rng(run, chunk_index: int, config: dict) -> np.random.Generator:
    options_crc = zlib.crc32(json.dumps(config, sort_keys=True).encode())
    seq = np.random.SeedSequence([run_number(run.run_id), options_crc], spawn_key=(chunk_index,))
    return np.random.default_rng(seq)


def simulate_chunk(run, chunk_index: int, start: int, end: int, config: dict):
    """``(raw_records, truth)`` of one chunk ``[start, end)`` of ``run``."""
    c = config
    rng = chunk_rng(run, chunk_index, c)
    margin = int(c["chunk_margin_us"] * 1000)
    truth = _interactions(rng, start + margin, end - margin, is_kr83m(run), c)
    gains = np.asarray(c["sim_pmt_gains"], dtype=np.float64)
    # Pulse times are kept relative to the chunk start (float64 cannot hold epoch ns).
    pulses = _concat([_s1_pulses(rng, truth, start, c), _s2_pulses(rng, truth, start, c),
                      _dark_pulses(rng, start, end, c)])
    pulses["amplitude"] *= gains[pulses["channel"]]
    # Drop what would cross the chunk (only possible with unusual options).
    inside = (pulses["start"] >= start) & (pulses["start"] + pulses["n"] * SAMPLE_DT <= end)
    return _records(rng, pulses[inside], c), truth


def _interactions(rng, lo: int, hi: int, kr83m: bool, c: dict) -> np.ndarray:
    rate = c["sim_interaction_rate_hz"] + (c["sim_kr83m_rate_hz"] if kr83m else 0.0)
    n = int(rng.poisson(rate * (hi - lo) / 1e9)) if hi > lo else 0
    truth = np.zeros(n, dtype=TRUTH_DTYPE)
    if n == 0:
        return truth
    truth["time"] = np.sort(rng.integers(lo, hi, n))
    truth["kr83m"] = kr83m & (rng.random(n) * rate < c["sim_kr83m_rate_hz"])
    e_lo, e_hi = c["sim_energy_range_kev"]
    truth["energy"] = np.where(truth["kr83m"], c["sim_kr83m_energy_kev"], rng.uniform(e_lo, e_hi, n))
    r = c["sim_tpc_radius_cm"] * np.sqrt(rng.random(n))
    phi = rng.uniform(0, 2 * np.pi, n)
    truth["x"], truth["y"] = r * np.cos(phi), r * np.sin(phi)
    truth["z"] = -c["sim_tpc_length_cm"] * rng.random(n)
    truth["drift_time"] = np.rint(-truth["z"].astype(np.float64) / c["sim_drift_velocity"] * 1000)
    truth["s2_center_time"] = truth["time"] + truth["drift_time"]
    n_quanta = rng.poisson(truth["energy"] * 1000 / c["sim_w_value_ev"])
    n_photons = rng.binomial(n_quanta, c["sim_photon_fraction"])
    truth["s1_pe"] = rng.binomial(n_photons, c["sim_g1"])
    truth["s2_pe"] = rng.poisson((n_quanta - n_photons) * c["sim_g2"])
    return truth


def _pulses(channel, n_pe, kind, t_ref, t, width) -> np.ndarray:
    """Pulses in a common form: ``start`` (``t_ref`` + a multiple of the sample width),
    ``n`` samples, shape (kind, loc, width); ``t`` [ns] is relative to ``t_ref``."""
    t = np.asarray(t, dtype=np.float64)
    half = 6 * width if kind == EXPONENTIAL else 2.5 * width
    first = t if kind == EXPONENTIAL else t - half
    start = np.floor(first / SAMPLE_DT).astype(np.int64) * SAMPLE_DT
    loc = t - start                      # emission time (exp) or mean (Gaussian), from start
    p = np.zeros(len(t), dtype=[("start", "<i8"), ("n", "<i8"), ("channel", "<i2"), ("kind", "i1"),
                                ("loc", "<f8"), ("width", "<f8"), ("amplitude", "<f8")])
    p["start"], p["loc"], p["width"], p["kind"] = t_ref + start, loc, width, kind
    p["n"] = np.ceil((loc + half) / SAMPLE_DT)
    p["channel"], p["amplitude"] = channel, n_pe
    return p


def _per_channel(rng, n_pe, pvals):
    """Split each interaction's PE over the channels; pulses where a channel sees any."""
    per_channel = rng.multinomial(n_pe, pvals) if len(n_pe) else np.zeros((0, N_CHANNELS), int)
    interaction, channel = np.nonzero(per_channel)
    return interaction, channel, per_channel[interaction, channel]


def _s1_pulses(rng, truth, t_ref, c):
    depth = -truth["z"] / c["sim_tpc_length_cm"]          # 0 at the gate, 1 at the cathode
    aft_gate, aft_cathode = c["sim_s1_aft_gate_cathode"]
    aft = aft_gate + (aft_cathode - aft_gate) * depth
    pvals = np.repeat(np.stack([aft, 1 - aft], axis=1) / N_TOP_CHANNELS, N_TOP_CHANNELS, axis=1)
    i, ch, n_pe = _per_channel(rng, truth["s1_pe"], pvals)
    return _pulses(ch, n_pe, EXPONENTIAL, t_ref, truth["time"][i] - t_ref, c["sim_s1_tau_ns"])


def _s2_pulses(rng, truth, t_ref, c):
    xy = np.asarray(c["sim_top_pmt_positions"], dtype=np.float64)
    d2 = ((truth["x"][:, None] - xy[:, 0]) ** 2 + (truth["y"][:, None] - xy[:, 1]) ** 2
          + c["sim_lce_height_cm"] ** 2)
    pattern = d2 ** -1.5
    pattern /= pattern.sum(axis=1, keepdims=True)
    aft = c["sim_s2_aft"]
    n_bottom = N_CHANNELS - N_TOP_CHANNELS
    pvals = np.concatenate([aft * pattern, np.full((len(truth), n_bottom), (1 - aft) / n_bottom)], axis=1)
    i, ch, n_pe = _per_channel(rng, truth["s2_pe"], pvals)
    # Longitudinal diffusion: sigma_t^2 = sigma_0^2 + 2 D t_drift / v^2  (D in cm^2/us here)
    diffusion = 2 * c["sim_diffusion_cm2_per_s"] * 1e-6 / c["sim_drift_velocity"] ** 2  # us
    sigma = np.sqrt(c["sim_s2_sigma0_ns"] ** 2 + diffusion * 1e3 * truth["drift_time"][i])
    return _pulses(ch, n_pe, GAUSSIAN, t_ref, truth["s2_center_time"][i] - t_ref, sigma)


def _dark_pulses(rng, start, end, c):
    tau = c["sim_spe_tau_ns"]
    duration = end - start - int(6 * tau + 2 * SAMPLE_DT)
    n = int(rng.poisson(c["sim_dark_rate_hz"] * N_CHANNELS * max(duration, 0) / 1e9))
    t = np.sort(rng.integers(0, duration, n)) if n else np.zeros(0, np.int64)
    return _pulses(rng.integers(0, N_CHANNELS, n), 1, EXPONENTIAL, start, t, tau)


def _concat(parts):
    p = np.concatenate(parts)
    return p[np.argsort(p["start"], kind="stable")]


def _records(rng, pulses, c) -> np.ndarray:
    """Sample the pulses (shape x amplitude + noise) and cut them into records."""
    n = pulses["n"]
    total = int(n.sum())
    pid = np.repeat(np.arange(len(pulses)), n)
    k = np.arange(total) - np.repeat(np.cumsum(n) - n, n)      # sample index within its pulse
    t0 = k * float(SAMPLE_DT) - pulses["loc"][pid]           # sample start - emission/mean
    width = pulses["width"][pid]
    shape = np.empty(total)
    exp = pulses["kind"][pid] == EXPONENTIAL
    shape[exp] = (np.exp(-np.clip(t0[exp], 0, None) / width[exp])
                  - np.exp(-np.clip(t0[exp] + SAMPLE_DT, 0, None) / width[exp]))
    mid = t0[~exp] + SAMPLE_DT / 2
    shape[~exp] = np.exp(-0.5 * (mid / width[~exp]) ** 2)
    norm = np.bincount(pid, shape, minlength=len(pulses))
    adc = shape * (pulses["amplitude"] / np.where(norm > 0, norm, 1))[pid]
    adc += rng.normal(0, c["sim_noise_adc"], total)
    adc = np.clip(np.rint(adc), -BASELINE, c["sim_saturation_adc"]).astype(np.int16)

    n_rec = -(-n // RECORD_SAMPLES)
    first_rec = np.cumsum(n_rec) - n_rec
    rp = np.repeat(np.arange(len(pulses)), n_rec)
    record_i = np.arange(int(n_rec.sum())) - first_rec[rp]
    rec = np.zeros(len(rp), dtype=RAW_RECORDS_DTYPE)
    rec["time"] = pulses["start"][rp] + record_i * (RECORD_SAMPLES * SAMPLE_DT)
    rec["length"] = np.minimum(RECORD_SAMPLES, n[rp] - record_i * RECORD_SAMPLES)
    rec["dt"] = SAMPLE_DT
    rec["channel"] = pulses["channel"][rp]
    rec["pulse_length"] = n[rp]
    rec["record_i"] = record_i
    rec["baseline"] = BASELINE
    rec["data"][first_rec[pid] + k // RECORD_SAMPLES, k % RECORD_SAMPLES] = adc
    return rec[np.lexsort((rec["channel"], rec["time"]))]


class RawRecords(SourcePlugin, DetectorPlugin):
    """Simulated PMT pulses of a small liquid-xenon TPC (8 PMTs, 20 cm x 30 cm)."""

    provides = "raw_records"
    dtype = RAW_RECORDS_DTYPE
    options = SIMULATION_OPTIONS

    def generate(self, run, config):
        for i, (start, end) in enumerate(chunk_bounds(run.start, run.end, config["chunk_duration_s"])):
            records, _ = simulate_chunk(run, i, start, end, config)
            yield ChunkSpan(str(run.run_id), start, end), records
