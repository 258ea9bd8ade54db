"""All of MetricSync's settings: read once from the environment (prefix METRICSYNC_) at the entry
point, then passed down. Each package gets its own small config object built here."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ingest.config import MIB
from metricsync.durations import parse_duration
from schemas.catalog import ServiceCatalog
from schemas.errors import ConfigError

if TYPE_CHECKING:
    from ingest.config import IngestConfig
    from metrics_worker.engine import EngineConfig
    from normalizer.rules import MappingRules



def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METRICSYNC_", extra="ignore", frozen=True)

    # serving (embedded mode and the HTTP services)
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./metricsync-data")
    log_level: str = "INFO"

    # ingest: verification and limits
    github_secret: SecretStr | None = None
    github_allow_sha1: bool = False
    jenkins_token: SecretStr | None = None
    alertmanager_token: SecretStr | None = None
    allow_unsigned: bool = False
    max_body_bytes: int = Field(default=25 * MIB, gt=0)

    # read API
    api_token: SecretStr | None = None
    api_refresh_interval: timedelta = timedelta(milliseconds=250)  # distributed: how stale a read may be

    # mapping rules
    config: Path | None = None  # TOML: service aliases and teams
    production_pattern: str = r"(?i)^(prod|production)([-_.].*)?$"
    jenkins_service_parameter: str = "SERVICE"
    jenkins_environment_parameters: Annotated[list[str], NoDecode] = ["ENVIRONMENT", "ENV", "DEPLOY_ENV"]
    jenkins_production_job_pattern: str = r"(?i)prod"
    jenkins_deploy_pattern: str = r"(?i)deploy"
    jenkins_rollback_pattern: str = r"(?i)rollback"
    alert_service_labels: Annotated[list[str], NoDecode] = ["service", "app", "job"]
    alert_environment_labels: Annotated[list[str], NoDecode] = ["environment", "env"]
    alert_match: str = 'severity=~"critical|page"'
    incident_label: str = "incident"

    # metric rules
    attribution_window: timedelta = timedelta(hours=72)
    # history each service keeps in the worker's memory and state (docs/metrics.md "Retention"); 0: all
    retention: timedelta = timedelta(days=400)

    # distributed mode: Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    raw_topic: str = "metricsync.raw"
    events_topic: str = "metricsync.events"
    metrics_topic: str = "metricsync.metrics"
    dead_letter_topic: str = "metricsync.dead-letter"
    raw_partitions: int = Field(default=8, ge=1)
    events_partitions: int = Field(default=8, ge=1)
    metrics_partitions: int = Field(default=8, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    normalizer_group: str = "metricsync-normalizer"
    worker_group: str = "metricsync-worker"
    # zstd (aiokafka's zstd extra, cramjam): ~2x the producer throughput of gzip at a better ratio
    kafka_compression: str = "zstd"
    kafka_send_timeout: timedelta = timedelta(seconds=2)
    worker_checkpoint_interval: timedelta = timedelta(seconds=1)
    # `metricsync ingest` processes sharing the port (SO_REUSEPORT), each with its own Kafka producer
    # and its own spool slot <spool_dir>/worker-<n>; see docs/architecture.md for choosing it.
    ingest_workers: int = Field(default=1, ge=1, le=64)
    spool_dir: Path = Path("./metricsync-spool")
    spool_max_bytes: int = Field(default=256 * MIB, gt=0)  # per ingest process
    heartbeat_file: Path | None = None  # consumer services touch it while polling (liveness probes)

    # distributed mode: MongoDB
    mongo_uri: str = "mongodb://127.0.0.1:27017/"
    mongo_db: str = "metricsync"
    raw_collection: str = "raw_deliveries"
    events_collection: str = "events"
    event_ids_collection: str = "event_ids"
    state_collection: str = "service_state"
    dead_letter_collection: str = "dead_letters"
    meta_collection: str = "meta"  # the rules fingerprints (docs/operations.md, "Catalog and rule changes")

    _split = field_validator(
        "jenkins_environment_parameters", "alert_service_labels", "alert_environment_labels", mode="before"
    )(_split_list)

    @field_validator(
        "attribution_window",
        "retention",
        "api_refresh_interval",
        "kafka_send_timeout",
        "worker_checkpoint_interval",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any, info: ValidationInfo) -> timedelta:
        return parse_duration(value, name=f"METRICSYNC_{(info.field_name or '').upper()}")

    # --- per-package configuration -------------------------------------------------------------

    def catalog(self) -> ServiceCatalog:
        if self.config is None:
            return ServiceCatalog()
        try:
            data = tomllib.loads(self.config.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"METRICSYNC_CONFIG={self.config} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"METRICSYNC_CONFIG={self.config} is not valid TOML: {e}") from e
        try:
            return ServiceCatalog.model_validate({"services": data.get("services", {})})
        except ValueError as e:
            raise ConfigError(f"METRICSYNC_CONFIG={self.config}: {e}") from e

    def ingest_config(self) -> IngestConfig:
        from ingest.config import IngestConfig

        return IngestConfig(
            github_secret=self.github_secret,
            github_allow_sha1=self.github_allow_sha1,
            jenkins_token=self.jenkins_token,
            alertmanager_token=self.alertmanager_token,
            allow_unsigned=self.allow_unsigned,
            max_body_bytes=self.max_body_bytes,
        )

    def mapping_rules(self) -> MappingRules:
        from normalizer.rules import MappingRules

        return MappingRules(
            production_pattern=self.production_pattern,
            jenkins_service_parameter=self.jenkins_service_parameter,
            jenkins_environment_parameters=tuple(self.jenkins_environment_parameters),
            jenkins_production_job_pattern=self.jenkins_production_job_pattern,
            jenkins_deploy_pattern=self.jenkins_deploy_pattern,
            jenkins_rollback_pattern=self.jenkins_rollback_pattern,
            alert_service_labels=tuple(self.alert_service_labels),
            alert_environment_labels=tuple(self.alert_environment_labels),
            alert_match=self.alert_match,
            incident_label=self.incident_label,
            catalog=self.catalog(),
        )

    def engine_config(self) -> EngineConfig:
        from metrics_worker.engine import EngineConfig

        window = self.attribution_window if self.attribution_window > timedelta(0) else None
        retention = self.retention if self.retention > timedelta(0) else None
        return EngineConfig(attribution_window=window, retention=retention)

    def verification_summary(self) -> str:
        """One line for the startup log: which sources verify what."""
        parts = []
        for name, secret in (
            ("github", self.github_secret),
            ("jenkins", self.jenkins_token),
            ("alertmanager", self.alertmanager_token),
        ):
            if secret is not None:
                parts.append(f"{name}=on")
            elif self.allow_unsigned:
                parts.append(f"{name}=OFF (METRICSYNC_ALLOW_UNSIGNED=true)")
            else:
                parts.append(f"{name}=rejecting (no secret set)")
        return " ".join(parts)

    def public_url(self) -> str:
        """Where a browser on this machine reaches this server (the dashboard), e.g. http://127.0.0.1:8000/."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"
