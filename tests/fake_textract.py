"""A local HTTP server speaking AWS Textract's JSON API for asynchronous text detection.

It answers ``StartDocumentTextDetection`` and ``GetDocumentTextDetection`` the way
Textract documents them (``X-Amz-Target`` names the operation, errors come back
as ``{"__type": ..., "Message": ...}``), so botocore's own parsing runs on its
answers and the code under test only ever sees its URL. Tests script it: the
status new jobs start in and the blocks they answer with (:meth:`FakeTextract.script`),
how a job ends (:meth:`FakeTextract.finish`), and errors for the next requests
(:meth:`FakeTextract.refuse_next`). Like Textract, it reads nothing it was not
given: a start whose S3 object ``s3_endpoint`` does not hold is refused, and
a repeated ``ClientRequestToken`` returns the job it started before.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from standin import Reply, StandIn, serving

TARGET_PREFIX = "Textract."
MAX_RESULTS = 1000  # Textract's own limit for MaxResults


@dataclass
class Job:
    """One detection job: where its document is, its status and what it found."""

    bucket: str
    key: str
    status: str
    blocks: list[dict[str, Any]]
    message: str | None = None
    polls: int = 0


class FakeTextract(StandIn):
    """The server; ``s3_endpoint`` is where it checks that a document to read exists."""

    content_type = "application/x-amz-json-1.1"

    def __init__(self, s3_endpoint: str | None = None) -> None:
        super().__init__()
        self.s3_endpoint = s3_endpoint
        self.jobs: dict[str, Job] = {}
        self.operations: list[str] = []  # every operation asked for, in order
        self._status = "SUCCEEDED"
        self._blocks: list[dict[str, Any]] = []
        self._tokens: dict[str, str] = {}
        self._refusals: deque[Reply] = deque()
        self._lock = threading.Lock()

    def script(self, status: str, blocks: list[dict[str, Any]]) -> None:
        """Jobs started from now on begin in ``status`` and answer with ``blocks``."""
        with self._lock:
            self._status, self._blocks = status, list(blocks)

    def started(self) -> list[str]:
        """Ids of the jobs started so far, in order."""
        with self._lock:
            return list(self.jobs)

    def finish(self, job_id: str, status: str, message: str | None = None) -> None:
        """End a job, as Textract does when it is done with the document."""
        with self._lock:
            self.jobs[job_id].status, self.jobs[job_id].message = status, message

    def refuse_next(self, code: str, message: str, status: int = 400, times: int = 1) -> None:
        """Answer the next ``times`` requests with AWS error ``code`` instead of doing them."""
        with self._lock:
            self._refusals.extend(aws_error(code, message, status) for _ in range(times))

    def answer(self, path: str, headers: dict[str, str], request: Any) -> Reply:
        target = headers.get("x-amz-target", "")
        with self._lock:
            self.operations.append(target.removeprefix(TARGET_PREFIX))
            if self._refusals:
                return self._refusals.popleft()
        if target == f"{TARGET_PREFIX}StartDocumentTextDetection":
            return self._start(request)
        if target == f"{TARGET_PREFIX}GetDocumentTextDetection":
            return self._get(request)
        return aws_error("UnknownOperationException", f"unknown operation {target!r}")

    def _start(self, request: dict[str, Any]) -> Reply:
        s3 = request.get("DocumentLocation", {}).get("S3Object", {})
        bucket, key = s3.get("Bucket", ""), s3.get("Name", "")
        token = request.get("ClientRequestToken")
        with self._lock:
            if token in self._tokens:
                return Reply(body={"JobId": self._tokens[token]})
        if not self._object_exists(bucket, key):
            return aws_error(
                "InvalidS3ObjectException",
                "Unable to get object metadata from S3. Check object key, region and/or "
                "access permissions.",
            )
        job_id = uuid.uuid4().hex
        with self._lock:
            self.jobs[job_id] = Job(bucket, key, self._status, list(self._blocks))
            if token:
                self._tokens[token] = job_id
        return Reply(body={"JobId": job_id})

    def _get(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            job = self.jobs.get(request.get("JobId", ""))
            if job is None:
                return aws_error("InvalidJobIdException", "An invalid job identifier was passed.")
            job.polls += 1
            status, message, blocks = job.status, job.message, job.blocks
        if status != "SUCCEEDED":
            body: dict[str, Any] = {"JobStatus": status}
            if message is not None:
                body["StatusMessage"] = message
            return Reply(body=body)
        return Reply(body=result_page(blocks, request))

    def _object_exists(self, bucket: str, key: str) -> bool:
        if self.s3_endpoint is None:
            return True
        s3 = boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return False
        finally:
            s3.close()
        return True


def result_page(blocks: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    """One page of a succeeded job's result, from ``NextToken`` on, ``MaxResults`` long."""
    size = min(int(request.get("MaxResults", MAX_RESULTS)), MAX_RESULTS)
    start = int(request.get("NextToken", "0"))
    pages = max((int(b.get("Page", 1)) for b in blocks), default=0)
    body: dict[str, Any] = {
        "JobStatus": "SUCCEEDED",
        "DocumentMetadata": {"Pages": pages},
        "DetectDocumentTextModelVersion": "1.0",
        "Blocks": blocks[start : start + size],
    }
    if start + size < len(blocks):
        body["NextToken"] = str(start + size)
    return body


def aws_error(code: str, message: str, status: int = 400) -> Reply:
    """An error as AWS JSON-protocol services send it."""
    return Reply(status=status, body={"__type": code, "Message": message})


@contextmanager
def fake_textract(s3_endpoint: str | None = None) -> Iterator[FakeTextract]:
    """A started server, stopped on exit."""
    with serving(FakeTextract(s3_endpoint)) as server:
        yield server
