"""Treatment courses over HTTP: plan, record, re-plan, stop, write back, iCalendar."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

PATIENT = "/patients/example-stage-2"
HAMD_24 = [4, 4, 0, 2, 2, 2, 4, 2, 1, 2, 1, 0, 0, 0, 0, 0, 0]
HAMD_18 = [3, 3, 0, 2, 2, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


@pytest.fixture
def patient(api, example_doc):
    assert api.post("/patients/import", json=example_doc("stage-2-trd")).status_code == 201
    return PATIENT


def version(api):
    return api.get(PATIENT).headers["ETag"]


def new_course(api, template="ect-mwf", start=None, time="08:00"):
    """Plan a course, its verdict reviewed (TMS is a caution for this patient)."""
    start = start or (date.today() - timedelta(days=30)).isoformat()
    response = api.post(
        f"{PATIENT}/courses",
        json={"template": template, "start": start, "session_time": time, "reviewed": True},
        headers={"If-Match": version(api)},
    )
    assert response.status_code == 201, response.text
    return response.json()


def record(api, course, number, body):
    return api.post(
        f"{PATIENT}/courses/{course['id']}/sessions/{number}",
        json=body,
        headers={"If-Match": version(api)},
    )


def test_plan_adds_the_course_to_the_history(api, patient):
    course = new_course(api, start="2026-12-21")
    assert course["status"] == "active"
    assert len(course["sessions"]) == 12
    assert course["holidays"]["2026-12-25"] == "Christmas Day"
    assert "2026-12-25" not in [s["date"] for s in course["sessions"]]
    view = api.get(PATIENT).json()
    ect = [p for p in view["procedures"] if p["type"] == "ECT"]
    assert ect[0]["sessions"] == 0
    assert ect[0]["response"] == "unknown"
    assert view["version"] == 2
    listed = api.get(f"{PATIENT}/courses").json()
    assert [c["template"] for c in listed] == ["ect-mwf"]


def test_a_course_whose_verdict_is_not_eligible_needs_its_review(api, patient):
    body = {"template": "tms-10hz", "start": "2026-12-21"}
    refused = api.post(f"{PATIENT}/courses", json=body, headers={"If-Match": version(api)})
    assert refused.status_code == 422
    [problem] = refused.json()["errors"]
    assert problem["path"] == "reviewed"
    assert "is 'caution' for this patient" in problem["expected"]
    assert "Caution: Seizure disorder" in problem["expected"]
    eligible = {"template": "ect-mwf", "start": "2026-12-21"}  # ECT is eligible: no review
    assert api.post(f"{PATIENT}/courses", json=eligible).status_code == 428
    assert api.get(f"{PATIENT}/courses").json() == []
    assert api.get(PATIENT).json()["version"] == 1
    reviewed = {**body, "reviewed": True}
    planned = api.post(f"{PATIENT}/courses", json=reviewed, headers={"If-Match": version(api)})
    assert planned.status_code == 201


def test_planning_needs_the_patient_version_and_a_known_template(api, patient):
    start = {"template": "ect-mwf", "start": "2026-12-21"}
    assert api.post(f"{PATIENT}/courses", json=start).status_code == 428
    stale = api.post(f"{PATIENT}/courses", json=start, headers={"If-Match": '"9"'})
    assert stale.status_code == 412
    bad = api.post(
        f"{PATIENT}/courses", json={**start, "template": "ect-daily"}, headers={"If-Match": '"1"'}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "template"
    assert api.get(f"{PATIENT}/courses").json() == []


def test_a_full_ect_course_writes_back_a_failed_course(api, patient):
    course = new_course(api)
    record(
        api,
        course,
        1,
        {
            "parameters": {
                "electrode_placement": "right_unilateral",
                "charge_mc": 150,
                "seizure_seconds": 40,
            },
            "measurements": [{"instrument": "HAMD-17", "items": HAMD_24}],
        },
    )
    for n in range(2, 7):
        measurements = [{"instrument": "HAMD-17", "items": HAMD_18}] if n in (3, 6) else []
        response = record(api, course, n, {"measurements": measurements})
        assert response.status_code == 200, response.text
    view = api.get(f"{PATIENT}/courses/{course['id']}").json()
    assert view["delivered"] == 6
    assert view["outcome"] == "partial"
    assert [a["code"] for a in view["alerts"]] == ["ect_plateau"]
    stopped = api.post(
        f"{PATIENT}/courses/{course['id']}/stop",
        json={"reason": "plateau"},
        headers={"If-Match": version(api)},
    )
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert {s["status"] for s in stopped.json()["sessions"][6:]} == {"cancelled"}
    ect = next(p for p in api.get(PATIENT).json()["procedures"] if p["type"] == "ECT")
    assert (ect["sessions"], ect["response"]) == (6, "partial")
    assert ect["end"] is not None
    assessment = api.get(f"{PATIENT}/assessment").json()
    assert assessment["staging"]["mgh_s"] == 6.0  # 3 before + 3 for the failed ECT course
    measurements = api.get(PATIENT).json()["measurements"]
    assert sum(1 for m in measurements if m["instrument"] == "HAMD-17") == 3
    assert record(api, course, 7, {}).status_code == 409


def test_session_problems_change_nothing(api, patient):
    course = new_course(api, template="esketamine-trd")
    before = version(api)
    bad = record(
        api,
        course,
        1,
        {
            "parameters": {"dose_mg": 42, "bp_before": "high", "pulses": 3},
            "side_effects": [{"name": "Hiccups", "severity": "mild"}],
            "measurements": [{"instrument": "MADRS", "items": [7] * 10}],
            "delivered_at": (date.fromisoformat(course["start"]) - timedelta(days=1)).isoformat(),
        },
    )
    assert bad.status_code == 422
    paths = {e["path"] for e in bad.json()["errors"]}
    assert paths >= {
        "parameters.dose_mg",
        "parameters.bp_before",
        "parameters.pulses",
        "side_effects[0].name",
        "measurements[0].items[0]",
        "delivered_at",
    }
    assert version(api) == before
    out_of_order = record(api, course, 2, {})
    assert out_of_order.status_code == 409
    unmeasured = record(api, course, 1, {"parameters": {"dose_mg": 56}})
    assert [e["path"] for e in unmeasured.json()["errors"]] == ["parameters.bp_before"]
    given = {"dose_mg": 56, "bp_before": "124/80"}
    assert record(api, course, 1, {"parameters": given}).status_code == 200
    duplicate = record(api, course, 1, {"parameters": given})
    assert duplicate.status_code == 409
    assert "recorded already" in duplicate.json()["detail"]
    # the patient is under 65: 28 mg is not a labelled dose after the first either
    recorded = version(api)
    younger = record(api, course, 2, {"parameters": {"dose_mg": 28, "bp_before": "124/80"}})
    assert younger.status_code == 422
    assert [e["path"] for e in younger.json()["errors"]] == ["parameters.dose_mg"]
    assert "lower doses from age 65" in younger.json()["errors"][0]["expected"]
    assert version(api) == recorded
    future = record(api, course, 2, {"delivered_at": "2099-01-01T10:00"})
    assert future.status_code == 422


@pytest.mark.parametrize(
    "delivered_at",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:10:00+00:30"],
)
def test_times_at_the_ends_of_the_calendar_are_refused_not_a_server_error(
    api, patient, delivered_at
):
    """A time that UTC or the course's time zone puts outside years 1 to 9999 was a 500."""
    course = new_course(api)
    before = version(api)
    response = record(api, course, 1, {"status": "missed", "delivered_at": delivered_at})
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert (problem["path"], problem["value"]) == ("delivered_at", delivered_at)
    assert version(api) == before


