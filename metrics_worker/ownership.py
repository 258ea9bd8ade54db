"""Which deployment first shipped each commit: the lead-time walk, kept up to date incrementally.

owner(n) = the earliest successful deployment (in finish order) whose sha reaches commit-graph node n.
The commits a deployment shipped first (its changes) are the timed nodes it owns. That is exactly the walk
"from the deployed sha back through the pushes, stopping at what an earlier deployment already shipped":
since whatever a node reaches is reached by its descendants too, the walk stopped at shipped nodes visits
reach(sha) minus everything earlier deployments reach.

Updates touch only nodes whose owner changes:
- a deployment comes in: walk from its sha, taking nodes that are unowned or owned by a later deployment,
  stopping at nodes owned by an earlier one (or by itself);
- a new edge child -> parent where the child is owned by D: the same walk from the parent, for D;
- a deployment goes away: its nodes are freed, then handed to the earliest later deployments that reach
  them, found by walking down (child edges) through unowned nodes to the first owned ones.
"""

from dataclasses import dataclass, field

from metrics_worker.deployments import DeploymentLog, DeployRec
from metrics_worker.graph import CommitGraph, adjacent


@dataclass(slots=True)
class Moves:
    nodes: set[str] = field(default_factory=set)  # nodes whose owner changed
    recs: set[DeployRec] = field(default_factory=set)  # deployments whose shipped set changed


class Ownership:
    def __init__(self, graph: CommitGraph) -> None:
        self.graph = graph
        self.owner: dict[str, DeployRec] = {}

    def claim(self, start: str, rec: DeployRec, moves: Moves) -> None:
        """Give `rec` every node it reaches from `start` that no deployment before it reaches."""
        parents = self.graph.parents
        owner = self.owner
        key = rec.key
        stack = [start]
        while stack:
            node = stack.pop()
            current = owner.get(node)
            if current is not None:
                if current is rec or current.key < key:
                    continue
                current.owned.discard(node)
                moves.recs.add(current)
            owner[node] = rec
            rec.owned.add(node)
            moves.nodes.add(node)
            stack.extend(adjacent(parents.get(node)))
        moves.recs.add(rec)

    def release(self, rec: DeployRec, log: DeploymentLog, moves: Moves) -> None:
        """Free the nodes of a deployment that left `log`, and hand them to the later ones that reach them."""
        freed = rec.owned
        rec.owned = set()
        for node in freed:
            del self.owner[node]
        moves.nodes |= freed
        children = self.graph.children
        candidates: dict[tuple[DeployRec, str], None] = {}
        seen: set[str] = set()
        stack = list(freed)
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            shipped_by = log.by_sha.get(node)
            if shipped_by:
                candidates[(log.by_id[shipped_by[0][1]], node)] = None
            for child in adjacent(children.get(node)):
                holder = self.owner.get(child)
                if holder is not None:
                    candidates[(holder, node)] = None
                else:
                    stack.append(child)
        for holder, node in sorted(candidates, key=lambda c: (c[0].key, c[1])):
            self.claim(node, holder, moves)
