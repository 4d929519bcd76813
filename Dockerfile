# The streamproc image: the engine, the legal-document stages and tesseract.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STREAMPROC_DATA_DIR=/var/lib/streamproc \
    STREAMPROC_LOG_FORMAT=json

WORKDIR /src
COPY pyproject.toml README.md CHANGELOG.md ./
COPY streamproc ./streamproc
COPY consumers ./consumers
COPY lua ./lua
RUN pip install . && rm -rf /src

RUN useradd --system --create-home --home-dir /var/lib/streamproc streamproc
USER streamproc
WORKDIR /var/lib/streamproc

EXPOSE 9100
ENTRYPOINT ["streamproc"]
CMD ["run", "--metrics-port", "9100", "--metrics-host", "0.0.0.0"]
