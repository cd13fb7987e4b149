"""Building blocks of the knowledge models: ids, text, and the cited fact."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["Cited", "Confidence", "Id", "Model", "Text"]

Confidence = Literal["verified", "secondary", "unverified"]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cited(Model):
    """A fact with its sources (ids into ``sources``) and a confidence tag."""

    sources: list[Id] = Field(min_length=1)
    confidence: Confidence = "secondary"
