"""Find references to objects that do not exist, with listings rather than a HEAD per key.

Framework-free: the Django ``r2store_audit`` command collects the names its
models hold and asks :func:`find_missing`.

The strategy, and why. Keys are grouped by their first path segment (the
top-level "directory", e.g. ``profile_images``), and each group is answered
by one listing of the deepest directory its keys share, walked in key order
beside the sorted keys and abandoned as soon as it passes the group's last
key (pages are fetched only as the walk reaches them). The cost is one
request per 1,000 objects in the listed ranges: it does not grow with the
number of keys or of directories, so thousands of keys in per-user or
per-date directories (Django's ``upload_to="user_<id>/"`` or ``"%Y/%m/%d/"``)
cost a few requests, where listing each directory would cost one request
per directory -- one per key, in the worst case. Top-level trees that no
key points into (a thumbnail cache, say) are never listed. What it pays
for that: objects inside a listed range that no key refers to are listed
too. Keys at the top level are answered by one listing of the top level
with ``/`` as the delimiter, so the tree below is not walked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import InvalidKeyError
from .keys import object_key

if TYPE_CHECKING:
    from .protocol import Store

__all__ = ["find_missing"]


def find_missing(store: Store, keys: Iterable[str]) -> list[str]:
    """The keys among *keys* under which *store* holds no object, in the order given.

    Duplicates are answered once. A key the key rules refuse (``../x``,
    ``a//b``, ...) is reported missing: no object can be reached by it.
    """
    wanted = list(dict.fromkeys(keys))
    location = store.config.location
    missing: set[str] = set()
    groups: dict[str, list[str]] = {}
    top_level: list[str] = []
    for key in wanted:
        try:
            object_key(key, location)
        except InvalidKeyError:
            missing.add(key)
            continue
        head, slash, _ = key.partition("/")
        if slash:
            groups.setdefault(head, []).append(key)
        else:
            top_level.append(key)
    if top_level:
        _, files = store.listdir("")
        present = set(files)
        missing.update(key for key in top_level if key not in present)
    for group in groups.values():
        missing.update(_missing_in_range(store, sorted(group)))
    return [key for key in wanted if key in missing]


def _missing_in_range(store: Store, keys: list[str]) -> list[str]:
    """Which of the sorted *keys* have no object: one listing walked beside them.

    Listings come in UTF-8 byte order, which for valid keys is the order of
    code points, so Python's ``<`` on the keys walks in step with them.
    """
    missing: list[str] = []
    position = 0
    # The deepest directory shared by the first and the last key is shared
    # by all of them (they are sorted). A whole directory, not the longest
    # shared string: a prefix cut mid-segment ("a/.") may be one the key
    # rules refuse, and the directory costs at most a page more.
    shared: list[str] = []
    for first, last in zip(keys[0].split("/")[:-1], keys[-1].split("/")[:-1], strict=False):
        if first != last:
            break
        shared.append(first)
    for stat in store.list("/".join(shared) + "/"):
        while position < len(keys) and keys[position] < stat.key:
            missing.append(keys[position])
            position += 1
        if position < len(keys) and keys[position] == stat.key:
            position += 1
        if position == len(keys):
            break  # past the last key: fetch no more pages
    missing += keys[position:]
    return missing
