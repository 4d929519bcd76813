"""The object stores: a local directory and S3 (moto's server, reached only by its URL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from consumers.storage.objects import LocalStore, ObjectNotFound, ObjectStore
from consumers.storage.s3 import s3_client
from consumers.storage.store import open_store
from streamproc.errors import ConfigurationError


async def roundtrip(store: ObjectStore) -> None:
    """What every store must do, asserted the same way for each."""
    assert await store.exists("originals/abc") is False
    await store.put("originals/abc", b"%PDF-1.7 first")
    assert await store.exists("originals/abc") is True
    assert await store.get("originals/abc") == b"%PDF-1.7 first"
    await store.put("originals/abc", b"second")
    assert await store.get("originals/abc") == b"second"
    with pytest.raises(ObjectNotFound, match="originals/missing"):
        await store.get("originals/missing")


async def test_local_store_puts_gets_and_overwrites(tmp_path: Path) -> None:
    await roundtrip(LocalStore(tmp_path / "objects"))


async def test_local_store_leaves_no_temporary_files_behind(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    await asyncio.gather(*(store.put(f"originals/{i % 3}", bytes([i]) * 1000) for i in range(30)))
    assert sorted(p.name for p in (tmp_path / "originals").iterdir()) == ["0", "1", "2"]
    assert {len(await store.get(f"originals/{i}")) for i in range(3)} == {1000}


async def test_concurrent_writers_of_one_key_never_leave_a_torn_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    blobs = [bytes([i]) * 200_000 for i in range(8)]
    await asyncio.gather(*(store.put("originals/x", blob) for blob in blobs))
    assert await store.get("originals/x") in blobs


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a/."])
async def test_keys_that_could_escape_the_store_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        await LocalStore(tmp_path).put(key, b"x")


async def test_open_store_makes_the_directory_of_a_file_url(tmp_path: Path) -> None:
    root = tmp_path / "a b" / "objects"
    async with open_store(root.as_uri()) as store:
        await store.put("originals/k", b"data")
    assert (root / "originals" / "k").read_bytes() == b"data"


@pytest.mark.parametrize("location", ["ftp://host/x", "s3://", "file://", "objects"])
async def test_an_unsupported_store_location_is_a_configuration_error(location: str) -> None:
    with pytest.raises(ConfigurationError, match="STREAMPROC_STORE"):
        async with open_store(location):
            pass


async def test_s3_store_puts_gets_and_overwrites(s3_endpoint: str, bucket: str) -> None:
    async with open_store(f"s3://{bucket}/store/v1", endpoint_url=s3_endpoint) as store:
        await roundtrip(store)


async def test_s3_store_keeps_objects_under_its_prefix(s3_endpoint: str, bucket: str) -> None:
    async with open_store(f"s3://{bucket}/tenant-a/", endpoint_url=s3_endpoint) as store:
        await store.put("originals/abc", b"bytes")
    async with s3_client(s3_endpoint) as client:
        listed: dict[str, Any] = await client.list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in listed["Contents"]] == ["tenant-a/originals/abc"]


async def test_an_s3_store_on_a_missing_bucket_is_a_configuration_error(
    s3_endpoint: str, aws_env: None
) -> None:
    async with open_store("s3://no-such-bucket-here/x", endpoint_url=s3_endpoint) as store:
        with pytest.raises(ConfigurationError, match="NoSuchBucket"):
            await store.put("originals/abc", b"bytes")
