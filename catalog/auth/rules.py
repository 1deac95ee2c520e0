"""Authorization rules: one small function per rule, each called first by the service it guards.

``actor`` is the authenticated :class:`User` or ``None`` for an anonymous caller. Functions named
``can_*`` answer a question; :func:`require` turns a ``False`` into :class:`NotAuthorized`.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..departments.models import Department, Membership
from ..errors import NotAuthorized
from .models import ApiToken, User

EDIT_ROLES = ("admin", "editor")


def require(allowed: bool, message: str) -> None:
    """Raise :class:`NotAuthorized` with ``message`` unless ``allowed``."""
    if not allowed:
        raise NotAuthorized(message)


def is_sysadmin(actor: User | None) -> bool:
    """Sysadmins (the county data authority) may do everything."""
    return actor is not None and actor.sysadmin


def is_authority(session: Session, actor: User | None, authority_department: str | None) -> bool:
    """The county data authority: sysadmins, and the editors and admins of the department named (by name
    or id) in ``CATALOG_AUTHORITY_DEPARTMENT``; nobody else when it is unset."""
    if is_sysadmin(actor):
        return True
    if actor is None or not authority_department:
        return False
    return session.scalar(sa.select(sa.exists().where(
        Membership.user_id == actor.id, Membership.role.in_(EDIT_ROLES),
        Membership.department_id == Department.id,
        sa.or_(Department.id == authority_department, Department.name == authority_department)))) is True


def role_in(session: Session, actor: User | None, department_id: str) -> str | None:
    """The actor's role in a department, or ``None`` when not a member."""
    if actor is None:
        return None
    return session.scalar(sa.select(Membership.role).where(
        Membership.user_id == actor.id, Membership.department_id == department_id))


def can_create_department(actor: User | None) -> bool:
    """Only sysadmins register departments."""
    return is_sysadmin(actor)


def can_update_department(session: Session, actor: User | None, department_id: str) -> bool:
    """Sysadmins and the department's admins edit a department."""
    return is_sysadmin(actor) or role_in(session, actor, department_id) == "admin"


def can_delete_department(actor: User | None) -> bool:
    """Only sysadmins delete departments."""
    return is_sysadmin(actor)


def can_manage_members(session: Session, actor: User | None, department_id: str) -> bool:
    """Sysadmins and the department's admins add, change and remove its members."""
    return is_sysadmin(actor) or role_in(session, actor, department_id) == "admin"


def can_see_members(session: Session, actor: User | None, department_id: str) -> bool:
    """Sysadmins and the department's own members see its member list."""
    return is_sysadmin(actor) or role_in(session, actor, department_id) is not None


def can_edit_datasets_of(session: Session, actor: User | None, department_id: str) -> bool:
    """Sysadmins and the department's editors and admins create and edit its datasets."""
    return is_sysadmin(actor) or role_in(session, actor, department_id) in EDIT_ROLES


def can_read_dataset(session: Session, actor: User | None, *, owner_org: str, private: bool,
                     state: str) -> bool:
    """Anyone reads public, active datasets; members read their department's private and draft
    ones; editors, admins and sysadmins also see deleted ones."""
    if state == "active" and not private:
        return True
    if is_sysadmin(actor):
        return True
    role = role_in(session, actor, owner_org)
    if state == "deleted":
        return role in EDIT_ROLES
    return role is not None


def readable_datasets_clause(session: Session, actor: User | None, dataset_table):
    """The SQL condition of :func:`can_read_dataset`, for listing and searching.

    Deleted datasets are never listed, so this covers the active and draft states only.
    """
    not_deleted = dataset_table.c.state != "deleted"
    if is_sysadmin(actor):
        return not_deleted
    public = sa.and_(dataset_table.c.state == "active", dataset_table.c.private.is_(False))
    if actor is None:
        return public
    member_of = sa.select(Membership.department_id).where(Membership.user_id == actor.id)
    return sa.and_(not_deleted, sa.or_(public, dataset_table.c.owner_org.in_(member_of)))


def can_write_records(session: Session, actor: User | None, dataset) -> bool:
    """Records are written by the owner department's editors and admins, and by sysadmins."""
    return can_edit_datasets_of(session, actor, dataset.owner_org)


def can_subscribe(session: Session, actor: User | None, dataset) -> bool:
    """Signed-in users who may read a dataset subscribe to its events (webhooks)."""
    return actor is not None and can_read_dataset(session, actor, owner_org=dataset.owner_org,
                                                  private=dataset.private, state=dataset.state)


def can_manage_subscription(session: Session, actor: User | None, subscription) -> bool:
    """A webhook subscription is seen and deleted by its subscriber, the dataset's editors and admins,
    and sysadmins."""
    return actor is not None and (actor.id == subscription.creator_user_id
                                  or can_edit_datasets_of(session, actor, subscription.dataset.owner_org))


def can_create_user(actor: User | None) -> bool:
    """Only sysadmins create accounts through the API."""
    return is_sysadmin(actor)


def can_see_private_user_fields(actor: User | None, user: User) -> bool:
    """A user's email and tokens are visible to that user and to sysadmins."""
    return actor is not None and (actor.id == user.id or actor.sysadmin)


