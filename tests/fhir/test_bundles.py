import json
from pathlib import Path

import pytest

from trdnav.errors import InputError
from trdnav.fhir.bundles import read_resources
from trdnav.fhir.resources import patient_records

CMS2 = Path(__file__).resolve().parents[1] / "conformance" / "cms2"


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_a_folder_is_read_recursively_in_name_order():
    found = read_resources([CMS2])
    files = []
    for item in found:
        name = item.where.split(":")[0]
        if name not in files:
            files.append(name)
    assert files == sorted(files)
    assert len(files) == 36
    assert found[0].where.endswith(": entry[0].resource")
    assert str(found[0].full_url).startswith("https://madie.cms.gov/")
    assert len(patient_records(found)) == 36


def test_bulk_ndjson_and_single_resources(tmp_path):
    patients = "\n".join(
        json.dumps({"resourceType": "Patient", "id": pid, "birthDate": "2000-01-01"})
        for pid in ("a", "b")
    )
    write(tmp_path / "Patient.ndjson", patients + "\n\n")
    write(
        tmp_path / "Observation.ndjson",
        json.dumps(
            {
                "resourceType": "Observation",
                "id": "o1",
                "status": "final",
                "subject": {"reference": "Patient/b"},
            }
        ),
    )
    write(tmp_path / "notes.txt", "not FHIR")
    single = write(tmp_path / "c.json", {"resourceType": "Patient", "id": "c"})
    found = read_resources([tmp_path / "Observation.ndjson", tmp_path / "Patient.ndjson", single])
    assert [f.where for f in found] == [
        f"{tmp_path}/Observation.ndjson line 1",
        f"{tmp_path}/Patient.ndjson line 1",
        f"{tmp_path}/Patient.ndjson line 2",
        f"{tmp_path}/c.json",
    ]
    records = {p.id: p for p in patient_records(found)}
    assert [o.id for o in records["b"].observations] == ["o1"]


def test_every_unreadable_input_is_reported(tmp_path):
    write(tmp_path / "broken.json", '{"resourceType": "Bundle", "entry": [}')
    write(tmp_path / "list.json", "[1, 2]")
    write(tmp_path / "entries.json", {"resourceType": "Bundle", "entry": [3]})
    write(tmp_path / "lines.ndjson", '{"resourceType": "Patient", "id": "a"}\n{oops\n')
    (tmp_path / "latin1.json").write_bytes('{"name": "Jos\xe9"}'.encode("latin-1"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as info:
        read_resources([tmp_path, tmp_path / "missing.json", tmp_path / "empty"])
    lines = "\n".join(info.value.lines())
    assert f'{tmp_path}/broken.json (line 1, column 38): got "Expecting value"' in lines
    assert "expected valid JSON" in lines
    assert f'{tmp_path}/list.json: got "an array"; expected a FHIR Bundle or resource' in lines
    assert f'{tmp_path}/entries.json: entry[0]: got "a number"; expected a Bundle entry' in lines
    assert f"{tmp_path}/lines.ndjson line 2 (line 1, column 2)" in lines
    assert f"{tmp_path}/latin1.json: got null; expected a UTF-8 encoded JSON file" in lines
    assert f'PATH: got "{tmp_path}/missing.json"; expected an existing file or folder' in lines
    assert f'PATH: got "{tmp_path}/empty"; expected a folder holding' in lines