def test_a_course_starts_on_or_after_the_episode_onset(api, patient):
    """A start in year 1 was planned (36 sessions nobody could count) and broke the
    patient's page."""
    response = api.post(
        f"{PATIENT}/courses",
        json={"template": "ect-mwf", "start": "0001-01-01", "reviewed": True},
        headers={"If-Match": version(api)},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "path": "start",
            "value": "0001-01-01",
            "expected": "a date on or after the episode onset (2023-09-01)",
        }
    ]
    assert api.get(f"{PATIENT}/courses").json() == []
    assert new_course(api, start="2023-09-01")["start"] == "2023-09-01"


def test_the_record_an_active_course_keeps_is_changed_only_by_the_course(api, patient):
    """It could be rewritten (ECT 2026 into TMS 2020) and removed, while the course went on
    writing its sessions into it."""
    course = new_course(api)
    stored = [p for p in api.get(PATIENT).json()["procedures"] if p.get("course")]
    [record_] = stored
    item = f"{PATIENT}/procedures/{record_['item_id']}"
    before = version(api)
    rewritten = {**record_, "type": "TMS", "start": "2020-01-01"}
    for response in (
        api.put(item, json=rewritten, headers={"If-Match": before}),
        api.delete(item, headers={"If-Match": before}),
    ):
        assert response.status_code == 409, response.text
        assert f"kept by course {course['id']} (ect-mwf), which is active" in response.text
    assert version(api) == before
    stopped = api.post(
        f"{PATIENT}/courses/{course['id']}/stop",
        json={"reason": "moved"},
        headers={"If-Match": before},
    )
    assert stopped.status_code == 200, stopped.text
    # the course's link stays, though the correction does not repeat it
    unlinked = {k: v for k, v in record_.items() if k not in ("course", "course_template")}
    corrected = api.put(
        item, json={**unlinked, "response": "partial"}, headers={"If-Match": version(api)}
    )
    assert corrected.status_code == 200, corrected.text
    [after] = [p for p in corrected.json()["procedures"] if p["item_id"] == record_["item_id"]]
    assert (after["course"], after["response"]) == (record_["course"], "partial")


