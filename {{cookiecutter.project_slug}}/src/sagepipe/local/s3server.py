"""An S3 endpoint on loopback whose objects are the files of the workspace's ``s3/`` folder.

Jobs that call boto3 get ``AWS_ENDPOINT_URL_S3`` (and dummy credentials) pointing here, so
what a job uploads lands in the workspace and what it downloads comes from it; nothing
leaves the machine. Why not moto's server: moto keeps objects in memory, so every job
would need the workspace copied in and its writes copied back (racing with parallel
jobs); serving the folder itself keeps "objects are plain files" true for everyone.

The subset is what boto3's client and its transfer manager use: Head/Create bucket,
Get (with ``Range``), Head, Put (plain and ``aws-chunked``), Copy, Delete,
ListObjects v1/v2 with prefix, delimiter and pagination, and multipart uploads.
Signatures are not checked: the endpoint listens on 127.0.0.1 only.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import shutil
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from ..storage import objects as s3

# How often the serving loop looks for a stop: ``close`` waits up to this long, at the
# end of every run (socketserver's default, 0.5 s, was a tenth of a small run's time).
SHUTDOWN_POLL = 0.02

_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def _etag(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f'"{digest.hexdigest()}"'


def _visible(name: str) -> bool:
    return not (name.startswith(".") and ".tmp-" in name)


def _keys(bucket_dir: Path, prefix: str) -> list[str]:
    """Every object key under ``bucket_dir`` that starts with ``prefix``, in S3 order."""
    # Only walk the folder the prefix lies in, not the whole bucket.
    start = bucket_dir.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else bucket_dir
    found = []
    for root, dirs, files in os.walk(start):
        dirs[:] = [d for d in dirs if _visible(d)]
        for name in files:
            if _visible(name):
                key = Path(root, name).relative_to(bucket_dir).as_posix()
                if key.startswith(prefix):
                    found.append(key)
    return sorted(found, key=lambda k: k.encode())


def decode_aws_chunked(body: bytes) -> bytes:
    """Strip ``aws-chunked`` framing (``<hex>[;ext]\\r\\n<data>\\r\\n``..., trailers)."""
    out = bytearray()
    index = 0
    while index < len(body):
        line_end = body.index(b"\r\n", index)
        size = int(body[index:line_end].split(b";", 1)[0], 16)
        index = line_end + 2
        if size == 0:
            break
        out += body[index : index + size]
        index += size + 2
    return bytes(out)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: jobs have their logs
        return

    # -- plumbing ----------------------------------------------------------------------
    def _target(self) -> tuple[str, str, dict[str, list[str]]]:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        parts = urllib.parse.unquote(url.path).lstrip("/").split("/", 1)
        return parts[0], parts[1] if len(parts) > 1 else "", query

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        encoding = self.headers.get("Content-Encoding", "")
        sha = self.headers.get("x-amz-content-sha256", "")
        if "aws-chunked" in encoding or sha.startswith("STREAMING-"):
            data = decode_aws_chunked(data)
        return data

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if body and "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, resource: str = "") -> None:
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message><Resource>{escape(resource)}</Resource>"
            "</Error>"
        )
        self._send(status, xml.encode())

    def _path(self, bucket: str, key: str) -> Path | None:
        try:
            return s3.uri_to_path(self.server.root, f"s3://{bucket}/{key}")
        except s3.S3UriError as exc:
            self._error(400, "InvalidArgument", str(exc), f"/{bucket}/{key}")
            return None

    def _object_headers(self, path: Path) -> dict[str, str]:
        stat = path.stat()
        return {
            "ETag": _etag(path),
            "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }

    # -- verbs -------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        bucket, key, _query = self._target()
        if not bucket:
            return self._send(200)
        path = self._path(bucket, key)
        if path is None:
            return None
        if not key:
            return self._send(200 if path.is_dir() else 404)
        if not path.is_file():
            return self._send(404)
        headers = self._object_headers(path)
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        return None

    def do_GET(self) -> None:
        bucket, key, query = self._target()
        if not bucket:
            return self._error(501, "NotImplemented", "ListBuckets is not served locally")
        path = self._path(bucket, key)
        if path is None:
            return None
        if not key:
            if not path.is_dir():
                return self._error(404, "NoSuchBucket", f"bucket {bucket} does not exist", bucket)
            return self._list(bucket, path, query)
        if not path.is_file():
            return self._error(404, "NoSuchKey", f"no object {key}", f"/{bucket}/{key}")
        data = path.read_bytes()
        headers = self._object_headers(path)
        status = 200
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes="):
            first_text, _, last_text = ranged[6:].partition("-")
            first = int(first_text or 0)
            last = min(int(last_text) if last_text else len(data) - 1, len(data) - 1)
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            data, status = data[first : last + 1], 206
        return self._send(status, data, headers)

    def do_PUT(self) -> None:
        bucket, key, query = self._target()
        path = self._path(bucket, key)
        if path is None:
            return None
        body = self._body()
        if not key:  # CreateBucket
            path.mkdir(parents=True, exist_ok=True)
            return self._send(200, headers={"Location": f"/{bucket}"})
        if "uploadId" in query:
            part = (
                self.server.parts_dir(query["uploadId"][0]) / f"{int(query['partNumber'][0]):05d}"
            )
            part.write_bytes(body)
            return self._send(
                200, headers={"ETag": f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'}
            )
        source = self.headers.get("x-amz-copy-source")
        if source:
            src_bucket, _, src_key = urllib.parse.unquote(source).lstrip("/").partition("/")
            src = self._path(src_bucket, src_key.split("?", 1)[0])
            if src is None:
                return None
            if not src.is_file():
                return self._error(404, "NoSuchKey", f"no object {src_key}", source)
            body = src.read_bytes()
        if key.endswith("/") and not body:
            path.mkdir(parents=True, exist_ok=True)  # a "folder" marker object
            empty_md5 = '"d41d8cd98f00b204e9800998ecf8427e"'  # pragma: allowlist secret
            return self._send(200, headers={"ETag": empty_md5})
        try:
            s3.put_bytes(self.server.root, f"s3://{bucket}/{key}", body)
        except OSError as exc:
            return self._error(409, "KeyConflict", f"{key}: {exc}", f"/{bucket}/{key}")
        etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
        if source:
            xml = f"<CopyObjectResult {_NS}><ETag>{escape(etag)}</ETag></CopyObjectResult>"
            return self._send(200, xml.encode())
        return self._send(200, headers={"ETag": etag})

    def do_POST(self) -> None:
        bucket, key, query = self._target()
        body = self._body()
        if not bucket or not key:
            return self._error(501, "NotImplemented", "only S3 object requests are served locally")
        if "uploads" in query:
            upload = uuid.uuid4().hex
            self.server.parts_dir(upload).mkdir(parents=True, exist_ok=True)
            xml = (
                f"<InitiateMultipartUploadResult {_NS}><Bucket>{escape(bucket)}</Bucket>"
                f"<Key>{escape(key)}</Key><UploadId>{upload}</UploadId>"
                "</InitiateMultipartUploadResult>"
            )
            return self._send(200, xml.encode())
        if "uploadId" in query:
            folder = self.server.parts_dir(query["uploadId"][0])
            data = b"".join(p.read_bytes() for p in sorted(folder.iterdir()))
            s3.put_bytes(self.server.root, f"s3://{bucket}/{key}", data)
            shutil.rmtree(folder, ignore_errors=True)
            etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
            xml = (
                f"<CompleteMultipartUploadResult {_NS}><Bucket>{escape(bucket)}</Bucket>"
                f"<Key>{escape(key)}</Key><ETag>{escape(etag)}</ETag>"
                "</CompleteMultipartUploadResult>"
            )
            return self._send(200, xml.encode())
        del body
        return self._error(501, "NotImplemented", f"POST {self.path} is not served locally")

    def do_DELETE(self) -> None:
        bucket, key, query = self._target()
        if "uploadId" in query:
            shutil.rmtree(self.server.parts_dir(query["uploadId"][0]), ignore_errors=True)
            return self._send(204)
        path = self._path(bucket, key)
        if path is None:
            return None
        if key and path.is_file():
            path.unlink()
        return self._send(204)

    # -- listing -----------------------------------------------------------------------
    def _list(self, bucket: str, bucket_dir: Path, query: dict[str, list[str]]) -> None:
        def arg(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        prefix, delimiter = arg("prefix"), arg("delimiter")
        max_keys = int(arg("max-keys", "1000") or 1000)
        v2 = arg("list-type") == "2"
        after = arg("continuation-token") or arg("start-after") if v2 else arg("marker")
        contents: list[str] = []
        prefixes: list[str] = []
        truncated = False
        last = ""
        for key in _keys(bucket_dir, prefix):
            if after and key.encode() <= after.encode():
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if common not in prefixes:
                        if len(contents) + len(prefixes) >= max_keys:
                            truncated = True
                            break
                        prefixes.append(common)
                    last = key
                    continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            contents.append(key)
            last = key
        items = []
        for key in contents:
            path = bucket_dir.joinpath(*key.split("/"))
            stat = path.stat()
            modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
            iso = email.utils.parsedate_to_datetime(modified).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            items.append(
                f"<Contents><Key>{escape(key)}</Key><LastModified>{iso}</LastModified>"
                f"<ETag>{escape(_etag(path))}</ETag><Size>{stat.st_size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        common = "".join(
            f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes
        )
        paging = ""
        if v2:
            paging = f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>"
            if truncated:
                paging += f"<NextContinuationToken>{escape(last)}</NextContinuationToken>"
        elif truncated:
            paging = f"<NextMarker>{escape(last)}</NextMarker>"
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult {_NS}>'
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<MaxKeys>{max_keys}</MaxKeys>"
            + (f"<Delimiter>{escape(delimiter)}</Delimiter>" if delimiter else "")
            + f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
            f"{paging}{''.join(items)}{common}</ListBucketResult>"
        )
        self._send(200, xml.encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, scratch: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.scratch = scratch

    def parts_dir(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise ValueError(f"upload id {upload_id!r} is not alphanumeric")
        return self.scratch / upload_id


class S3Endpoint:
    """The loopback endpoint of one execution; started on first use, stopped by close()."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root = Path(root)
        self.scratch = Path(scratch)
        self._server: _Server | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, starting the server if needed."""
        with self._lock:
            if self._server is None:
                self.root.mkdir(parents=True, exist_ok=True)
                self.scratch.mkdir(parents=True, exist_ok=True)
                self._server = _Server(self.root, self.scratch)
                threading.Thread(
                    target=self._server.serve_forever,
                    args=(SHUTDOWN_POLL,),
                    name="sagepipe-s3",
                    daemon=True,
                ).start()
            port = self._server.server_address[1]
            return f"http://127.0.0.1:{port}"

    def job_env(self, job_dir: Path) -> dict[str, str]:
        """What a job's environment needs for boto3 to use this endpoint and nothing else."""
        config = job_dir / "aws-config"
        config.write_text("[default]\ns3 =\n    addressing_style = path\n")
        url = self.url
        return {
            "AWS_ENDPOINT_URL_S3": url,
            # Every other AWS service goes to the same loopback endpoint, which refuses
            # it: a job fails here rather than reach a real account.
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "sagepipe-local",
            "AWS_SECRET_ACCESS_KEY": "sagepipe-local",  # pragma: allowlist secret
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def close(self) -> None:
        """Stop the server (if it ran) and drop unfinished multipart uploads."""
        with self._lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None
        shutil.rmtree(self.scratch, ignore_errors=True)
