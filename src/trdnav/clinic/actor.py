"""Who is acting, from where, and what their role allows."""

from __future__ import annotations

from dataclasses import dataclass

from trdnav.errors import NotPermitted

__all__ = ["Actor"]


@dataclass(frozen=True)
class Actor:
    """A signed-in user (or the command line, acting for a clinic as an administrator)."""

    clinic_id: int
    role: str
    user_id: int | None = None
    email: str | None = None
    remote_addr: str | None = None
    request_id: str | None = None
    timezone: str | None = None
    """The clinic's own time zone setting (None: the server's): its today is the default
    assessment date of what this actor does."""

    @classmethod
    def command_line(cls, clinic_id: int, timezone: str | None = None) -> Actor:
        return cls(clinic_id=clinic_id, role="admin", email="(command line)", timezone=timezone)

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "clinician")

    def require_write(self) -> None:
        if not self.can_write:
            raise NotPermitted("viewers cannot change patient data")

    def require_admin(self) -> None:
        if self.role != "admin":
            raise NotPermitted("only an administrator can do this")
