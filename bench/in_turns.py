"""Repetitions taken in turns, for the figures a ratio compares.

A ratio in the table (treadle against a peer, 9a against 6a, 9b against 5c) is only fair when
both figures met the same machine. Run back to back, the second meets what the first left:
5c's deleted files slow 9b's file creation on this VM's journal-less ext4 (bench/README.md, 5b),
and the load drifts over minutes. So the systems and workloads of one comparison run one
repetition each in turn (A B A B ...), and each keeps the median of its own repetitions.
"""

import measure


def comparisons(selected, peers):
    """The selected workloads as groups measured together: a workload with the one it compares
    to (``compare_to``), each with its peers when `peers`. Returns lists of (system, workload)."""
    names = {w["name"] for w in selected}
    partner_of = {w["compare_to"]: w for w in selected if w.get("compare_to") in names}
    grouped, groups = set(), []
    for w in selected:
        if w["name"] in grouped:
            continue
        members = [w] + ([partner_of[w["name"]]] if w["name"] in partner_of else [])
        grouped.update(m["name"] for m in members)
        groups.append([(system, m) for m in members
                       for system in ["treadle"] + (list(m["peers"]) if peers else [])])
    return groups


def run_group(group, reps, quick, run_one, env):
    """Runs each (system, workload) of `group` once per turn, `reps` turns; returns
    {(workload name, system): result} with every repetition's runs and their medians. A system
    that fails is not run again; its error is its result."""
    merged = {}
    for turn in range(reps):
        for system, w in group:
            key = (w["name"], system)
            if "error" in merged.get(key, {}) or merged.get(key, {}).get("median", {}).get("skipped"):
                continue
            scale, timeout = _scale_and_timeout(system, w, quick)
            if len(group) > 1:
                print("  turn {}/{}".format(turn + 1, reps), end="")
            one = run_one(system, w, scale, 1, timeout, env)
            merged[key] = _merge(merged.get(key), one)
    return merged


def _scale_and_timeout(system, w, quick):
    if system == "treadle":
        return (w.get("quick_scale", w["scale"]) if quick else w["scale"]), w["timeout"]
    spec = w["peers"][system]
    return spec["scale"], spec["timeout"]


def _merge(sofar, one):
    if sofar is None or "error" in one or one.get("median", {}).get("skipped"):
        return one
    runs = sofar["runs"] + one["runs"]
    return dict(sofar, runs=runs, median=measure.median_runs(runs), reps=len(runs))
