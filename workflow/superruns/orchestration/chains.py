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
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.superrun_plugins import is_superrun_level
from ..storage.layout import LINEAGE_CHAR, LINEAGE_PATTERN, relative_path

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["ANY_RUN", "MAX_NAMED_RUNS", "Chain", "Plan", "RunMatch", "chain_types", "external_inputs", "inputs_of",
           "plan_chains", "plan_runs", "process_constraints", "run_match", "runs_pattern"]


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


#: A run id: anything but a superrun's name (``_...``) in one path component. Every rule's
#: ``{run}`` is at least this (the global wildcard constraint of rules/common.smk).
ANY_RUN = r"(?!_)[^/]+"

#: The most run ids a rule's wildcard constraint names (:func:`run_match`). Snakemake copies
#: a constraint into every output and log pattern of its rule and rewrites each of those
#: patterns for every job it makes (``apply_wildcards``): a constraint naming every run of
#: the registry costs each job time in proportion to the registry, the plan its square
#: (30,000 runs: 4.1x Snakemake's own cost, benchmarks/plan_bench.py). Up to this many,
#: the few runs are named; past it, no run is ($SUPERRUNS_MAX_NAMED_RUNS sets it: the tests
#: take the guarded path with a few runs).
MAX_NAMED_RUNS = int(os.environ.get("SUPERRUNS_MAX_NAMED_RUNS", 1000))

_END_OF_RUN = "(?![^/-])"       # a run id ends at "/" (data files), "-" (logs) or the end


@dataclass(frozen=True)
class RunMatch:
    """Which runs a rule's ``{run}`` matches, at a cost per match that does not grow with
    the registry: ``constraint`` (its wildcard constraint) names at most
    :data:`MAX_NAMED_RUNS` run ids; when it must match more runs than the rule's own,
    ``guarded`` is set and the rule's input function refuses the others (:meth:`Chain.admits`)."""

    constraint: str = ANY_RUN
    guarded: bool = False


def run_match(members, others, limit: int | None = None) -> RunMatch:
    """How a rule matches ``members`` and none of ``others`` (the rest of the registry's
    regular runs): any run when there are no others, else the shorter of a pattern excluding
    the others or one naming the members, when either names at most ``limit`` runs; else any
    run, guarded."""
    limit = MAX_NAMED_RUNS if limit is None else limit
    if not others:
        return RunMatch()
    if min(len(members), len(others)) > limit:
        return RunMatch(guarded=True)
    if len(members) < len(others):
        return RunMatch(f"{runs_pattern(members)}{_END_OF_RUN}")
    return RunMatch(f"(?!_)(?!{runs_pattern(others)}{_END_OF_RUN})[^/]+")


@dataclass
class Chain:
    """One ``run_chain`` rule: the lineage hash of each chain data type, and the runs whose
    chain has exactly these hashes and none or all of whose files exist."""

    hashes: dict[str, str]
    runs: list[str] = field(default_factory=list)
    first_run: str | None = None     # the registry's first run whose chain has these hashes
    match: RunMatch = RunMatch()

    @property
    def key(self) -> str:
        """A short name for these hashes (the rule's name and its log's)."""
        text = ",".join(f"{dt}-{h}" for dt, h in self.hashes.items())
        return hashlib.sha1(text.encode()).hexdigest()[:8]

    @property
    def period_name(self) -> str:
        """``from_<first run>``: which option period the chain's rule is, in words a log shows."""
        return "from_" + re.sub(r"\W", "_", str(self.first_run))

    def outputs(self, run: str = "{run}") -> dict[str, str]:
        """``{data_type: path relative to data_dir}`` of the chain's files."""
        return {dt: relative_path(run, dt, h) for dt, h in self.hashes.items()}

    def admits(self, run: str) -> bool:
        """Whether ``run`` is one of this chain's runs (what a guarded rule asks per job)."""
        members = self.__dict__.get("_members")
        if members is None:
            members = self.__dict__["_members"] = frozenset(self.runs)
        return run in members


@dataclass
class Plan:
    """The chains of a configuration's regular runs, and the runs none of them makes: those
    with some but not all of their chain's files (one job per data type, rule ``process``)."""

    chains: list[Chain]
    partial: list[str]


def plan_chains(project: Project, layout: str = "per_run") -> list[Chain]:
    """The chains of the configuration's regular runs, one per set of lineage hashes (in the
    order of their first runs in the registry: option periods in order), each with the runs it
    may build: those none or all of whose chain files of that lineage exist (one listing of
    each run's folder)."""
    return plan_runs(project, layout).chains


def plan_runs(project: Project, layout: str = "per_run", limit: int | None = None) -> Plan:
    """:func:`plan_chains`, with each chain's :class:`RunMatch` and the runs left to the rule
    ``process`` (some of their chain's files exist, not all)."""
    from ..project.lineages import current_lineages

    types = chain_types(project.registry, layout)
    if not types:
        return Plan([], [])
    runs = list(project.runs)
    lineage_of = current_lineages(project, runs, types)
    chains: dict[tuple, Chain] = {}
    partial = []
    listing = project.run_listing(runs)        # where the data lie: data_dir or remote storage
    for run in runs:
        hashes = {dt: lineage_of(run, dt) for dt in types}
        chain = chains.setdefault(tuple(hashes.values()), Chain(hashes, first_run=run))
        stored = listing(run)[0]
        present = sum((dt, h) in stored for dt, h in hashes.items())
        (chain.runs if present in (0, len(hashes)) else partial).append(run)
    ordered = list(chains.values())      # in the order of their first runs: option periods in order
    for chain in ordered:
        members = set(chain.runs)
        chain.match = run_match(chain.runs, [run for run in runs if run not in members], limit)
    return Plan(ordered, partial)


def process_constraints(plan: Plan, registry, limit: int | None = None) -> dict[str, str]:
    """The wildcard constraints of the rule ``process`` beside the chains: it makes the chain
    types of the runs in ``plan.partial`` and every other type it makes of any run, and
    should not match the files a chain makes (Snakemake would make a job of each rule that
    matches a requested file, and throw one away). With no partial run, the chains' lineage
    hashes are left out (a file of another lineage still finds ``process``, which says why it
    is not made); with few, they are named (or the others); else nothing is constrained."""
    if not plan.chains:
        return {}
    chained = {dt for chain in plan.chains for dt in chain.hashes}
    if not plan.partial:
        hashes = sorted({h for chain in plan.chains for h in chain.hashes.values()})
        alternatives = "|".join(re.escape(h) for h in hashes)
        return {"lineage": f"(?!(?:{alternatives})(?!{LINEAGE_CHAR})){LINEAGE_PATTERN}"}
    others_made = [dt for dt in registry if made_by_process(registry[dt]) and dt not in chained]
    if others_made:
        return {}
    partial = set(plan.partial)
    match = run_match(plan.partial, [r for chain in plan.chains for r in chain.runs if r not in partial], limit)
    return {} if match.guarded else {"run": match.constraint}


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
