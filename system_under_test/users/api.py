"""HTTP routes of users."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends

from system_under_test.common.app import Problems, service_layer
from system_under_test.common.links import link, links
from system_under_test.common.problems import problem_responses

from .domain import EmailTaken, InvalidUser, UserNotFound
from .schemas import UserIn, UserOut
from .service import UserService

router = APIRouter(tags=["users"])
# The rules a request can break, as the problem each is answered with.
PROBLEMS: Problems = {
    InvalidUser: (422, "Invalid user"),
    EmailTaken: (409, "Email taken"),
    UserNotFound: (404, "User not found"),
}

Service = Annotated[UserService, Depends(service_layer)]


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
    return UserOut(**asdict(await service.register(body.email, body.name)))


@router.get("/users/{user_id}", response_model=UserOut, responses=problem_responses(404, 422))
async def get_user(user_id: uuid.UUID, service: Service) -> UserOut:
    return UserOut(**asdict(await service.get(user_id)))
