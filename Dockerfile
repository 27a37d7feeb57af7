# One image for `web` and `worker`: the Python package, the built front end and graphviz.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_SETTINGS_MODULE=composer.settings.base
RUN apt-get update && apt-get install -y --no-install-recommends graphviz curl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY composer/ composer/
COPY blocks/ blocks/
COPY workers/ workers/
COPY manage.py ./
COPY examples/ examples/
# On a GPU host, install the CUDA build instead: --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --extra-index-url "$TORCH_INDEX" -e .
COPY --from=frontend /src/frontend/dist frontend/dist
# .gz and .br next to each built file: whitenoise serves the one the browser accepts.
RUN python -m whitenoise.compress --quiet frontend/dist
RUN useradd --create-home composer && mkdir -p /app/var && chown composer /app/var
USER composer
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "composer.asgi:application"]
