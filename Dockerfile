# The streamproc image: the engine, the legal-document stages and tesseract,
# installed from the same lock (uv.lock) as `make test` and `make demo`.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/streamproc \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    PATH=/opt/streamproc/bin:$PATH \
    STREAMPROC_DATA_DIR=/var/lib/streamproc \
    STREAMPROC_LOG_FORMAT=json

WORKDIR /src
COPY scripts/uv-requirements.txt ./scripts/
RUN pip install --require-hashes --no-deps -r scripts/uv-requirements.txt

# The dependencies first, from the lock alone, so that a code change reuses this layer.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-default-groups --no-install-project

COPY README.md CHANGELOG.md ./
COPY streamproc ./streamproc
COPY consumers ./consumers
COPY lua ./lua
RUN uv sync --locked --no-default-groups --no-editable \
    && pip uninstall --yes uv \
    && rm -rf /src

RUN useradd --system --create-home --home-dir /var/lib/streamproc streamproc
USER streamproc
WORKDIR /var/lib/streamproc

EXPOSE 9100
ENTRYPOINT ["streamproc"]
CMD ["run", "--metrics-port", "9100", "--metrics-host", "0.0.0.0"]
