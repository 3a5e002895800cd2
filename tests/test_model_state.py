"""``shared_core.model_state``: a directly built pydantic object equals the validated one, and the check that
guards every direct builder tells apart what validation would have made differently."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared_core.integration import direct_model, same_model_state


class Closed(BaseModel):
    text: str
    size: int = 0


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str


class Label(str):
    """A ``str`` subclass, as LangChain's ``TextAccessor``."""


def test_model_state_direct_model_has_the_validated_state() -> None:
    built = direct_model(Closed, {"text": "x", "size": 0}, {"text"})
    validated = Closed(text="x")
    assert same_model_state(built, validated)
    assert built == validated and built.model_dump() == validated.model_dump()
    assert built.model_fields_set == {"text"}
    assert same_model_state(direct_model(Open, {"text": "y"}, {"text"}, extra={}), Open(text="y"))


def test_model_state_check_tells_every_kind_of_difference() -> None:
    validated = Closed(text="x")
    assert not same_model_state(direct_model(Closed, {"text": "x", "size": 1}, {"text"}), validated)
    assert not same_model_state(direct_model(Closed, {"text": "x", "size": 0}, {"text", "size"}), validated)
    assert not same_model_state(direct_model(Closed, {"text": Label("x"), "size": 0}, {"text"}), validated), (
        "an equal value of another type is a difference"
    )
    assert not same_model_state(direct_model(Closed, {"text": "x", "size": 0}, {"text"}, extra={}), validated)
    assert not same_model_state(direct_model(Open, {"text": "x"}, {"text"}, extra={}), validated)