def test_a_missed_session_shifts_the_rest_and_keeps_the_plan_history(api, patient):
    course = new_course(api, template="ect-mwf", start="2025-12-22")
    assert record(api, course, 1, {"delivered_at": "2025-12-22T08:05"}).status_code == 200
    missed = record(api, course, 2, {"status": "missed"})
    assert missed.status_code == 200, missed.text
    sessions = missed.json()["sessions"]
    assert [(s["number"], s["date"], s["status"]) for s in sessions[:4]] == [
        (1, "2025-12-22", "delivered"),
        (2, "2025-12-24", "missed"),
        (3, "2025-12-26", "planned"),
        (4, "2025-12-29", "planned"),
    ]
    assert len(sessions) == 13
    plans = api.get(f"{PATIENT}/courses/{course['id']}/plans").json()
    assert [p["reason"] for p in plans] == ["planned", "session 2 missed"]
    assert len(plans[0]["sessions"]) == 12
    assert plans[0]["sessions"][1]["status"] == "planned"
    assert plans[1]["sessions"][1]["status"] == "missed"
    assert plans[1]["sessions"][-1]["date"] > plans[0]["sessions"][-1]["date"]


def _events(ics_bytes):
    calendar = icalendar.Calendar.from_ical(ics_bytes)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_icalendar_export_parses_back_and_updates_in_place(api, patient, clinic):
    with clinic.client("admin") as admin:
        assert (
            admin.patch(
                "/clinic/settings",
                json={
                    "timezone": "Europe/London",
                    "holiday_country": "GB",
                    "holiday_subdivision": "ENG",
                },
            ).status_code
            == 200
        )
    course = new_course(api, template="tms-10hz", start="2026-03-02", time="09:00")
    url = f"{PATIENT}/courses/{course['id']}/calendar.ics"
    first = api.get(url)
    assert first.headers["content-type"].startswith("text/calendar")
    events = _events(first.content)
    assert len(events) == 36
    starts = sorted(e["DTSTART"].dt for e in events.values())
    assert all(s.tzinfo is not None and str(s.tzinfo) == "Europe/London" for s in starts)
    assert {(s.hour, s.minute) for s in starts} == {(9, 0)}  # 09:00 local on both sides of DST
    offsets = {s.utcoffset() for s in starts}
    assert offsets == {timedelta(0), timedelta(hours=1)}  # GMT in March, BST from 29 March
    days = {s.date() for s in starts}
    assert date(2026, 4, 3) not in days  # Good Friday (England)
    assert date(2026, 4, 6) not in days  # Easter Monday (England)
    second_reader = next(iter(vobject.readComponents(first.text)))
    assert len(second_reader.vevent_list) == 36
    assert {v.uid.value for v in second_reader.vevent_list} == set(events)

    assert record(api, course, 1, {"delivered_at": "2026-03-02T09:00"}).status_code == 200
    assert record(api, course, 2, {"status": "missed"}).status_code == 200
    again = _events(api.get(url).content)
    assert set(events) <= set(again)  # same UIDs: a re-import updates, not duplicates
    assert len(again) == 37
    uid2 = next(u for u in again if u.startswith(course["uid"]) and u.split("@")[0].endswith("-2"))
    assert str(again[uid2]["STATUS"]) == "CANCELLED"
    assert {int(e["SEQUENCE"]) for e in again.values()} == {2}


