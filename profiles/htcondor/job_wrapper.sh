#!/usr/bin/env bash
# HTCondor job wrapper: set up the environment on the execute point, then run the Snakemake job.
#
# profiles/htcondor/config.yaml makes this file the executable of every job; its arguments are
# the job's Snakemake command line, as Snakemake builds it, with or without the interpreter:
#   /path/to/env/bin/python -m snakemake --snakefile ... --target-jobs ... --mode remote
#   --snakefile ... --target-jobs ... --mode remote           (the part after `-m snakemake`)
# HTCondor starts jobs with an almost empty environment (no PATH to the venv, no conda), in the
# directory Snakemake submitted from (its working directory). This wrapper:
#   1. sources $SUPERRUNS_JOB_SETUP if set (a site's `module load ...`, proxies, scratch dirs);
#   2. activates the Python environment: the one of the interpreter in the arguments (a shared
#      filesystem puts it at the same path here), else $SUPERRUNS_ENV (a venv or conda prefix),
#      else whatever `python3` is on PATH;
#   3. execs `python -m snakemake` with the arguments, so its exit code is the job's.
# Snakemake may put commands before the job's (`PRE && python -m snakemake ...`), which
# HTCondor hands over as words: they run first, in the activated environment, except the
# `pip install --target .snakemake/pip-deployments PLUGINS` that the htcondor executor adds
# whenever a storage plugin is installed: the environment activated here (the submitting one,
# on the shared filesystem) has those plugins already.
set -euo pipefail

if [ -n "${SUPERRUNS_JOB_SETUP:-}" ]; then
    # shellcheck disable=SC1090
    source "$SUPERRUNS_JOB_SETUP"
fi

# The words before the last `&&` (the commands before the job's, `&&` between them).
before=()
for ((i = $#; i >= 1; i--)); do
    if [ "${!i}" = "&&" ]; then
        before=("${@:1:i}")
        shift "$i"
        break
    fi
done

python=
case "${1:-}" in
    */python* | python*)
        python=$1
        shift
        [ "${1:-}" = "-m" ] && [ "${2:-}" = "snakemake" ] && shift 2
        ;;
esac

# The environment's prefix: .../bin/python -> ...
prefix=${SUPERRUNS_ENV:-}
if [ -z "$prefix" ] && [ -n "$python" ] && [ "${python#/}" != "$python" ]; then
    prefix=$(dirname "$(dirname "$python")")
fi
if [ -n "$prefix" ]; then
    if [ -f "$prefix/bin/activate" ] && [ ! -d "$prefix/conda-meta" ]; then
        # a virtualenv (python -m venv): its activate script sets PATH and VIRTUAL_ENV
        # shellcheck disable=SC1091
        VIRTUAL_ENV_DISABLE_PROMPT=1 source "$prefix/bin/activate"
    elif [ -d "$prefix/conda-meta" ]; then
        # a conda environment: what `conda activate` sets that matters to Python programs
        export CONDA_PREFIX=$prefix PATH=$prefix/bin:$PATH
    else
        echo "job_wrapper: $prefix is neither a virtualenv nor a conda environment" >&2
        exit 1
    fi
    python=$prefix/bin/python
fi
python=${python:-python3}
command -v "$python" >/dev/null || { echo "job_wrapper: no Python '$python' on $(hostname)" >&2; exit 1; }

command=()
for word in "${before[@]}"; do
    if [ "$word" != "&&" ]; then
        command+=("$word")
        continue
    fi
    if [ "${command[0]:-}" = pip ] && [[ " ${command[*]} " == *" --target .snakemake/pip-deployments "* ]]; then
        echo "job_wrapper: skipped, the environment has them: ${command[*]}" >&2
    elif [ ${#command[@]} -gt 0 ]; then
        "${command[@]}"
    fi
    command=()
done

echo "job_wrapper: $(hostname): $python -m snakemake (in $PWD)" >&2
exec "$python" -m snakemake "$@"
