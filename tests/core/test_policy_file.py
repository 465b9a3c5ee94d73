"""The policy file: its keys, its errors, and the digest stamped on decisions."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from consentgate.core import Policy


def test_default_policy_is_the_shipped_file():
    text = resources.files("consentgate").joinpath("default_policy.toml").read_bytes()
    policy = Policy.default()
    assert policy.digest == "sha256:" + hashlib.sha256(text).hexdigest()
    assert policy.self_consent_only_regions == {"EU", "UK"}
    assert policy.setting_default("feature.recording") is False


def test_digest_changes_with_the_text_even_a_comment():
    text = '[consent]\nself_consent_only_regions = ["EU"]\n'
    assert Policy.from_toml(text).digest != Policy.from_toml("# note\n" + text).digest
    assert Policy.from_toml(text).digest == Policy.from_toml(text.encode()).digest


def test_keys_are_read():
    policy = Policy.from_toml(
        '[consent]\nself_consent_only_regions = ["BR"]\n'
        '[settings.defaults]\n"feature.recording" = true\nai_training.customer_content = true\n'
    )
    assert policy.self_consent_only_regions == {"BR"}
    assert policy.setting_defaults == {"feature.recording": True, "ai_training.customer_content": True}
    assert policy.setting_default("unlisted") is False


def test_empty_file_keeps_the_contract_defaults():
    policy = Policy.from_toml("")
    assert (policy.self_consent_only_regions, dict(policy.setting_defaults)) == ({"EU", "UK"}, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[consent", "not a valid TOML document"),
        ("[rules]\n", "unknown section [rules]"),
        ("[consent]\nregions = []\n", "unknown key consent.regions"),
        ('[consent]\nself_consent_only_regions = "EU"\n', "must be a list of region names"),
        (
            '[settings.defaults]\n"feature.recording" = "yes"\n',
            "settings.defaults.feature.recording must be true",
        ),
        ("consent = 1\n", "[consent] must be a table"),
        ("[settings]\ndefaults = 1\n", "settings.defaults must be a table"),
    ],
)
def test_bad_policy_files_are_refused(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(".", r"\.")):
        Policy.from_toml(text)


def test_policies_built_in_code_have_a_digest_of_their_values():
    assert Policy().digest.startswith("sha256:")
    assert Policy().digest == Policy(frozenset({"UK", "EU"})).digest
    assert Policy().digest != Policy(setting_defaults={"k": True}).digest


def test_policy_is_immutable():
    policy = Policy(setting_defaults={"k": True})
    with pytest.raises(TypeError):
        policy.setting_defaults["k"] = False  # type: ignore[index]


def test_a_policy_survives_pickling_unchanged():
    import pickle

    policy = Policy.from_toml(b'[consent]\nself_consent_only_regions = ["EU"]\n[settings.defaults]\n"x.y" = true\n')
    copy = pickle.loads(pickle.dumps(policy))
    assert copy == policy and copy.digest == policy.digest
    assert copy.setting_default("x.y") is True and copy.setting_default("other") is False
