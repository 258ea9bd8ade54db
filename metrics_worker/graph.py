"""The commit graph of one service's repository, rebuilt from its pushes.

Each push gives edges child -> parent: a commit -> the nearest earlier commit of the push seen so far
(or the push's `before` if none), the nearest later commit -> this one, and the push's `after` -> every
commit of the push and -> `before`. Edges are only ever added, and whatever order the commits of a push
arrive in, the final reachability is the same as walking the push chain (after -> commits -> before ->
the push whose after is that before ...). A commit seen in several pushes is one node, timed by its
earliest commit time.
"""

from bisect import bisect_left
from dataclasses import dataclass, field

_ZERO_SHA = frozenset({"", "0" * 40, "0" * 64})

Edge = tuple[str, str]  # (child, parent)


@dataclass(slots=True)
class Push:
    before: str
    after: str
    positions: list[int] = field(default_factory=list)  # sorted
    shas: dict[int, str] = field(default_factory=dict)
    times: list[int] = field(default_factory=list)  # commit time reported by this push, per position


class CommitGraph:
    def __init__(self) -> None:
        self.pushes: dict[str, Push] = {}
        # tuples, not sets: most nodes have one or two of each, and an empty set alone is 216 bytes
        self.parents: dict[str, tuple[str, ...]] = {}
        self.children: dict[str, tuple[str, ...]] = {}
        self.commit_time: dict[str, int] = {}

    def add_commit(
        self, push_id: str, before: str, after: str, position: int, sha: str, commit_us: int
    ) -> tuple[list[Edge], bool]:
        """Record one commit of a push: the new edges, and whether the commit's time changed."""
        old_time = self.commit_time.get(sha)
        timed = old_time is None or commit_us < old_time
        if timed:
            self.commit_time[sha] = commit_us
        edges: list[Edge] = []
        push = self.pushes.get(push_id)
        if push is None:
            push = self.pushes[push_id] = Push(before=before, after=after)
            self._link(after, before, edges)
        if position in push.shas:  # seen (or a conflicting report for the slot: the first one stays)
            return edges, timed
        at = bisect_left(push.positions, position)
        push.positions.insert(at, position)
        push.times.insert(at, commit_us)
        push.shas[position] = sha
        lower = push.shas[push.positions[at - 1]] if at > 0 else push.before
        self._link(sha, lower, edges)
        if at + 1 < len(push.positions):
            self._link(push.shas[push.positions[at + 1]], sha, edges)
        self._link(push.after, sha, edges)
        return edges, timed

    def _link(self, child: str, parent: str, out: list[Edge]) -> None:
        if child == parent or child in _ZERO_SHA or parent in _ZERO_SHA:
            return
        parents = self.parents.get(child, ())
        if parent in parents:
            return
        self.parents[child] = (*parents, parent)
        self.children[parent] = (*self.children.get(parent, ()), child)
        out.append((child, parent))
