"""Literals survive the trip: compiled argument text -> job argv -> annotation conversion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sagepipe import contract
from sagepipe.compile import _argument_text, _hyperparameter_text

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40).filter(
        lambda s: not (s.startswith('"') and s.endswith('"'))
    ),
)


@given(scalars)
def test_processing_argument_round_trip(value: object) -> None:
    text = _argument_text(value)
    assert isinstance(text, str)
    assert contract.convert(text, type(value), "x") == value


@given(scalars)
def test_training_hyperparameter_round_trip(value: object) -> None:
    # The definition holds JSON text; the framework container decodes it and passes it on.
    text = _hyperparameter_text(value)
    received = contract.parse_args(["--x", text])["x"]
    assert contract.convert(contract._decode_hp(received), type(value), "x") == value
