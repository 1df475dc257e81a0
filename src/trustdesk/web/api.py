"""JSON routes of identity: who am I, users (admin), API tokens, and the health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select, text

from trustdesk.core import identity
from trustdesk.core.identity import Actor, User
from trustdesk.core.permissions import Perm
from trustdesk.web.deps import ClockDep, Requires, SessionDep, public
from trustdesk.web.schemas import MeOut, NewTokenOut, RoleIn, TokenIn, TokenOut, UserIn, UserOut

router = APIRouter(tags=["identity"])
Self = Annotated[Actor, Depends(Requires(Perm.SELF))]
UsersAdmin = Annotated[Actor, Depends(Requires(Perm.USERS_ADMIN))]


@router.get("/health", dependencies=[Depends(public)], summary="Liveness and database check")
def health(session: SessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/me", response_model=MeOut)
def me(actor: Self) -> MeOut:
    return MeOut(user_id=actor.user_id, email=actor.email, display_name=actor.display_name, role=actor.role,
                 permissions=sorted(p.value for p in actor.permissions), agent_id=actor.agent_id,
                 vendor_id=actor.vendor_id)


@router.get("/me/tokens", response_model=list[TokenOut])
def my_tokens(session: SessionDep, actor: Self) -> list[TokenOut]:
    user = identity.user_by_id(session, actor.user_id)
    return [TokenOut.model_validate(t) for t in identity.tokens_of(session, user)]


@router.post("/me/tokens", response_model=NewTokenOut, status_code=201)
def create_token(body: TokenIn, session: SessionDep, clock: ClockDep, actor: Self) -> NewTokenOut:
    user = identity.user_by_id(session, actor.user_id)
    token, secret = identity.issue_token(session, user, name=body.name, now=clock.now())
    return NewTokenOut(**TokenOut.model_validate(token).model_dump(), token=secret)


@router.delete("/me/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, session: SessionDep, clock: ClockDep, actor: Self) -> None:
    identity.revoke_token(session, identity.user_by_id(session, actor.user_id), token_id, now=clock.now())


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, actor: UsersAdmin) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, session: SessionDep, clock: ClockDep, actor: UsersAdmin) -> UserOut:
    user = identity.create_user(session, email=body.email, display_name=body.display_name, role=body.role,
                                password=body.password, now=clock.now(), locale=body.locale)
    return UserOut.model_validate(user)


@router.put("/users/{user_id}/role", response_model=UserOut)
def set_role(user_id: int, body: RoleIn, session: SessionDep, actor: UsersAdmin) -> UserOut:
    user = identity.user_by_id(session, user_id)
    identity.set_role(session, user, body.role)
    return UserOut.model_validate(user)
