"""Keep the credential out of everything a run leaves behind.

`configuration` is removed from the final state, but a job can still copy a secret into `data`
or print it: every string value of the credential is masked wherever it reappears.
"""

from __future__ import annotations

from typing import Any

MASK = "***"
# Shorter values (a port, "true") are too common to mask without mangling ordinary output.
MIN_SECRET_LENGTH = 4


class Scrubber:
    def __init__(self, credential: Any) -> None:
        secrets = {value for value in _leaves(credential) if len(value) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(secrets, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """A copy of a JSON value with secrets masked in every string and key."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        return value

    def final_state(self, state: Any) -> Any:
        if isinstance(state, dict):
            state = {key: item for key, item in state.items() if key != "configuration"}
        return self.value(state)


def credential_values(credential: Any) -> list[str]:
    """Every string value of the credential (what `Scrubber` masks)."""
    return _leaves(credential)


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, bool) or value is None:
        return []
    return [str(value)]
