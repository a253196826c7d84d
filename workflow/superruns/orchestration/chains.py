"""One job per run: which data types a run's job makes together, and for which runs.

A campaign of short runs spends far more in Snakemake's per-job bookkeeping (about 7 ms of
its CPU a job, even for a job in its own process that does nothing) than in the work (about
9 ms a data type of a short run). So by default (config ``job_layout: per_run``) a rule
``run_chain`` makes every data type of a run that the rule ``process`` would make one by one
-- raw_records ... event_info for the shipped detector -- in one job, in dependency order, each
output read back by the next from its file exactly as the per-data-type jobs do (the files
hold the same data; tests/e2e/test_job_layout.py). Each data type is still its own file and
its own target (``snakemake 000001/peaks``).

A chain's rule matches a run while none of the chain's files of the current lineage exist,
or all of them (:func:`plan_chains`, decided when the Snakefile is read): a campaign from
nothing, and the no-op check of a built one (one job per run to check, not one per file).
A run with some of them -- another processing version sharing the run's raw_records, a
file deleted, a killed build -- goes to the rule ``process``, one data type at a time, so a
file shared by two versions is not rewritten to make the other version's files (its new
mtime would make that version out of date; docs/design.md, "Job layout").

Snakemake wants every output of a rule to carry the same wildcards, and the file names carry
each data type's lineage hash. Runs whose chain has the same hashes (the same per-run option
values) therefore share one rule, with the hashes spelled in its outputs: one rule for most
campaigns, one per option period where per-run defaults change.

A chain holds the data types computed by the package's plugins (not the strax bridge's, nor
superrun-level ones). A data type that depends, through a type made by another rule, on a
data type of the chain stays with ``process``, else the run's job would wait for a job that
waits for it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.superrun_plugins import is_superrun_level
from ..storage.layout import relative_path

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["Chain", "chain_types", "external_inputs", "inputs_of", "plan_chains", "runs_pattern"]


def made_by_process(plugin) -> bool:
    """Whether the rule ``process`` makes ``plugin``'s data type: not superrun-level and not one
    of the strax bridge's types (those carry their ``origin``: made by strax or imported)."""
    return not is_superrun_level(plugin) and getattr(plugin, "origin", None) is None


def _ancestors(registry, name: str, seen: dict) -> set[str]:
    if name not in seen:
        seen[name] = set()          # a cycle is the registry's error, reported there
        found = set()
        for dep in registry[name].depends_on:
            if dep in registry:
                found |= {dep} | _ancestors(registry, dep, seen)
        seen[name] = found
    return seen[name]


def chain_types(registry, layout: str = "per_run") -> list[str]:
    """The data types one run's job makes, each after its dependencies ([] for
    ``job_layout: per_data_type``)."""
    if layout == "per_data_type":
        return []
    seen: dict[str, set[str]] = {}
    names = list(registry)
    made = {name for name in names if made_by_process(registry[name])}
    # Types of other rules that descend from types of `process`: a chain cannot wait for them.
    bridged = {name for name in names if name not in made and _ancestors(registry, name, seen) & made}
    chain = [name for name in names if name in made and not _ancestors(registry, name, seen) & bridged]
    return sorted(chain, key=lambda name: (len(_ancestors(registry, name, seen)), names.index(name)))


def external_inputs(registry, chain: list[str]) -> list[str]:
    """The data types a run's chain reads that it does not make itself, in a stable order."""
    members = set(chain)
    return sorted({dep for name in chain for dep in registry[name].depends_on if dep not in members})


def inputs_of(registry, data_type: str, made: dict[str, Path]) -> dict[str, Path]:
    """``{dependency: path}`` of ``data_type``'s inputs among the files ``made`` so far (the
    chain's outputs and its external inputs)."""
    return {dep: made[dep] for dep in registry[data_type].depends_on}


@dataclass
class Chain:
    """One ``run_chain`` rule: the lineage hash of each chain data type, and the runs whose
    chain has exactly these hashes and none or all of whose files exist."""

    hashes: dict[str, str]
    runs: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """A short name for these hashes (the rule's name and its log's)."""
        text = ",".join(f"{dt}-{h}" for dt, h in self.hashes.items())
        return hashlib.sha1(text.encode()).hexdigest()[:8]

    def outputs(self, run: str = "{run}") -> dict[str, str]:
        """``{data_type: path relative to data_dir}`` of the chain's files."""
        return {dt: relative_path(run, dt, h) for dt, h in self.hashes.items()}


def plan_chains(project: Project, layout: str = "per_run") -> list[Chain]:
    """The chains of the configuration's regular runs, one per set of lineage hashes (in a
    stable order), each with the runs it may build: those none or all of whose chain files
    of that lineage exist (one listing of each run's folder)."""
    from ..project.lineages import current_lineages

    types = chain_types(project.registry, layout)
    if not types:
        return []
    runs = list(project.runs)
    lineage_of = current_lineages(project, runs, types)
    chains: dict[tuple, Chain] = {}
    listing = project.run_listing(runs)        # where the data lie: data_dir or remote storage
    for run in runs:
        hashes = {dt: lineage_of(run, dt) for dt in types}
        chain = chains.setdefault(tuple(hashes.values()), Chain(hashes))
        stored = listing(run)[0]
        present = sum((dt, h) in stored for dt, h in hashes.items())
        if present in (0, len(hashes)):
            chain.runs.append(run)
    return [chains[key] for key in sorted(chains)]


def runs_pattern(runs: list[str]) -> str:
    """A regular expression matching exactly ``runs``, as a trie: Snakemake matches it against
    every requested file, and an alternation of 10,000 run ids would be tried one by one."""
    trie: dict = {}
    for run in runs:
        node = trie
        for char in run:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_regex(trie) if runs else "(?!)"


def _trie_regex(node: dict) -> str:
    branches, optional = [], "" in node
    for char in sorted(k for k in node if k):
        branches.append(re.escape(char) + _trie_regex(node[char]))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    if optional:
        return f"(?:{body})?" if len(branches) > 1 or len(body) > 1 else f"{body}?"
    return body
