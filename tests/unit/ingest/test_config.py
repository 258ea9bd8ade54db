"""IngestConfig: defaults, blank secrets, immutability."""

import pydantic
import pytest
from pydantic import SecretStr

from ingest.config import IngestConfig


def test_defaults() -> None:
    config = IngestConfig()

    assert config.github_secret is None
    assert config.jenkins_token is None
    assert config.alertmanager_token is None
    assert config.github_allow_sha1 is False
    assert config.allow_unsigned is False
    assert config.max_body_bytes == 25 * 1024 * 1024


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
@pytest.mark.parametrize("field", ["github_secret", "jenkins_token", "alertmanager_token"])
def test_blank_secret_is_not_configured(field: str, blank: str) -> None:
    assert getattr(IngestConfig.model_validate({field: blank}), field) is None


def test_secret_is_kept_and_hidden() -> None:
    config = IngestConfig(github_secret=SecretStr("s3cr3t"))

    assert config.github_secret is not None
    assert config.github_secret.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(config)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"max_body_bytes": 0}, id="zero-limit"),
        pytest.param({"max_body_bytes": -1}, id="negative-limit"),
        pytest.param({"github_token": "x"}, id="unknown-field"),
    ],
)
def test_invalid(values: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        IngestConfig.model_validate(values)


def test_frozen() -> None:
    config = IngestConfig()

    with pytest.raises(pydantic.ValidationError):
        config.allow_unsigned = True  # type: ignore[misc]
