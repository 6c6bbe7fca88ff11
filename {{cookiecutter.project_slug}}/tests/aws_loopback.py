"""moto in server mode on loopback, behind a recording proxy that can inject faults.

moto answers the AWS APIs over real HTTP; the proxy in front of it keeps every request
(so a test can assert what was *sent*, which matters where moto does not model the
service: it never runs pipeline steps, serves predictions or implements every action),
can answer chosen actions with an error first (throttling, access denied), the way
AWS would, and can call a test's function after moto answered an action (``after``: a
test runs there the processing job moto only records). Nothing here is a fake of AWS:
every answer that is not an injected fault comes from moto.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from moto.server import ThreadedMotoServer

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
REGION = "us-east-1"


def create_model_package(
    sm: Any, group: str, model_data_url: str, status: str = "Approved", **fields: Any
) -> str:
    """Register a version in ``group`` on moto as the pipeline's RegisterModel step would:
    one container (an ECR image) on ``model_data_url``, CSV in and out; return its ARN.
    ``fields`` are further CreateModelPackage arguments (a description, baselines, ...)."""
    answer = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/p:1",
                    "ModelDataUrl": model_data_url,
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **fields,
    )
    return str(answer["ModelPackageArn"])


@dataclass
class Request:
    """One request that went through the proxy."""

    method: str
    path: str
    target: str  # X-Amz-Target's operation ("CreatePipeline"), or "" for S3
    body: bytes

    def json(self) -> Any:
        """The JSON body of a SageMaker call."""
        return json.loads(self.body or b"{}")


@dataclass
class Fault:
    """Answer ``times`` calls of ``operation`` with ``status`` and an AWS error body."""

    operation: str
    code: str
    message: str
    status: int = 400
    times: int = 1_000_000


@dataclass
class Proxy:
    """The proxy's state, shared with its handler threads."""

    upstream: str
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # operation -> called with the request once moto has answered it, before the answer
    # goes back: where moto records a job it never runs, a test can run it there.
    after: dict[str, Callable[[Request], None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, operation: str) -> list[Request]:
        """Requests for one SageMaker operation, oldest first."""
        with self.lock:
            return [r for r in self.requests if r.target == operation]

    def operations(self) -> list[str]:
        """Every SageMaker operation sent, in order."""
        with self.lock:
            return [r.target for r in self.requests if r.target]

    def s3_requests(self, method: str) -> list[Request]:
        """S3 requests with ``method`` (PUT, HEAD, ...)."""
        with self.lock:
            return [r for r in self.requests if not r.target and r.method == method]

    def clear(self) -> None:
        """Forget requests and faults."""
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.after.clear()


def _handler(state: Proxy) -> type[BaseHTTPRequestHandler]:
    up = urlsplit(state.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:  # quiet test output
            pass

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length")
            if length is not None:
                return self.rfile.read(int(length))
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            return b""

        def _handle(self) -> None:
            body = self._body()
            target = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
            with state.lock:
                state.requests.append(Request(self.command, self.path, target, body))
                fault = next(
                    (f for f in state.faults if f.operation == target and f.times > 0), None
                )
                if fault is not None:
                    fault.times -= 1
            if fault is not None:
                payload = json.dumps({"__type": fault.code, "message": fault.message}).encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-ErrorType", fault.code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("transfer-encoding", "connection", "content-length")
            }
            headers["Content-Length"] = str(len(body))
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            hook = state.after.get(target)
            if hook is not None and response.status == 200:
                hook(Request(self.command, self.path, target, body))
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    return Handler


class AwsOnLoopback:
    """moto's server and the proxy in front of it; ``url`` is what AWS_ENDPOINT_URL gets."""

    def __init__(self) -> None:
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        self.proxy = Proxy(self.moto_url)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.proxy))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        """Empty moto's state and the proxy's log between tests."""
        urllib.request.urlopen(
            urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"), timeout=10
        ).read()
        self.proxy.clear()

    def env(self) -> dict[str, str]:
        """Environment that points boto3 at the proxy with dummy credentials."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_MAX_ATTEMPTS": "2",
            "AWS_RETRY_MODE": "standard",
        }

    def close(self) -> None:
        """Stop both servers."""
        self.server.shutdown()
        self.server.server_close()
        self.moto.stop()
