# syntax=docker/dockerfile:1
# One image for every service of the booking suite; docker-compose.yml and the Kubernetes
# manifests (deploy/kubernetes) pick the app to run. It also holds the `faultline` command.
#
# Two stages: the first turns the project and every dependency into wheels; the second installs
# those wheels offline on a clean base, so nothing used to build them reaches the image.
# The base is pinned by digest (python:3.11.14-slim-bookworm); bump tag and digest together.

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY faultline ./faultline
COPY harness ./harness
COPY chaos ./chaos
COPY system_under_test ./system_under_test
COPY contracts ./contracts
COPY load ./load
COPY scenarios ./scenarios
RUN pip wheel --wheel-dir /wheels .


FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime

# /tmp is the one writable place (a tmpfs in compose, an emptyDir in Kubernetes): `faultline`
# commands run in the container keep their state there.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FAULTLINE_HOME=/tmp/faultline

# The wheels are bind-mounted from the build stage for this one step, never copied into a layer;
# --no-index keeps pip from fetching anything the build stage did not produce.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/faultline-*.whl \
    && groupadd --system --gid 10001 suite \
    && useradd --system --no-create-home --uid 10001 --gid 10001 suite

# Services need no privileges and write nothing to disk: logs go to stdout, data to PostgreSQL.
# A numeric USER lets Kubernetes' runAsNonRoot verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /app
EXPOSE 8080 8081 8082 8083 8084 8085
CMD ["uvicorn", "system_under_test.gateway.app:app", "--host", "0.0.0.0", "--port", "8080"]
