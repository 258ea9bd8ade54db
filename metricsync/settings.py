"""All of MetricSync's settings: read once from the environment (prefix METRICSYNC_) at the entry
point, then passed down.

The packages' own config objects are nested, not re-declared: `ingest` is `ingest.config.IngestConfig`
(secrets of every source, limits), `mapping` is `normalizer.rules.MappingRules` (patterns, labels,
matchers; its catalog comes from the `config` file). Each of their fields is read from the flat name it
has always had, `METRICSYNC_<FIELD>` (`METRICSYNC_GITHUB_SECRET`, `METRICSYNC_ALERT_MATCH`), or from
pydantic-settings' nested form `METRICSYNC_INGEST__<FIELD>` / `METRICSYNC_MAPPING__<FIELD>`, which wins
when both are set. List settings are comma-separated in either form.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_origin

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ingest.config import MIB, IngestConfig
from metricsync.durations import parse_duration
from metricsync.logs import LogFormat
from normalizer.rules import MappingRules
from schemas.catalog import ServiceCatalog
from schemas.errors import ConfigError

if TYPE_CHECKING:
    from metrics_worker.engine import EngineConfig


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


PREFIX = "METRICSYNC_"
# nested config objects whose fields keep their flat names (METRICSYNC_<FIELD>); `catalog` comes from a file
NESTED: Mapping[str, tuple[type[BaseModel], frozenset[str]]] = {
    "ingest": (IngestConfig, frozenset()),
    "mapping": (MappingRules, frozenset({"catalog"})),
}


def _is_list(info: FieldInfo) -> bool:
    return get_origin(info.annotation) in (list, tuple)


def _flat_value(info: FieldInfo, value: Any) -> Any:
    return _split_list(value) if _is_list(info) else value


def lift_flat(values: Mapping[str, Any]) -> dict[str, Any]:
    """Flat keys naming a field of a nested config (`github_secret`) moved under it (`ingest`); a value
    already given in the nested form wins."""
    out = dict(values)
    for section, (model, skipped) in NESTED.items():
        nested = dict(out.get(section) or {}) if not isinstance(out.get(section), BaseModel) else None
        if nested is None:
            continue
        for name, info in model.model_fields.items():
            if name in skipped or name not in out:
                continue
            flat = out.pop(name)
            nested.setdefault(name, _flat_value(info, flat))
        if nested:
            out[section] = nested
    return out


class FlatEnvSource(PydanticBaseSettingsSource):
    """Today's variable names for the nested configs: `METRICSYNC_<FIELD>` (case-insensitive)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = {name.upper(): value for name, value in environ.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ builds the whole mapping

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for section, (model, skipped) in NESTED.items():
            for name, info in model.model_fields.items():
                value = self._environ.get(f"{PREFIX}{name.upper()}")
                if name not in skipped and value is not None:
                    out.setdefault(section, {})[name] = _flat_value(info, value)
        return out


class Settings(BaseSettings):
    # enable_decoding off: list settings are comma-separated text, never JSON
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_nested_delimiter="__", extra="ignore", frozen=True, enable_decoding=False
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # earlier wins: constructor arguments, METRICSYNC_INGEST__X, METRICSYNC_X, defaults
        flat = FlatEnvSource(settings_cls, os.environ)
        return (init_settings, env_settings, flat, dotenv_settings, file_secret_settings)

    # serving (embedded mode and the HTTP services)
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./metricsync-data")
    log_level: str = "INFO"
    log_format: LogFormat = "text"  # METRICSYNC_LOG_FORMAT: text lines, or JSON lines with fields

    # ingest: every source's secret, allow_unsigned, max_body_bytes (ingest/config.py)
    ingest: IngestConfig = Field(default_factory=IngestConfig)

    # read API
    api_token: SecretStr | None = None
    api_refresh_interval: timedelta = timedelta(milliseconds=250)  # distributed: how stale a read may be

    # mapping rules (normalizer/rules.py); the service catalog from the TOML file `config`
    config: Path | None = None  # TOML: service aliases and teams
    mapping: MappingRules = Field(default_factory=MappingRules)

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
    # consumer services: a Kafka/MongoDB outage longer than this makes them not ready (healthcheck --ready)
    not_ready_after: timedelta = timedelta(seconds=30)
    # consumer services: SIGTERM to exit, whatever state Kafka is in (the manifests give 30 s)
    stop_timeout: timedelta = timedelta(seconds=25)
    # ingest: a delivery id answered `duplicate` (not published again) for this long after it was
    # acknowledged; later re-sends are published again (downstream is idempotent)
    duplicate_memory: timedelta = timedelta(seconds=60)

    # /metrics (docs/observability.md)
    metrics_port: int = Field(default=9464, ge=0, le=65535)  # normalizer and worker listener; 0: none
    metrics_window: timedelta = timedelta(days=30)  # trailing window of the metricsync_dora_* gauges
    metrics_multiproc_dir: Path | None = None  # ingest with INGEST_WORKERS > 1; default: a temporary one

    # distributed mode: MongoDB
    mongo_uri: str = "mongodb://127.0.0.1:27017/"
    mongo_db: str = "metricsync"
    raw_collection: str = "raw_deliveries"
    events_collection: str = "events"
    event_ids_collection: str = "event_ids"
    state_collection: str = "service_state"
    dead_letter_collection: str = "dead_letters"
    meta_collection: str = "meta"  # the rules fingerprints (docs/operations.md, "Catalog and rule changes")

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, values: Any) -> Any:
        """`Settings(github_secret=...)` as before: flat names of nested fields go under their section."""
        return lift_flat(values) if isinstance(values, Mapping) else values

    @field_validator("ingest", "mapping", mode="before")
    @classmethod
    def _lists(cls, value: Any, info: ValidationInfo) -> Any:
        """Comma-separated lists in the nested form too (`METRICSYNC_MAPPING__ALERT_SERVICE_LABELS=a,b`)."""
        if not isinstance(value, Mapping):
            return value
        model = NESTED[info.field_name or ""][0]
        return {
            name: _flat_value(model.model_fields[name], item) if name in model.model_fields else item
            for name, item in value.items()
        }

    @field_validator(
        "attribution_window",
        "retention",
        "api_refresh_interval",
        "kafka_send_timeout",
        "worker_checkpoint_interval",
        "not_ready_after",
        "stop_timeout",
        "duplicate_memory",
        "metrics_window",
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
        return self.ingest

    def mapping_rules(self) -> MappingRules:
        """The mapping rules with the service catalog read from the `config` file."""
        return self.mapping.model_copy(update={"catalog": self.catalog()})

    def engine_config(self) -> EngineConfig:
        from metrics_worker.engine import EngineConfig

        window = self.attribution_window if self.attribution_window > timedelta(0) else None
        retention = self.retention if self.retention > timedelta(0) else None
        return EngineConfig(attribution_window=window, retention=retention)

    def verification_summary(self) -> str:
        """One line for the startup log: which sources verify what."""
        from metricsync.sources import verification_summary

        return verification_summary(self.ingest)

    def public_url(self) -> str:
        """Where a browser on this machine reaches this server (the dashboard), e.g. http://127.0.0.1:8000/."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"
