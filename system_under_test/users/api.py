"""HTTP routes of users."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from system_under_test.common.links import link, links
from system_under_test.common.problems import ProblemError, problem_responses

from .domain import EmailTaken, InvalidUser, UserNotFound
from .schemas import UserIn, UserOut
from .service import UserService

router = APIRouter(tags=["users"])


async def user_service(request: Request) -> UserService:  # async: no thread hop
    return UserService(request.app.state.db, request.app.state.publisher)


Service = Annotated[UserService, Depends(user_service)]


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses={
        201: {
            "description": "the account, created",
            **links(
                GetUser=link("GET", "/users/{user_id}", "the account", user_id="$response.body#/id")
            ),
        },
        **problem_responses(409, 422),
    },
)
async def create_user(body: UserIn, service: Service) -> UserOut:
    try:
        user = await service.register(body.email, body.name)
    except InvalidUser as exc:
        raise ProblemError(422, "Invalid user", str(exc)) from None
    except EmailTaken as exc:
        raise ProblemError(409, "Email taken", str(exc)) from None
    return UserOut(**asdict(user))


@router.get("/users/{user_id}", response_model=UserOut, responses=problem_responses(404, 422))
async def get_user(user_id: uuid.UUID, service: Service) -> UserOut:
    try:
        user = await service.get(user_id)
    except UserNotFound as exc:
        raise ProblemError(404, "User not found", str(exc)) from None
    return UserOut(**asdict(user))
