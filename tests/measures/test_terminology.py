import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from trdnav.measures.records import Coding
from trdnav.measures.terminology import Code, CodeTerms, Terms, ValueSet, ValueSetTerms

SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"

DYSTHYMIA = ValueSet(
    name="Dysthymia",
    oid="2.16.840.1.113883.3.67.1.101.1.254",
    url="http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.67.1.101.1.254",
    version="20220219",
    used_by=("cms159",),
    codes={SNOMED: ("19694002",), ICD10: ("F34.1",)},
)


def test_a_coding_matches_by_system_and_code_only():
    terms = Terms.of_value_sets([DYSTHYMIA])
    assert terms.match([Coding(ICD10, "F34.1", "Dysthymic disorder")]).label == "Dysthymia"
    assert terms.match([Coding(SNOMED, "F34.1")]) is None  # right code, wrong system
    assert terms.match([Coding(ICD10, "F34.10")]) is None
    found = terms.match([Coding(ICD10, "F32.9"), Coding(SNOMED, "19694002")])
    assert found is not None
    assert found.coding.code == "19694002"
    assert str(found) == "Dysthymia (19694002)"
    assert Coding(ICD10, "F34.1") in terms
    assert len(terms) == 2


def test_listed_codes_are_labelled_by_their_display():
    terms = Terms.of_codes([Code(system="http://loinc.org", code="45755-6", display="Hospice")])
    assert str(terms.match([Coding("http://loinc.org", "45755-6")])) == "Hospice (45755-6)"


class Config(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    dx: ValueSetTerms
    yes: CodeTerms


def test_fields_resolve_oids_from_the_context_and_name_the_unknown():
    context = {"value_sets": {DYSTHYMIA.oid: DYSTHYMIA}}
    data = {"dx": [DYSTHYMIA.oid], "yes": [{"system": SNOMED, "code": "373066001"}]}
    config = Config.model_validate(data, context=context)
    assert config.dx.labels == ("Dysthymia",)
    with pytest.raises(ValidationError, match=r"unknown value set 1\.2\.3"):
        Config.model_validate({**data, "dx": ["1.2.3"]}, context=context)
    with pytest.raises(ValidationError, match="list of codes"):
        Config.model_validate({**data, "yes": []}, context=context)
