"""The authenticator finds the caller by the hash of its token, keeps no token, and refuses
what is missing, malformed or unknown."""

from __future__ import annotations

import pytest

from server.auth import AuthenticationError, Authenticator, Principal
from server.config import Participant, Role, hash_token

PEOPLE = [
    Participant("ops", Role.OPERATOR, hash_token("op-secret")),
    Participant("A", Role.DEALER, hash_token("a-secret")),
    Participant("B", Role.DEALER, hash_token("b-secret")),
    Participant("A-again", Role.OBSERVER, hash_token("a-secret")),  # same token: first wins
]


def bearer(token: str) -> list[tuple[str, str | bytes]]:
    return [("user-agent", "x"), ("authorization", f"Bearer {token}")]


def test_each_token_names_its_participant() -> None:
    auth = Authenticator(PEOPLE)
    assert auth.authenticate(bearer("op-secret")) == Principal("ops", Role.OPERATOR)
    assert auth.authenticate(bearer("b-secret")) == Principal("B", Role.DEALER)
    assert auth.authenticate(bearer("a-secret")) == Principal("A", Role.DEALER)
    assert auth.authenticate([("Authorization", "bearer  b-secret ")]).participant_id == "B"


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        [],
        bearer("nope"),
        bearer("a-secre"),
        bearer(hash_token("a-secret")),  # the stored hash is not a token
        [("authorization", "Basic a-secret")],
        [("authorization", b"Bearer a-secret")],
        [("authorization", "Bearer ")],
        [*bearer("a-secret"), *bearer("b-secret")],
    ],
)
def test_missing_malformed_or_unknown_credentials_are_refused(
    metadata: list[tuple[str, str | bytes]] | None,
) -> None:
    with pytest.raises(AuthenticationError):
        Authenticator(PEOPLE).authenticate(metadata)


def test_no_token_is_kept() -> None:
    auth = Authenticator(PEOPLE)
    auth.authenticate(bearer("a-secret"))
    kept = repr(vars(auth) if hasattr(auth, "__dict__") else auth)
    for secret in ("op-secret", "a-secret", "b-secret"):
        assert secret not in kept
    assert set(auth._by_hash) == {p.token_hash for p in PEOPLE}