def test_clinic_settings_are_validated_and_admin_only(clinic, api, patient):
    assert api.patch("/clinic/settings", json={"timezone": "UTC"}).status_code == 403
    with clinic.client("admin") as admin:
        bad = admin.patch(
            "/clinic/settings",
            json={
                "timezone": "Mars/Olympus",
                "holiday_country": "XX",
                "closures": ["2027-02-30"],
                "working_days": ["mon", "funday"],
            },
        )
        assert bad.status_code == 422
        assert {e["path"] for e in bad.json()["errors"]} == {
            "timezone",
            "holiday_country",
            "closures[0]",
            "working_days",
        }
        ok = admin.patch(
            "/clinic/settings",
            json={"closures": ["2027-03-03"], "working_days": ["mon", "tue", "wed", "thu"]},
        )
        assert ok.json()["working_days"] == ["mon", "tue", "wed", "thu"]
    course = new_course(api, template="tms-10hz", start="2027-03-01")
    days = {date.fromisoformat(s["date"]) for s in course["sessions"]}
    assert date(2027, 3, 3) not in days
    assert {d.weekday() for d in days} <= {0, 1, 2, 3}


def test_course_reads_and_writes_are_audited(clinic, api, patient):
    course = new_course(api)
    api.get(f"{PATIENT}/courses/{course['id']}")
    record(api, course, 1, {})
    with clinic.client("admin") as admin:
        actions = [
            e["action"]
            for e in admin.get("/audit", params={"patient_id": "example-stage-2"}).json()
        ]
    assert [a for a in actions if a.startswith("course.")] == [
        "course.create",
        "course.read",
        "course.session",
    ]


def test_delivered_sessions_are_dated_on_the_clinics_calendar(clinic, api, patient):
    """08:00 in Tokyo is 23:00 UTC the day before: the history's course starts on the local
    day of its first session, not on the UTC one."""
    with clinic.client("admin") as admin:
        tokyo = admin.patch("/clinic/settings", json={"timezone": "Asia/Tokyo"})
        assert tokyo.status_code == 200, tokyo.text
    course = new_course(api, template="ect-mwf", start="2026-11-02", time="08:00")
    assert course["timezone"] == "Asia/Tokyo"
    for number, day in [(1, "2026-11-02"), (2, "2026-11-04")]:
        done = record(api, course, number, {"delivered_at": f"{day}T08:00"})
        assert done.status_code == 200, done.text
    ect = next(p for p in api.get(PATIENT).json()["procedures"] if p["type"] == "ECT")
    assert (ect["start"], ect["sessions"]) == ("2026-11-02", 2)
    stopped = api.post(
        f"{PATIENT}/courses/{course['id']}/stop",
        json={"reason": "remission"},
        headers={"If-Match": version(api)},
    )
    assert stopped.status_code == 200, stopped.text
    ect = next(p for p in api.get(PATIENT).json()["procedures"] if p["type"] == "ECT")
    assert (ect["start"], ect["end"]) == ("2026-11-02", "2026-11-04")


def test_a_second_course_of_a_running_treatment_is_refused(api, patient):
    first = new_course(api, template="tms-10hz", start="2026-12-21")
    before = version(api)
    again = api.post(
        f"{PATIENT}/courses",
        json={"template": "tms-10hz", "start": "2027-01-04", "reviewed": True},
        headers={"If-Match": before},
    )
    assert again.status_code == 409
    assert f"course {first['id']} of tms is active" in again.json()["detail"]
    assert version(api) == before
    stopped = api.post(
        f"{PATIENT}/courses/{first['id']}/stop",
        json={"reason": "moved"},
        headers={"If-Match": before},
    )
    assert stopped.status_code == 200, stopped.text
    assert new_course(api, template="tms-10hz", start="2027-01-04")["status"] == "active"