def can_see_user(session: Session, actor: User | None, user: User) -> bool:
    """An account (its name, departments, sysadmin flag) is seen by its owner, by sysadmins and by the
    admins of a department it belongs to; not by anonymous callers or other users."""
    if actor is None:
        return False
    if actor.id == user.id or actor.sysadmin:
        return True
    return user.id in set(session.scalars(_members_administered_by(actor)))


def can_list_users(session: Session, actor: User | None) -> bool:
    """Sysadmins list every account and department admins their members; nobody else lists accounts."""
    if actor is None:
        return False
    return actor.sysadmin or session.scalar(sa.select(sa.exists().where(
        Membership.user_id == actor.id, Membership.role == "admin"))) is True


def visible_users_clause(actor: User, user_table):
    """The SQL condition of :func:`can_see_user` (for an actor who may list accounts at all)."""
    if actor.sysadmin:
        return sa.true()
    return sa.or_(user_table.c.id == actor.id, user_table.c.id.in_(_members_administered_by(actor)))


def _members_administered_by(actor: User):
    administered = sa.select(Membership.department_id).where(Membership.user_id == actor.id,
                                                             Membership.role == "admin")
    return sa.select(Membership.user_id).where(Membership.department_id.in_(administered))


def can_submit_dataset(session: Session, actor: User | None, department_id: str) -> bool:
    """A department's admins (standing for its head) and sysadmins submit its datasets for the catalog review."""
    return is_sysadmin(actor) or role_in(session, actor, department_id) == "admin"


def can_review_dataset(session: Session, actor: User | None, authority_department: str | None, *,
                       owner_org: str) -> bool:
    """The data authority reviews submitted datasets and revisions; its members never review their own
    department's datasets (sysadmins review all)."""
    if is_sysadmin(actor):
        return True
    return is_authority(session, actor, authority_department) and role_in(session, actor, owner_org) is None


def can_see_review(session: Session, actor: User | None, authority_department: str | None, *,
                   owner_org: str) -> bool:
    """A review (due date, reasons, the revision's changes) and a dataset under review are seen by the
    department's members and by the data authority."""
    return role_in(session, actor, owner_org) is not None or is_authority(session, actor, authority_department)


def can_approve_share_request(session: Session, actor: User | None, *, provider_id: str,
                              requester_id: str) -> bool:
    """The provider's admins (or sysadmins, the data authority) approve a request, never a member of the
    requesting department: nobody grants their own department access."""
    if actor is None or role_in(session, actor, requester_id) is not None:
        return False
    return is_sysadmin(actor) or role_in(session, actor, provider_id) == "admin"


def can_see_share_request(session: Session, actor: User | None, *, provider_id: str,
                          requester_id: str) -> bool:
    """A share request (and its activity: department, fields, reasons) is seen by the two departments'
    members and by sysadmins."""
    return is_sysadmin(actor) or role_in(session, actor, provider_id) is not None \
        or role_in(session, actor, requester_id) is not None


def can_decide_share_extension(session: Session, actor: User | None, authority_department: str | None, *,
                               provider_id: str) -> bool:
    """The data authority decides on a provider's request for more time, but not an authority officer who
    belongs to that provider (sysadmins always may)."""
    if is_sysadmin(actor):
        return True
    return is_authority(session, actor, authority_department) and role_in(session, actor, provider_id) is None


def can_see_grant(session: Session, actor: User | None, authority_department: str | None, *, provider_id: str,
                  grantee_id: str) -> bool:
    """A grant (its delivery, suspension and use records) is seen by the two departments' members and by
    the data authority."""
    return can_see_share_request(session, actor, provider_id=provider_id, requester_id=grantee_id) \
        or is_authority(session, actor, authority_department)


def can_record_use(session: Session, actor: User | None, grantee_id: str) -> bool:
    """The grantee department's editors and admins (and sysadmins) record use, storage and destruction."""
    return is_sysadmin(actor) or role_in(session, actor, grantee_id) in EDIT_ROLES


def can_delete_use_record(session: Session, actor: User | None, grantee_id: str) -> bool:
    """Only the grantee department's admins (and sysadmins) delete a use record (once it is old enough)."""
    return is_sysadmin(actor) or role_in(session, actor, grantee_id) == "admin"


def member_departments(actor: User | None):
    """The SQL query of the ids of the departments the actor belongs to (none for anonymous callers)."""
    if actor is None:
        return sa.select(Membership.department_id).where(sa.false())
    return sa.select(Membership.department_id).where(Membership.user_id == actor.id)


def can_manage_tokens(actor: User | None, user: User) -> bool:
    """Users manage their own API tokens; sysadmins manage everyone's."""
    return can_see_private_user_fields(actor, user)


def can_use_token_for(token: ApiToken | None, *, read_only: bool) -> bool:
    """A ``read``-scoped token calls read actions only; web sessions and ``write`` tokens call all."""
    return token is None or token.scope == "write" or read_only


def can_manage_connections(actor: User | None) -> bool:
    """Where data comes from is the data authority's decision: only sysadmins register connections."""
    return is_sysadmin(actor)


def can_use_connection(connection, department_id: str) -> bool:
    """A job may read a connection only when the connection names the job's department."""
    return department_id in (connection.organizations or [])


def can_see_connection(session: Session, actor: User | None, connection) -> bool:
    """Sysadmins see every connection; members see those open to one of their departments."""
    if is_sysadmin(actor):
        return True
    return any(role_in(session, actor, department) is not None for department in connection.organizations or [])
