"""The shared CA's rotation steps (:func:`podscaler.metricsapi.carotation.rotation_step`):
introduce at two thirds of the CA's life, switch and retire each after the overlap, the
trust bundle at each step, and the Secret's encoding round trip."""

from __future__ import annotations

import datetime as dt

from podscaler.metricsapi.carotation import (
    SharedCa,
    decode_shared_ca,
    encode_shared_ca,
    rotation_step,
)
from podscaler.pki import Authority

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
YEAR = dt.timedelta(days=365)
OVERLAP = dt.timedelta(hours=1)


def _ca(name: str, at: dt.datetime = START) -> Authority:
    return Authority.create(name, now=at, validity=YEAR)


def test_three_steps_each_after_the_overlap() -> None:
    due = START + YEAR * 2 / 3 + dt.timedelta(minutes=1)
    old, new = _ca("old"), _ca("new", due)  # minted when due
    state = SharedCa(old)
    young = START + YEAR / 2
    assert rotation_step(state, young, overlap=OVERLAP, mint=lambda: new) is None

    introduced = rotation_step(state, due, overlap=OVERLAP, mint=lambda: new)
    assert introduced is not None
    assert introduced.signing is old
    assert introduced.next is new
    assert introduced.trust_bundle() == old.pem + new.pem

    assert rotation_step(introduced, due + OVERLAP / 2, overlap=OVERLAP, mint=lambda: new) is None
    switched = rotation_step(introduced, due + OVERLAP, overlap=OVERLAP, mint=lambda: new)
    assert switched is not None
    assert switched.signing is new
    assert switched.next is None
    assert switched.trust_bundle() == new.pem + old.pem

    later = due + OVERLAP * 3 / 2
    assert rotation_step(switched, later, overlap=OVERLAP, mint=lambda: new) is None
    retired = rotation_step(switched, due + OVERLAP * 2, overlap=OVERLAP, mint=lambda: new)
    assert retired is not None
    assert retired.trust_bundle() == new.pem
    # A fresh CA is not due again.
    assert rotation_step(retired, due + OVERLAP * 3, overlap=OVERLAP, mint=lambda: new) is None


def test_force_starts_a_rotation_of_a_young_ca() -> None:
    old, new = _ca("old"), _ca("new")
    stepped = rotation_step(SharedCa(old), START, overlap=OVERLAP, mint=lambda: new, force=True)
    assert stepped is not None
    assert stepped.next is new


def test_the_secret_round_trips_every_step() -> None:
    old, new = _ca("old"), _ca("new")
    for state in (
        SharedCa(old),
        SharedCa(old, new, None, START),
        SharedCa(new, None, old.pem, START),
    ):
        data, annotations = encode_shared_ca(state)
        decoded = decode_shared_ca({"metadata": {"annotations": annotations}, "data": data})
        assert decoded.trust_bundle() == state.trust_bundle()
        assert decoded.signing.key_pem == state.signing.key_pem
        assert decoded.step_at == state.step_at
