"""CDS Hooks 2.0 request, response and feedback shapes (pydantic).

Requests are read leniently where the spec's own examples are (``fhirAuthorization`` in
snake_case as the spec writes it, or camelCase as the HL7 logical model does; unknown fields
and ``extension`` allowed). Responses follow the spec: optional fields are omitted, never null.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

__all__ = [
    "Action",
    "Card",
    "CdsRequest",
    "Coding",
    "FeedbackItem",
    "FeedbackRequest",
    "FhirAuthorization",
    "Link",
    "Response",
    "Source",
    "Suggestion",
]

Text = str


class Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class FhirAuthorization(Lenient):
    access_token: str = Field(
        min_length=1, validation_alias=AliasChoices("access_token", "accessToken")
    )
    token_type: str = Field(
        default="Bearer", validation_alias=AliasChoices("token_type", "tokenType")
    )
    expires_in: int | None = Field(
        default=None, validation_alias=AliasChoices("expires_in", "expiresIn")
    )
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class CdsRequest(Lenient):
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1, max_length=128)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class Coding(Strict):
    system: str | None = None
    code: str
    display: str | None = None


class Source(Strict):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(Strict):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(Strict):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(Strict):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None


class Card(Strict):
    uuid: str | None = None
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None


class Response(Strict):
    cards: list[Card]
    systemActions: list[Action] | None = None


class AcceptedSuggestion(Lenient):
    id: str = Field(min_length=1)


class OverrideReason(Lenient):
    reason: dict[str, Any] | None = None
    userComment: str | None = Field(default=None, max_length=4000)


class FeedbackItem(Lenient):
    card: str = Field(min_length=1, max_length=36)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str = Field(min_length=1)


class FeedbackRequest(Lenient):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=200)
