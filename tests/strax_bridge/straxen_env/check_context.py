"""Run in the straxen environment: load a superrun from a straxen Context and with superruns.load.

    python check_context.py CONFIG SUPERRUN DATA_TYPE OUT_DIR

Writes OUT_DIR/{strax,ours}.npy (get_array, superruns.load), OUT_DIR/df_{strax,ours}.pkl
(get_df, and our rows as a DataFrame the same way) and OUT_DIR/facts.json.
"""

import json
import sys
from pathlib import Path

import numpy as np
import strax
import straxen
import xams_context

import superruns
from superruns.straxio import serve_superruns

config, superrun, data_type, out = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
facts = {"straxen": straxen.__version__, "snakemake_importable": True}
try:
    import snakemake  # noqa: F401
except ImportError:
    facts["snakemake_importable"] = False

context = xams_context.make_context()
try:
    context.get_array(superrun, data_type, progress_bar=False)
    facts["unprepared"] = "loaded"
except ValueError as error:
    facts["unprepared"] = str(error)

context = xams_context.make_context()
frontend = serve_superruns(context, config)
project = frontend.project
facts["key"] = str(context.key_for(superrun, data_type))
facts["file_lineage_hash"] = project.lineage_hash(superrun, data_type)
facts["is_stored"] = context.is_stored(superrun, data_type)
ours = superruns.load(superrun, data_type, project=project)
np.save(out / "strax.npy", context.get_array(superrun, data_type, progress_bar=False))
np.save(out / "ours.npy", ours)
context.get_df(superrun, data_type, progress_bar=False).to_pickle(out / "df_strax.pkl")
strax.convert_structured_array_to_df(ours).to_pickle(out / "df_ours.pkl")
facts["run_key"] = str(context.key_for(next(iter(project.runs)), data_type))
(out / "facts.json").write_text(json.dumps(facts))
