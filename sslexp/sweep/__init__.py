"""W&B sweeps for sslexp, offline and online.

Offline, the PyPI ``sweeps`` engine (the one the W&B server runs) proposes each
next run from the sweep YAML and the runs so far, and local workers execute the
YAML's ``command`` exactly as a ``wandb agent`` would, keeping a ledger on disk
so an interrupted sweep resumes. Online, ``wandb sweep`` creates the sweep and
one ``wandb agent`` per GPU runs it.

Modules: ``spec`` (a sweep YAML and the engine), ``ledger`` (the sweep
directory's run table, and what a finished run means for it), ``runner``
(local workers claiming runs), ``executor`` (running one run, its command line
and environment), ``processes`` (liveness and signals of the processes
started), ``summary`` (the end-of-sweep table), ``online`` (``wandb sweep``
and ``wandb agent``), ``sync`` (uploading offline runs).
"""
