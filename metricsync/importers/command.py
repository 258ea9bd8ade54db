"""`metricsync import github|jenkins|prometheus`: the command, its settings and its sinks."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from metricsync.clock import utc_now
from metricsync.durations import parse_duration
from metricsync.importers.github import GITHUB_API, GitHubImport, GitHubImporter, github_auth, org_repos
from metricsync.importers.gitlab import GitLabImport, GitLabImporter, gitlab_auth
from metricsync.importers.http import ApiClient, ETagCache, ImportFailed, RetryPolicy, TokenRefused
from metricsync.importers.jenkins import JenkinsImport, JenkinsImporter, basic_auth
from metricsync.importers.prometheus import PrometheusImport, PrometheusImporter
from metricsync.importers.run import Importer, run_import
from metricsync.importers.state import ImportState
from metricsync.settings import Settings
from normalizer.timeparse import parse_time
from schemas.errors import ConfigError
from schemas.ports import DeliverySink

EXIT_TOKEN_REFUSED = 3
EXIT_API_FAILED = 4
EXIT_INTERRUPTED = 130


class ImportSettings(BaseSettings):
    """The importers' credentials and state, read once by the command (`METRICSYNC_` variables)."""

    model_config = SettingsConfigDict(env_prefix="METRICSYNC_", extra="ignore", frozen=True)

    github_token: SecretStr | None = None
    gitlab_token: SecretStr | None = None
    jenkins_api_token: SecretStr | None = None
    prometheus_token: SecretStr | None = None  # a bearer token, for a Prometheus behind an auth proxy
    import_state_dir: Path | None = None  # default: <data dir>/import (embedded), ./metricsync-import


