"""Clinics and users: names that identify one clinic, the last administrator, passwords and
e-mail addresses."""

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.errors import Conflict, InputError, NotFound
from trdnav.store.database import Store
from trdnav.store.tables import Clinic, User


def _admin(store: Store, name: str = "North") -> Actor:
    return Actor.command_line(accounts.add_clinic(store, name).id)


def _problem(info: pytest.ExceptionInfo[InputError]) -> str:
    return "; ".join(info.value.lines())


def test_a_clinic_name_must_be_new_case_aside_and_not_a_number(store):
    north = accounts.add_clinic(store, "North")
    for name in ("North", " north ", "NORTH"):
        with pytest.raises(InputError) as info:
            accounts.add_clinic(store, name)
        assert "expected a name no other clinic has (clinic 1 is 'North')" in _problem(info)
    with pytest.raises(InputError) as info:
        accounts.add_clinic(store, "12")
    assert _problem(info).startswith(
        'name: got "12"; expected a clinic name that is not all digits'
    )
    with store.reading() as session:
        assert [c.name for c in session.scalars(select(Clinic))] == ["North"]
    assert accounts.find_clinic(store, "North").id == north.id
    assert accounts.find_clinic(store, str(north.id)).id == north.id


@pytest.mark.parametrize("name", ["x\ny", "a\tb", "bell\x07", "esc\x1b[31m"])
def test_names_hold_no_control_characters(store, name):
    """`clinic list` prints a clinic a line, its fields between tabs: a name with a line
    break or a tab read as another clinic."""
    with pytest.raises(InputError) as info:
        accounts.add_clinic(store, name)
    assert _problem(info).endswith(
        "expected a clinic name without control characters (tabs, line breaks)"
    )
    actor = _admin(store)
    with pytest.raises(InputError, match="a name without control characters"):
        accounts.add_user(
            store, actor, email="u@n.example", name=name, role="viewer", password="p" * 10
        )
    assert accounts.add_clinic(store, "Clinique Saint-Éloi").name == "Clinique Saint-Éloi"


def test_the_database_itself_keeps_clinic_names_apart(store):
    """Two clinics added at the same moment both pass the check in code; the unique key on
    the case-folded name refuses the second, which is told as the same problem."""
    accounts.add_clinic(store, "North")
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(Clinic(name="NORTH", name_key="north"))
    # A row whose key the check in code does not see (its name differs): as if it had been
    # added after that check ran.
    with store.transaction() as session:
        session.execute(insert(Clinic).values(name="South (old name)", name_key="south"))
    with pytest.raises(InputError) as info:
        accounts.add_clinic(store, "South")
    assert _problem(info) == (
        "name: got \"South\"; expected a name no other clinic has (clinic 2 is 'South (old name)')"
    )
    with store.reading() as session:
        assert [(c.name, c.name_key) for c in session.scalars(select(Clinic))] == [
            ("North", "north"),
            ("South (old name)", "south"),
        ]


def test_a_clinic_name_is_at_most_200_characters(store):
    accounts.add_clinic(store, "N" * 200)
    with pytest.raises(InputError) as info:
        accounts.add_clinic(store, "S" * 201)
    assert _problem(info) == (
        'name: got "201 characters"; expected a clinic name of at most 200 characters'
    )


def test_a_name_several_clinics_have_asks_for_the_id(store):
    # a database from before names had to differ
    with store.transaction() as session:
        session.add_all([Clinic(name="North"), Clinic(name="North"), Clinic(name="2")])
    with pytest.raises(InputError) as info:
        accounts.find_clinic(store, "North")
    assert "expected one clinic: give its id, since clinics 1, 2 all answer to 'North'" in (
        _problem(info)
    )
    with pytest.raises(InputError, match="clinics 2, 3 all answer to '2'"):
        accounts.find_clinic(store, "2")
    assert accounts.find_clinic(store, "1").name == "North"
    with pytest.raises(NotFound):
        accounts.find_clinic(store, "9" * 30)  # no id is that large: not looked up as one


def test_the_last_active_administrator_cannot_be_disabled(store):
    actor = _admin(store)
    password = "long enough password"
    accounts.add_user(store, actor, email="a@n.example", name="", role="admin", password=password)
    accounts.add_user(
        store, actor, email="c@n.example", name="", role="clinician", password=password
    )
    with pytest.raises(Conflict, match=r"a@n\.example is the clinic's last active administrator"):
        accounts.set_active(store, actor, "a@n.example", False)
    assert accounts.find_user(store, actor, "a@n.example").active
    accounts.set_active(store, actor, "c@n.example", False)  # others may be
    accounts.add_user(store, actor, email="b@n.example", name="", role="admin", password=password)
    accounts.set_active(store, actor, "a@n.example", False)  # b is still there
    with pytest.raises(Conflict):
        accounts.set_active(store, actor, "b@n.example", False)
    accounts.set_active(store, actor, "a@n.example", True)
    accounts.set_active(store, actor, "b@n.example", False)
    # administrators of another clinic do not count
    south = _admin(store, "South")
    accounts.add_user(store, south, email="s@s.example", name="", role="admin", password=password)
    with pytest.raises(Conflict):
        accounts.set_active(store, actor, "a@n.example", False)


def test_passwords_and_e_mail_addresses(store):
    actor = _admin(store)
    for password in (" " * 12, "\t \n" * 5, "short"):
        with pytest.raises(InputError) as info:
            accounts.add_user(
                store, actor, email="x@n.example", name="", role="viewer", password=password
            )
        assert _problem(info) == (
            'password: got "(hidden)"; expected at least 10 characters, not all of them spaces'
        )
    accounts.add_user(store, actor, email="x@n.example", name="", role="viewer", password="p" * 10)
    with pytest.raises(InputError, match="not all of them spaces"):
        accounts.set_password(store, actor, "x@n.example", " " * 20)
    for email in (
        "a@b@c.example",
        "@n.example",
        "a@",
        "a@localhost",
        "a@.example",
        "a@n..example",
        "a b@n.example",
        "a@n.example.",
    ):
        with pytest.raises(InputError) as info:
            accounts.add_user(store, actor, email=email, name="", role="viewer", password="p" * 10)
        assert _problem(info).startswith(f"email: got {email!r}".replace("'", '"'))
        assert "expected an e-mail address: one @ between a name and a domain" in _problem(info)
    user = accounts.add_user(
        store,
        actor,
        email=" Dr.Who+x@North.Example.org ",
        name="",
        role="viewer",
        password="p" * 10,
    )
    assert user.email == "dr.who+x@north.example.org"
    with store.reading() as session:
        assert sorted(session.scalars(select(User.email))) == [
            "dr.who+x@north.example.org",
            "x@n.example",
        ]
