"""One deployment reported by several sources counts once.

Two successful deployments of one (service, environment key) are the same deployment when they come from
different sources (the namespace of their deployment ids: "gitlab:...", "cdevents:..."), deployed the
same sha, and finished within `TOLERANCE_US` of each other. Of such a pair only the one of higher
precedence is counted (it is in the deployment log; the other is kept as a fact and counts again if the
first goes). Precedence, highest first: the tool that ran the deployment (GitLab, GitHub, Jenkins), then
CDEvents, then the push API. Only these namespaces take part: a deployment id without one of them is
never merged. The rule is a function of the set of deployments, not of the order they arrive in, so a
replay and a distributed run count the same. Deployments without a sha and failed attempts are never
merged (a failed attempt reported by two sources counts twice among the failed attempts).
"""

from collections.abc import Mapping

from metrics_worker.deployments import Outcome

TOLERANCE_US = 10 * 60 * 1_000_000  # 10 minutes between the finishes
# namespace of a deployment id -> precedence (higher wins); source names as in schemas.sources.Source
PRECEDENCE: Mapping[str, int] = {"gitlab": 5, "github": 4, "jenkins": 3, "cdevents": 2, "push": 1}


def namespace(deployment_id: str) -> str:
    """The source namespace of a deployment id ("" when it has none we know)."""
    space, colon, _ = deployment_id.partition(":")
    return space if colon and space in PRECEDENCE else ""


def outranked(deployment_id: str, outcome: Outcome, same_sha: Mapping[str, Outcome]) -> bool:
    """True when another source's deployment of the same sha, finished within the tolerance, outranks
    this one. `same_sha`: every successful deployment of the stream with this sha (itself included)."""
    own_space = namespace(deployment_id)
    if not own_space:
        return False
    own_rank = PRECEDENCE[own_space]
    for other_id, other in same_sha.items():
        space = namespace(other_id)
        if (
            space
            and space != own_space
            and PRECEDENCE[space] > own_rank
            and abs(other.finish - outcome.finish) <= TOLERANCE_US
        ):
            return True
    return False
