"""The launcher of each batch scheduler, by name (the schedulers' modules stand on launcher.py,
so the table of them lives here)."""

from . import pbs, sge, slurm

LAUNCHERS = {"slurm": slurm.SlurmLauncher, "sge": sge.SgeLauncher, "pbs": pbs.PbsLauncher}


def launcher_for(name):
    """The launcher of scheduler ``name``: "slurm", "sge" or "pbs"."""
    if name not in LAUNCHERS:
        raise ValueError("unknown scheduler {!r} (known: {})".format(name, ", ".join(sorted(LAUNCHERS))))
    return LAUNCHERS[name]()
