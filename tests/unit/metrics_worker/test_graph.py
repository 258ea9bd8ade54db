"""The commit graph's adjacency: kept as strings so the garbage collector never walks it."""

import gc

from metrics_worker.graph import CommitGraph, adjacent

US = 1_000_000


def _push(graph: CommitGraph, push_id: str, before: str, shas: list[str]) -> None:
    for position, sha in enumerate(shas):
        graph.add_commit(push_id, before, shas[-1], position, sha, position * US)


def test_adjacency_of_a_linear_push() -> None:
    graph = CommitGraph()
    _push(graph, "P1", "base", ["c1", "c2", "c3"])
    # c1 -> base, c2 -> c1, c3 -> c2; the push's after (c3) -> every commit and -> base
    assert sorted(adjacent(graph.parents["c3"])) == ["base", "c1", "c2"]
    assert sorted(adjacent(graph.children["c1"])) == ["c2", "c3"]
    assert list(adjacent(graph.parents["c1"])) == ["base"]
    assert list(adjacent(graph.parents.get("base"))) == []


def test_graph_dicts_stay_untracked_by_the_gc() -> None:
    graph = CommitGraph()
    _push(graph, "P1", "base", [f"a{i}" for i in range(20)])
    gc.collect()
    _push(graph, "P2", "a19", [f"b{i}" for i in range(20)])  # new edges after a full collection
    assert not gc.is_tracked(graph.parents)
    assert not gc.is_tracked(graph.children)


def test_a_sha_holding_the_separator_is_kept_whole() -> None:
    graph = CommitGraph()
    _push(graph, "P1", "base", ["x 1", "x2", "x 3"])
    assert sorted(adjacent(graph.parents["x 3"])) == ["base", "x 1", "x2"]
    assert sorted(adjacent(graph.children["x 1"])) == ["x 3", "x2"]
    graph.add_commit("P1", "base", "x 3", 1, "x2", US)  # a repeat adds no edge
    assert sorted(adjacent(graph.parents["x 3"])) == ["base", "x 1", "x2"]
