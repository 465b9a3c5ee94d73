import consentgate


def test_all_is_sorted_and_every_name_resolves():
    assert consentgate.__all__ == sorted(consentgate.__all__)
    for name in consentgate.__all__:
        assert getattr(consentgate, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    try:
        consentgate.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("expected AttributeError")
