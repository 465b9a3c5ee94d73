"""The policy: the few choices the contract leaves to configuration, read from TOML.

A policy is data, loaded the same way whether it is the shipped default
(``consentgate/default_policy.toml``) or a customer's own file. Its ``digest`` names the
exact text it came from and is stamped on every decision.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

DEFAULT_SELF_CONSENT_ONLY_REGIONS = frozenset({"EU", "UK"})
_SECTIONS = {"consent": {"self_consent_only_regions"}, "settings": {"defaults"}}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Policy:
    """What the rules leave to configuration.

    Attributes:
        self_consent_only_regions: account regions where only a consent given by the
            subject themselves counts.
        setting_defaults: the product default of each setting key; a missing key is false.
        digest: ``"sha256:<hex>"`` of the policy text; policies built in code get the
            digest of a canonical JSON form of their values.
    """

    self_consent_only_regions: frozenset[str] = DEFAULT_SELF_CONSENT_ONLY_REGIONS
    setting_defaults: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    digest: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "self_consent_only_regions", frozenset(self.self_consent_only_regions))
        object.__setattr__(self, "setting_defaults", MappingProxyType(dict(self.setting_defaults)))
        if not self.digest:
            canonical = {
                "self_consent_only_regions": sorted(self.self_consent_only_regions),
                "setting_defaults": dict(sorted(self.setting_defaults.items())),
            }
            object.__setattr__(self, "digest", _digest(json.dumps(canonical).encode()))

    def __reduce__(self) -> tuple[Any, ...]:
        # The read-only mapping does not pickle; its items do (worker processes get the policy).
        return (Policy, (self.self_consent_only_regions, dict(self.setting_defaults), self.digest))

    def setting_default(self, key: str) -> bool:
        """The product default of setting ``key`` (false when the policy does not name it)."""
        return self.setting_defaults.get(key, False)

    @classmethod
    def from_toml(cls, text: str | bytes) -> Policy:
        """Read a policy from the text of a TOML file (see ``default_policy.toml``).

        Raises:
            ValueError: the text is not TOML, or names an unknown key, or a value has
                the wrong type; the message says which.
        """
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        try:
            document = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"not a valid TOML document: {exc}") from None
        for name, table in document.items():
            if name not in _SECTIONS:
                raise ValueError(f"unknown section [{name}]; expected one of {sorted(_SECTIONS)}")
            if not isinstance(table, dict):
                raise ValueError(f"[{name}] must be a table")
            for key in table:
                if key not in _SECTIONS[name]:
                    raise ValueError(f"unknown key {name}.{key}; expected one of {sorted(_SECTIONS[name])}")
        regions = document.get("consent", {}).get(
            "self_consent_only_regions", sorted(DEFAULT_SELF_CONSENT_ONLY_REGIONS)
        )
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise ValueError("consent.self_consent_only_regions must be a list of region names")
        defaults = _flatten(document.get("settings", {}).get("defaults", {}), "settings.defaults")
        return cls(frozenset(regions), defaults, _digest(data))

    @classmethod
    def default(cls) -> Policy:
        """The policy shipped with the product (``consentgate/default_policy.toml``)."""
        return _default_policy()


def _flatten(table: Any, where: str, prefix: str = "") -> dict[str, bool]:
    # An unquoted dotted key (feature.recording = true) is a nested table in TOML;
    # reading it back as the dotted setting key spares users a confusing error.
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table of setting keys")
    flat: dict[str, bool] = {}
    for key, value in table.items():
        name = prefix + key
        if isinstance(value, dict):
            flat.update(_flatten(value, where, name + "."))
        elif isinstance(value, bool):
            flat[name] = value
        else:
            raise ValueError(f"{where}.{name} must be true or false, not {value!r}")
    return flat


@cache
def _default_policy() -> Policy:
    text = resources.files("consentgate").joinpath("default_policy.toml").read_bytes()
    return Policy.from_toml(text)
