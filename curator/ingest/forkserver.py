"""Imported last by the parse workers' fork server (`Workers._start`), after what workers use: freezes it.

Workers are forked from the fork server and share its pages until they write to them. CPython's
collector writes to every object it examines, so a worker's first full collection copied every
page of the modules the server had imported: about 12 MB more in each worker and in the server
itself, midway through a big run. `gc.freeze` moves the objects imported so far into a generation
the collector never examines (they live as long as the process anyway); workers still collect
what they allocate themselves. Not meant to be imported anywhere else.
"""

import gc

gc.freeze()