def test_a_late_delivery_moves_the_sessions_it_overtook(api, patient):
    course = new_course(api, template="ect-mwf", start="2026-11-02", time="08:00")
    planned = {s["number"]: s["date"] for s in course["sessions"]}
    # Wednesday 11 November is Veterans Day, a holiday
    assert [planned[n] for n in (3, 4, 5)] == ["2026-11-06", "2026-11-09", "2026-11-13"]
    for number, day in [(1, "2026-11-02"), (2, "2026-11-04")]:
        assert record(api, course, number, {"delivered_at": f"{day}T08:00"}).status_code == 200
    late = record(api, course, 3, {"delivered_at": "2026-11-09T10:00"})
    assert late.status_code == 200, late.text
    sessions = {s["number"]: s for s in late.json()["sessions"]}
    assert (sessions[3]["status"], sessions[4]["date"], sessions[5]["date"]) == (
        "delivered",
        "2026-11-13",
        "2026-11-16",
    )
    assert len(sessions) == len(planned)  # nothing lost or added
    on_time = record(api, course, 4, {})  # at its new planned time
    assert on_time.status_code == 200, on_time.text
    plans = api.get(f"{PATIENT}/courses/{course['id']}/plans").json()
    assert plans[-1]["reason"] == "session 3 delivered late"


def test_today_is_the_clinics_today_for_a_delivery(clinic, api, patient):
    """The server runs in UTC. In Kiritimati (UTC+14) today may be UTC's tomorrow, and in
    Pago Pago (UTC-11) UTC's today may be tomorrow: at any hour one of the two differs."""
    utc_today = datetime.now(UTC).date()
    for zone, template in [("Pacific/Kiritimati", "ect-mwf"), ("Pacific/Pago_Pago", "tms-10hz")]:
        with clinic.client("admin") as admin:
            assert admin.patch("/clinic/settings", json={"timezone": zone}).status_code == 200
        local_today = datetime.now(ZoneInfo(zone)).date()
        course = new_course(
            api, template=template, start=(local_today - timedelta(days=3)).isoformat()
        )
        day = max(local_today, utc_today)
        done = record(api, course, 1, {"delivered_at": f"{day}T00:00"})
        if day == local_today:
            assert done.status_code == 200, done.text
        else:
            assert done.status_code == 422
            expected = done.json()["errors"][0]["expected"]
            assert expected == f"a time on or before today ({local_today}, {zone})"


def test_a_missed_session_that_cannot_be_planned_again_names_the_session(clinic, api, patient):
    course = new_course(api, template="ect-mwf", start="2026-11-02")
    last = date.fromisoformat(course["sessions"][-1]["date"])
    # closed for three years after the last session: a session more finds no day
    closed = [(last + timedelta(days=n)).isoformat() for n in range(1, 3 * 366 + 2)]
    with clinic.client("admin") as admin:
        closure = admin.patch("/clinic/settings", json={"closures": closed})
        assert closure.status_code == 200, closure.text
        assert closure.json()["replanned"] == []
    before = version(api)
    missed = record(api, course, 1, {"status": "missed"})
    assert missed.status_code == 422
    [problem] = missed.json()["errors"]
    assert (problem["path"], problem["value"]) == ("status", "missed")
    assert problem["expected"].startswith(
        "a session after which the sessions still owed can be planned again from 2026-11-03"
    )
    assert version(api) == before