def parse_since(text: str, now: datetime) -> datetime:
    """`90d`, `12h`, `2w` before now, or a date / RFC 3339 time."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
    if "T" in text:
        return parse_time(text)
    return now - parse_duration(text, name="--since")


def _token(option: Path | None, setting: SecretStr | None) -> str | None:
    if option is not None:
        try:
            return option.read_text().strip()
        except OSError as e:
            raise ConfigError(f"--token-file {option}: {e.strerror}") from e
    return setting.get_secret_value() if setting else None


@asynccontextmanager
async def open_sink(settings: Settings, distributed: bool, state_dir: Path) -> AsyncIterator[DeliverySink]:
    """The sink webhooks go through: embedded, the data directory (locked, as by `serve` and
    `rebuild`); distributed, the raw topic (with a spool of the import's own under its state dir)."""
    if distributed:
        from metricsync.kafka.sink import KafkaSink

        sink = KafkaSink(settings.model_copy(update={"spool_dir": state_dir / "spool"}))
        await sink.start()
        try:
            yield sink
        finally:
            await sink.stop()
            if sink.spooled:
                print(
                    f"{sink.spooled} records waited for Kafka in {state_dir / 'spool'}; "
                    "run the import again to publish any left there",
                    file=sys.stderr,
                )
        return
    from metricsync.embedded.datadir import DataDirLock, db_path
    from metricsync.embedded.memory_bus import MemoryBus
    from metricsync.embedded.pipeline import EmbeddedSink
    from metricsync.embedded.sqlite_store import SqliteStore

    with DataDirLock(settings.data_dir):
        store = await SqliteStore.open(db_path(settings.data_dir))
        try:
            yield EmbeddedSink(store, MemoryBus(), settings.mapping_rules())
        finally:
            await store.close()


def _state_dir(settings: Settings, imports: ImportSettings, distributed: bool) -> Path:
    if imports.import_state_dir is not None:
        return imports.import_state_dir
    return Path("./metricsync-import") if distributed else settings.data_dir / "import"


async def _run(
    args: argparse.Namespace,
    settings: Settings,
    make: Callable[[ApiClient], Importer],
    client: ApiClient,
    targets: Callable[[ApiClient], Awaitable[list[str]]],
    state: ImportState,
    since: datetime,
    out: TextIO,
) -> int:
    async with AsyncExitStack() as stack:
        stack.push_async_callback(client.close)
        names = await targets(client)
        if not names:
            raise ConfigError("nothing to import: name at least one target")
        sink = (
            None
            if args.dry_run
            else await stack.enter_async_context(open_sink(settings, args.distributed, state.directory.parent))
        )
        summary = await run_import(make(client), names, since, sink, state, out, lambda: client.stats.requests)
    for line in summary.lines():
        print(line, file=out)
    stats = client.stats
    print(
        f"  requests: {stats.requests} ({stats.not_modified} not modified, {stats.retries} retried, "
        f"{stats.rate_limit_waits} rate-limit waits, {stats.waited_seconds:.0f}s waited)",
        file=out,
    )
    if args.dry_run:
        print("dry run: nothing was stored", file=out)
    elif not args.distributed:
        print(f"stored in {settings.data_dir}; `metricsync serve` shows it", file=out)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request drowns the progress line
    imports = ImportSettings()
    now = utc_now()
    since = parse_since(args.since, now)
    state = ImportState(_state_dir(settings, imports, args.distributed), args.source)
    policy = RetryPolicy(max_wait_seconds=parse_duration(args.max_wait, name="--max-wait").total_seconds())
    etags = None if args.dry_run else ETagCache(state.etag_file())
    make: Callable[[ApiClient], Importer]
    names: list[str]
    if args.source == "github":
        client = ApiClient(
            args.api_url, github_auth(_token(args.token_file, imports.github_token)), etags=etags, policy=policy
        )
        pattern = re.compile(args.environment_pattern or settings.mapping.production_pattern)
        job = GitHubImport(tuple(args.repo), since, pattern, settings.mapping_rules().incident_label)
        make = lambda c: GitHubImporter(c, job, utc_now)  # noqa: E731
        names = list(args.repo)
    elif args.source == "gitlab":
        client = ApiClient(args.url.rstrip("/") + "/api/v4", gitlab_auth(_token(args.token_file, imports.gitlab_token)),
                           etags=etags, policy=policy)
        pattern = re.compile(args.environment_pattern or settings.mapping.production_pattern)
        gitlab_job = GitLabImport(tuple(args.project), since, pattern, settings.mapping_rules().incident_label)
        make = lambda c: GitLabImporter(c, gitlab_job, utc_now)  # noqa: E731
        names = list(args.project)
    elif args.source == "jenkins":
        token = _token(args.token_file, imports.jenkins_api_token)
        basic = {"Authorization": basic_auth(args.user or "", token)} if token else {}
        client = ApiClient(args.url, basic, etags=etags, policy=policy)
        jenkins_job = JenkinsImport(tuple(args.job), since)
        make = lambda c: JenkinsImporter(c, jenkins_job, utc_now)  # noqa: E731
        names = list(args.job)
    else:
        token = _token(args.token_file, imports.prometheus_token)
        client = ApiClient(args.url, {"Authorization": f"Bearer {token}"} if token else {}, policy=policy)
        prom_job = PrometheusImport(since, now, args.step, args.match)
        make = lambda c: PrometheusImporter(c, prom_job, utc_now)  # noqa: E731
        names = ["prometheus"]
    orgs: list[str] = getattr(args, "org", [])

    async def targets(c: ApiClient) -> list[str]:
        found = [repo for org in orgs for repo in await org_repos(c, org)]
        return list(dict.fromkeys([*names, *found]))

    out = sys.stderr
    try:
        return asyncio.run(_run(args, settings, make, client, targets, state, since, out))
    except TokenRefused as e:
        print(f"metricsync import: token refused: {e}", file=out)
        return EXIT_TOKEN_REFUSED
    except ImportFailed as e:
        print(f"metricsync import: {e}", file=out)
        return EXIT_API_FAILED
    except KeyboardInterrupt:
        print("metricsync import: interrupted; run the same command again to resume", file=out)
        return EXIT_INTERRUPTED


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], settings: Callable[[argparse.Namespace], Settings]
) -> None:
    imp = sub.add_parser("import", help="import history from the tools' APIs (GitHub, GitLab, Jenkins, Prometheus)")
    sources = imp.add_subparsers(dest="source", required=True)

    def common(p: argparse.ArgumentParser, since: str) -> None:
        p.add_argument("--since", default=since, help=f"how far back: 90d, 12h, 2w or a date (default {since})")
        p.add_argument("--distributed", action="store_true", help="publish to Kafka's raw topic, not the data dir")
        p.add_argument("--data-dir", type=Path, help="embedded data directory (METRICSYNC_DATA_DIR)")
        p.add_argument("--dry-run", action="store_true", help="print what would be imported; store nothing")
        p.add_argument("--token-file", type=Path, help="read the token from this file")
        p.add_argument("--max-wait", default="1h", help="longest rate-limit wait before stopping (default 1h)")
        p.set_defaults(func=lambda a: cmd_import(a, settings(a)))

    gh = sources.add_parser("github", help="deployments, commits, merged PRs, incidents (METRICSYNC_GITHUB_TOKEN)")
    gh.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME", help="a repository (repeatable)")
    gh.add_argument("--org", action="append", default=[], help="every unarchived repository of an organization")
    gh.add_argument("--api-url", default=GITHUB_API, help="GitHub Enterprise Server: https://HOST/api/v3")
    gh.add_argument("--environment-pattern", help="environments to import (default METRICSYNC_PRODUCTION_PATTERN)")
    common(gh, "90d")
    gl = sources.add_parser("gitlab", help="deployments, commits, merged MRs, incidents (METRICSYNC_GITLAB_TOKEN)")
    gl.add_argument("--url", default="https://gitlab.com", help="GitLab base URL (default https://gitlab.com)")
    gl.add_argument("--project", action="append", required=True, metavar="GROUP/NAME", help="a project (repeatable)")
    gl.add_argument("--environment-pattern", help="environments to import (default METRICSYNC_PRODUCTION_PATTERN)")
    common(gl, "90d")
    jk = sources.add_parser("jenkins", help="finished builds of jobs (METRICSYNC_JENKINS_API_TOKEN)")
    jk.add_argument("--url", required=True, help="Jenkins root URL")
    jk.add_argument("--job", action="append", required=True, help="a job's full name, folder/job (repeatable)")
    jk.add_argument("--user", help="the Jenkins user the API token belongs to")
    common(jk, "90d")
    pm = sources.add_parser("prometheus", help="incidents from the ALERTS series")
    pm.add_argument("--url", required=True, help="Prometheus base URL")
    pm.add_argument("--match", default="", help='extra matchers, e.g. severity=~"critical|page"')
    pm.add_argument("--step", type=int, default=60, help="query_range step in seconds (default 60)")
    common(pm, "30d")
