"""Validating FHIR resources against the FHIR R4 models (``fhir.resources.R4B``; the package's
top level is R5, which rejects R4 data).

Used for Bundles sent to the import (one resource at a time, so each problem names its entry);
bulk NDJSON files and CDS Hooks prefetch are read as plain JSON instead, checking only the
elements trdnav reads (see ``docs/fhir.md`` for why). A resource type of another FHIR version
is named as such, and so is an element that R4 does not have.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from trdnav.core.history import FHIR_ID_EXPECTED
from trdnav.errors import Problem, format_path
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.elements import DATETIME_EXPECTED
from trdnav.fhir.resources import Located

__all__ = ["r4_model", "validate_r4"]

_EXPECTED = {
    "missing": "a value (the element is required in FHIR R4)",
    "model_field_validation.missing": "a value (the element is required in FHIR R4)",
    "json_invalid": "a JSON object: the element is a complex type in FHIR R4 (a plain value here "
    "is the form of an earlier FHIR version)",
    "model_type": "a JSON object: the element is a complex type in FHIR R4",
    "dict_type": "a JSON object",
    "list_type": "a JSON array: the element repeats in FHIR R4",
    "int_parsing": "an integer",
    "int_type": "an integer",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "float_parsing": "a number",
    "decimal_parsing": "a number",
    "string_type": "a string",
}


@cache
def r4_model(resource_type: str) -> type[BaseModel] | None:
    """The R4 model of a resource type, or None when R4 has no such type."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model: type[BaseModel] = get_fhir_model_class(resource_type)
    except (ValueError, KeyError, ImportError):
        return None
    return model


def _expected(err: dict[str, Any], kind: str) -> str:
    code = err["type"]
    if code == "extra_forbidden":
        return f"no such element in FHIR R4 {kind} (is this another FHIR version, such as R5?)"
    if code in _EXPECTED:
        return _EXPECTED[code]
    message = str(err.get("msg", ""))
    if "DateTime value" in message or "Instant value" in message:
        return DATETIME_EXPECTED
    if "Date value" in message:
        return "a FHIR date: YYYY, YYYY-MM or YYYY-MM-DD"
    if code == "string_pattern_mismatch" and err["loc"][-1:] == ("id",):
        return FHIR_ID_EXPECTED
    if code == "string_pattern_mismatch":
        return "a string without leading or trailing spaces, as FHIR R4 requires"
    return message.removeprefix("Value error, ")


def validate_r4(items: Iterable[Located], codes: FhirCodes) -> list[Problem]:
    """A problem for each resource type that R4 does not have and each element R4 rejects."""
    problems: list[Problem] = []
    for item in items:
        res = item.resource
        if not isinstance(res, dict):
            problems.append(Problem(item.where, res, "a FHIR resource (a JSON object)"))
            continue
        kind = res.get("resourceType")
        if not isinstance(kind, str):
            problems.append(Problem(f"{item.where}.resourceType", kind, "a FHIR resource type"))
            continue
        if kind in codes.other_versions:
            hint = codes.other_versions[kind]
            problems.append(
                Problem(
                    f"{item.where}.resourceType",
                    kind,
                    f"a FHIR R4 resource type ({kind} is {hint})",
                )
            )
            continue
        model = r4_model(kind)
        if model is None:
            problems.append(Problem(f"{item.where}.resourceType", kind, "a FHIR R4 resource type"))
            continue
        try:
            model.model_validate(res)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                missing = err["type"].endswith("missing")
                problems.append(
                    Problem(
                        f"{item.where}.{format_path(err['loc'])}",
                        None if missing else err.get("input"),
                        _expected(dict(err), kind),
                        missing=missing,
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:  # nested resources of unknown types
            problems.append(Problem(item.where, kind, f"a FHIR R4 resource ({exc})"))
    return problems