def test_a_dose_too_soon_after_the_previous_one_is_refused(clinic, api, patient):
    """Esketamine gives one session a day, each taking 150 minutes. Times are shown in the
    course's zone."""
    with clinic.client("admin") as admin:
        new_york = admin.patch("/clinic/settings", json={"timezone": "America/New_York"})
        assert new_york.status_code == 200
    course = new_course(api, template="esketamine-trd", start="2026-11-03", time="09:00")
    dose = {"parameters": {"dose_mg": 56, "bp_before": "124/80"}}
    first = record(api, course, 1, {**dose, "delivered_at": "2026-11-03T09:00"})
    assert first.status_code == 200, first.text
    before = version(api)
    for at, expected in [
        (
            "2026-11-03T09:30",
            "a time after session 1 ended (it began at 2026-11-03T09:00:00-05:00 and takes 150 "
            "minutes, to 2026-11-03T11:30:00-05:00; rule course.session_spacing)",
        ),
        (
            "2026-11-03T16:00",
            "a day after 2026-11-03, when session 1 was given: phase 'induction' of "
            "esketamine-trd gives one session a day (rule course.session_spacing)",
        ),
    ]:
        refused = record(api, course, 2, {**dose, "delivered_at": at})
        assert refused.status_code == 422
        assert refused.json()["errors"] == [
            {"path": "delivered_at", "value": f"{at}:00-05:00", "expected": expected}
        ]
        assert version(api) == before
    next_day = record(api, course, 2, {**dose, "delivered_at": "2026-11-04T09:00"})
    assert next_day.status_code == 200, next_day.text
    # a third dose that week is spaced well enough, and beyond the twice-weekly induction
    third = record(api, course, 3, {**dose, "delivered_at": "2026-11-05T09:00"})
    assert third.status_code == 200, third.text
    assert [(a["code"], a["session"]) for a in third.json()["alerts"]] == [("weekly_limit", 3)]


def _midday_zone() -> str:
    """A fixed-offset zone where it is now about noon: an hour later is still today there."""
    offset = datetime.now(UTC).hour - 12
    return f"Etc/GMT{offset:+d}"  # Etc/GMT+5 is five hours behind UTC


