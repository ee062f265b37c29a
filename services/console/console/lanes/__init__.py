"""The console's live lanes: the streams it follows and the groups' progress, fanned out to
every open page as Server-Sent Events (``GET /events``, ``GET /stats``: api.py).

::

    streams.py    what it follows: the lanes, each a stream per partition; the groups on them
    reader.py     one XREAD BLOCK reader per stream; each new entry made ready to send once
    poller.py     the one poll of the groups (read_model.py's reads), sent when it changed
    progress.py   pure: the groups' progress, a group's partitions combined
    hub.py        the fan-out: a bounded queue per open page
    feed.py       where a page starts, follow(): resume without a gap or a repeat
    cursor.py     pure: entry ids, the cursor (a position per stream)
    entries.py    pure: what an entry and a dead letter show, trace links
"""
