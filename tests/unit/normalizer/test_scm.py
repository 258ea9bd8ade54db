import pytest

from normalizer.scm import branch_of, repo_from_git_url


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        pytest.param("https://github.com/ShrutiC-git/scmConfig.git", "ShrutiC-git/scmConfig", id="https-dot-git"),
        pytest.param("https://github.com/example/webhooks-handler", "example/webhooks-handler", id="https-plain"),
        pytest.param("https://github.com/example/webhooks-handler/", "example/webhooks-handler", id="trailing-slash"),
        pytest.param("git@github.com:org/repo.git", "org/repo", id="scp-like-ssh"),
        pytest.param("ssh://git@github.com:22/org/repo.git", "org/repo", id="ssh-url-with-port"),
        pytest.param("https://user:token@git.example.com/org/repo.git", "org/repo", id="credentials-dropped"),
        pytest.param("https://bitbucket.example.com/scm/proj/repo.git", "proj/repo", id="last-two-segments"),
        pytest.param("https://github.com/org", None, id="one-segment"),
        pytest.param("", None, id="empty"),
    ],
)
def test_repo_from_git_url(url: str, repo: str | None) -> None:
    assert repo_from_git_url(url) == repo


@pytest.mark.parametrize(
    ("ref", "branch"),
    [
        pytest.param("refs/heads/master", "master", id="branch"),
        pytest.param("refs/heads/feature/x", "feature/x", id="branch-with-slash"),
        pytest.param("refs/tags/v0.0.1", None, id="tag"),
        pytest.param("refs/pull/2/head", None, id="other-ref"),
    ],
)
def test_branch_of(ref: str, branch: str | None) -> None:
    assert branch_of(ref) == branch