def test_a_delivery_later_than_now_is_refused(clinic, api, patient):
    zone = _midday_zone()
    with clinic.client("admin") as admin:
        every_day = {
            "timezone": zone,
            "holiday_country": None,
            "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        }
        assert admin.patch("/clinic/settings", json=every_day).status_code == 200
    now = datetime.now(ZoneInfo(zone))
    later = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    ect = new_course(api, template="ect-mwf", start=(now.date() - timedelta(days=7)).isoformat())
    before = version(api)
    refused = record(api, ect, 1, {"delivered_at": later.isoformat()})
    assert refused.status_code == 422
    [problem] = refused.json()["errors"]
    assert problem["path"] == "delivered_at"
    assert problem["expected"].startswith("a time not after now (")
    # no time given: the planned time, later today, is refused too, saying why
    cbt = new_course(
        api, template="cbt-weekly", start=now.date().isoformat(), time=f"{later:%H:%M}"
    )
    assert cbt["sessions"][0]["date"] == now.date().isoformat()
    planned = record(api, cbt, 1, {})
    assert planned.status_code == 422
    [problem] = planned.json()["errors"]
    assert problem["expected"].endswith(": none was given and the session is planned later today")
    assert version(api) != before  # only the second course was planned
    assert api.get(f"{PATIENT}/courses/{ect['id']}").json()["delivered"] == 0
    earlier = record(api, ect, 1, {"delivered_at": (now - timedelta(hours=1)).isoformat()})
    assert earlier.status_code == 200, earlier.text


def test_a_day_closed_after_planning_moves_the_sessions_planned_on_it(clinic, api, patient):
    course = new_course(api, template="ect-mwf", start="2026-12-21")
    planned = [(s["number"], s["date"]) for s in course["sessions"]]
    assert planned[:5] == [
        (1, "2026-12-21"),
        (2, "2026-12-23"),
        (3, "2026-12-28"),  # Christmas Day and New Year's Day are holidays
        (4, "2026-12-30"),
        (5, "2027-01-04"),
    ]
    therapy = new_course(api, template="cbt-weekly", start="2027-03-01")
    before = version(api)
    with clinic.client("admin") as admin:
        changed = admin.patch("/clinic/settings", json={"closures": ["2026-12-23", "2027-01-11"]})
        assert changed.status_code == 200, changed.text
        [moved] = changed.json()["replanned"]
        listed = admin.get("/clinic/replanned-courses")
        assert listed.status_code == 200, listed.text
        actions = [a["action"] for a in admin.get("/audit").json()]
        # the list is for administrators: they tell the patients
        assert api.get("/clinic/replanned-courses").status_code == 403
    [entry] = listed.json()
    assert {k: entry[k] for k in ("patient_id", "course_id", "template", "status")} == {
        "patient_id": "example-stage-2",
        "course_id": course["id"],
        "template": "ect-mwf",
        "status": "active",
    }
    assert (entry["closed"], entry["sessions"]) == (moved["closed"], moved["sessions"])
    assert (moved["course_id"], moved["patient_id"]) == (course["id"], "example-stage-2")
    assert moved["closed"] == ["2026-12-23", "2027-01-11"]
    assert moved["sessions"][:3] == [
        {"number": 2, "from": "2026-12-23", "to": "2026-12-28"},
        {"number": 3, "from": "2026-12-28", "to": "2026-12-30"},
        {"number": 4, "from": "2026-12-30", "to": "2027-01-04"},
    ]
    view = api.get(f"{PATIENT}/courses/{course['id']}").json()
    dates = [s["date"] for s in view["sessions"]]
    assert not {"2026-12-23", "2027-01-11"} & set(dates)
    assert len(dates) == 12
    plans = api.get(f"{PATIENT}/courses/{course['id']}/plans").json()
    assert plans[-1]["reason"] == "clinic calendar changed: closed on 2026-12-23, 2027-01-11"
    assert version(api) != before  # the patient's courses changed
    # the weekly therapy course had nothing on those days and stays as it was
    assert api.get(f"{PATIENT}/courses/{therapy['id']}").json()["sessions"] == therapy["sessions"]
    assert "course.replan" in actions
    assert "course.replans" in actions


def test_a_calendar_that_leaves_a_course_no_day_is_refused(clinic, api, patient):
    course = new_course(api, template="ect-mwf", start="2026-11-02")
    with clinic.client("admin") as admin:
        before = admin.get("/clinic/settings").json()
        weekend = admin.patch("/clinic/settings", json={"working_days": ["sat", "sun"]})
        assert weekend.status_code == 422
        [problem] = weekend.json()["errors"]
        assert problem["path"] == "working_days"
        assert problem["expected"].startswith(
            f"a calendar on which the sessions still owed of course {course['id']} "
            "(patient example-stage-2) can be planned again from 2026-11-02"
        )
        assert admin.get("/clinic/settings").json() == before
    assert api.get(f"{PATIENT}/courses/{course['id']}").json()["sessions"] == course["sessions"]


def test_a_plan_keeps_its_reason_in_200_characters(clinic, api, patient):
    """A version of a plan keeps its reason in 200 characters (PostgreSQL refused a longer
    one: the change was an internal error). Many days closed are named by the first of them
    and how many more; a long stop reason is cut there, and kept whole with the course."""
    course = new_course(api, template="tms-10hz", start="2026-12-21")
    closed = [s["date"] for s in course["sessions"][1:20]]
    with clinic.client("admin") as admin:
        changed = admin.patch("/clinic/settings", json={"closures": closed})
    assert changed.status_code == 200, changed.text
    assert changed.json()["replanned"][0]["closed"] == closed
    reason = "Stopped at the patient's request: " + "the travel is too much; " * 19
    stopped = api.post(
        f"{PATIENT}/courses/{course['id']}/stop",
        json={"reason": reason},
        headers={"If-Match": version(api)},
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["stop_reason"] == reason.strip()
    plans = api.get(f"{PATIENT}/courses/{course['id']}/plans").json()
    assert [p["reason"] for p in plans[1:]] == [
        f"clinic calendar changed: closed on {', '.join(closed[:13])} and 6 more",
        f"stopped: {reason}"[:199].rstrip() + "…",
    ]
    assert max(len(p["reason"]) for p in plans) == 200


def test_the_weekly_limit_is_the_phase_of_each_session(api, patient):
    """Optimisation gives esketamine once a week (induction twice): a second dose in the
    first optimisation week warns."""
    course = new_course(api, template="esketamine-trd", start="2026-09-01", time="09:00")
    dose = {"parameters": {"dose_mg": 56, "bp_before": "124/80"}}
    for number in range(1, 10):  # induction, then the first optimisation dose on 29 September
        done = record(api, course, number, dose)
        assert done.status_code == 200, done.text
    assert done.json()["sessions"][8]["date"] == "2026-09-29"
    assert done.json()["alerts"] == []
    early = record(api, course, 10, {**dose, "delivered_at": "2026-10-01T09:00"})
    assert early.status_code == 200, early.text
    assert [(a["code"], a["session"]) for a in early.json()["alerts"]] == [("weekly_limit", 10)]
    assert "phase 'optimisation'" in early.json()["alerts"][0]["message"]
