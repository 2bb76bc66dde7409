# One image for every service of the booking suite; docker-compose.yml picks the app to run.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY chaos ./chaos
COPY system_under_test ./system_under_test
COPY contracts ./contracts
COPY load ./load
COPY scenarios ./scenarios
RUN pip install .

# Services need no privileges; migrations run over the network against PostgreSQL.
RUN useradd --create-home --uid 10001 suite
USER suite
EXPOSE 8080 8081 8082 8083 8084 8085
CMD ["uvicorn", "system_under_test.gateway.app:app", "--host", "0.0.0.0", "--port", "8080"]
