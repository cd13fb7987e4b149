"""Building blocks of the knowledge models: ids, text, and the cited fact."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["ID_LENGTH", "Cited", "Confidence", "Id", "Model", "Text"]

Confidence = Literal["verified", "secondary", "unverified"]
ID_LENGTH = 64
"""The longest id: drug, condition and course-template ids are kept with a patient's records
in columns of this length."""
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", max_length=ID_LENGTH)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def _private(self, name: str) -> Any:
        """The value of private attribute ``name``, read from pydantic's store of them. Reading
        ``self._name`` finds it too, through pydantic's ``__getattr__``, which takes some
        microseconds: too slow for the lookups every assessment makes dozens of times."""
        private = self.__pydantic_private__
        assert private is not None, "a model with private attributes"
        return private[name]


class Cited(Model):
    """A fact with its sources (ids into ``sources``) and a confidence tag."""

    sources: list[Id] = Field(min_length=1)
    confidence: Confidence = "secondary"
