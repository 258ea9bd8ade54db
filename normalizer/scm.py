"""Git references: repository names from clone URLs, branch names from refs."""

import re
from urllib.parse import unquote, urlsplit

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^/].*)$")  # git@github.com:org/repo.git


def repo_from_git_url(url: str) -> str | None:
    """`owner/repo` of a git remote (https, ssh://, scp-like `git@host:owner/repo.git`); None if the
    URL has fewer than two path segments. The last two segments are kept, `.git` is stripped."""
    text = url.strip()
    if not text:
        return None
    if "://" in text:
        path = urlsplit(text).path
    else:
        scp = _SCP_LIKE.match(text)
        path = scp.group("path") if scp else text
    segments = [unquote(part) for part in path.split("/") if part]
    if segments and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][: -len(".git")]
    segments = [part for part in segments if part]
    if len(segments) < 2:
        return None
    return f"{segments[-2]}/{segments[-1]}"


def branch_of(ref: str) -> str | None:
    """The branch a ref names (`refs/heads/main` -> `main`); None for tags and other refs."""
    prefix = "refs/heads/"
    return ref[len(prefix) :] if ref.startswith(prefix) else None
