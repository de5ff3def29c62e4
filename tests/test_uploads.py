"""Direct uploads (r2store.uploads): tickets issued, PUT to the S3 server as a browser
would, and verified. Also runs on SeaweedFS (``nox -s tests_seaweedfs``), which checks the
signed Content-Length and Content-Type that moto ignores."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from r2store import R2Store
from r2store.errors import InvalidTicketError, UploadRefusedError
from r2store.proxy import ProxyResponse
from r2store.uploads import DirectUploads, UploadPolicy, UploadTicket, safe_filename

SECRET = "tests-upload-ticket-secret"
POLICY = UploadPolicy(max_size=1024 * 1024, content_types=["image/*", "application/pdf"])


@pytest.fixture
def uploads(store: R2Store) -> DirectUploads:
    """Direct uploads into the test bucket, images and PDFs up to 1 MiB."""
    return DirectUploads(store, policy=POLICY, secret=SECRET)


def _put(ticket: UploadTicket, body: bytes, **headers: str) -> httpx.Response:
    """PUT *body* to the ticket's URL as a browser does: its headers, the body's length."""
    sent = {**ticket.headers, **headers}
    return httpx.put(ticket.url, content=body, headers=sent, timeout=30)


def _tampered(token: str, **changes: object) -> str:
    """*token* with fields changed in its payload and its MAC kept."""
    import base64

    payload, mac = token.split(".")
    key, size, content_type, expires = json.loads(base64.urlsafe_b64decode(payload + "=="))
    fields = {"key": key, "size": size, "content_type": content_type, "expires": expires}
    fields.update(changes)
    raw = json.dumps(list(fields.values()), separators=(",", ":")).encode()
    return f"{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}.{mac}"


def _json_body(answer: ProxyResponse) -> Any:
    assert isinstance(answer.body, bytes)
    return json.loads(answer.body)


def test_a_presigned_get_cannot_pin_a_length(store: R2Store) -> None:
    """content_length and create_only are refused for a method other than PUT."""
    with pytest.raises(ValueError, match="PUT only"):
        store.presigned_url("a.png", content_length=3)


def test_an_uploaded_file_verifies(uploads: DirectUploads, store: R2Store) -> None:
    """A file PUT on its ticket verifies, and lands under the ticket's key with its type."""
    ticket = uploads.issue("cat.png", 5, "image/png")

    assert _put(ticket, b"12345").status_code == 200
    stat = uploads.verify(ticket.token)

    assert (stat.key, stat.size, stat.content_type) == (ticket.key, 5, "image/png")
    assert store.read(ticket.key) == b"12345"


def test_two_uploads_of_one_name_get_two_objects(uploads: DirectUploads, store: R2Store) -> None:
    """Two tickets for the same file name name two keys, and both uploads are kept."""
    first = uploads.issue("photo.jpg", 3, "image/jpeg")
    second = uploads.issue("photo.jpg", 3, "image/jpeg")
    _put(first, b"one")
    _put(second, b"two")

    assert first.key != second.key
    assert first.key.endswith("/photo.jpg")
    assert second.key.endswith("/photo.jpg")
    assert uploads.verify(first.token).key == first.key
    assert uploads.verify(second.token).key == second.key
    assert (store.read(first.key), store.read(second.key)) == (b"one", b"two")


def test_a_ticket_uploads_only_once(uploads: DirectUploads, store: R2Store) -> None:
    """Replaying a ticket's PUT after its upload is refused (412): the URL only creates."""
    ticket = uploads.issue("cat.png", 5, "image/png")
    _put(ticket, b"first")

    assert _put(ticket, b"other").status_code == 412
    assert store.read(ticket.key) == b"first"


@pytest.mark.checks_signatures
def test_the_server_refuses_another_length(uploads: DirectUploads, store: R2Store) -> None:
    """A ticket's PUT with a body of another length is refused by the S3 server (403)."""
    ticket = uploads.issue("cat.png", 5, "image/png")

    assert _put(ticket, b"123456").status_code == 403
    assert not store.exists(ticket.key)


@pytest.mark.checks_signatures
def test_the_server_refuses_another_type(uploads: DirectUploads, store: R2Store) -> None:
    """A ticket's PUT with another Content-Type is refused by the S3 server (403)."""
    ticket = uploads.issue("cat.png", 5, "image/png")

    assert _put(ticket, b"12345", **{"Content-Type": "text/html"}).status_code == 403
    assert not store.exists(ticket.key)


@pytest.mark.checks_signatures
def test_the_server_refuses_a_put_that_may_overwrite(uploads: DirectUploads) -> None:
    """A ticket's PUT without its If-None-Match (so that it could overwrite) is refused (403)."""
    ticket = uploads.issue("cat.png", 5, "image/png")
    response = httpx.put(
        ticket.url, content=b"12345", headers={"Content-Type": "image/png"}, timeout=30
    )

    assert response.status_code == 403


def test_verify_refuses_a_tampered_token(uploads: DirectUploads) -> None:
    """A token whose size was changed (its MAC kept) is refused."""
    ticket = uploads.issue("cat.png", 5, "image/png")
    _put(ticket, b"12345")

    with pytest.raises(InvalidTicketError, match="not valid"):
        uploads.verify(_tampered(ticket.token, size=6))


def test_verify_refuses_a_token_for_another_key(uploads: DirectUploads) -> None:
    """A token pointed at another object (its MAC kept) is refused."""
    ticket = uploads.issue("cat.png", 5, "image/png")

    with pytest.raises(InvalidTicketError, match="not valid"):
        uploads.verify(_tampered(ticket.token, key="uploads/someone-elses.png"))


def test_verify_refuses_a_token_signed_with_another_secret(
    uploads: DirectUploads, store: R2Store
) -> None:
    """A token made with another secret is refused."""
    forger = DirectUploads(store, policy=POLICY, secret="another-secret")
    ticket = forger.issue("cat.png", 5, "image/png")
    _put(ticket, b"12345")

    with pytest.raises(InvalidTicketError, match="not valid"):
        uploads.verify(ticket.token)


def test_verify_refuses_an_expired_token(store: R2Store) -> None:
    """A token past its expiry is refused, although its upload landed."""
    uploads = DirectUploads(store, policy=UploadPolicy(max_size=10, expires_in=1), secret=SECRET)
    ticket = uploads.issue("a.txt", 1, "text/plain")
    _put(ticket, b"x")
    time.sleep(2.1)

    with pytest.raises(InvalidTicketError, match="expired"):
        uploads.verify(ticket.token)


def test_verify_refuses_a_ticket_never_used(uploads: DirectUploads) -> None:
    """A genuine token whose file was never uploaded is refused."""
    ticket = uploads.issue("cat.png", 5, "image/png")

    with pytest.raises(InvalidTicketError, match="nothing was uploaded"):
        uploads.verify(ticket.token)


def test_verify_refuses_and_deletes_an_object_of_another_type(
    uploads: DirectUploads, store: R2Store
) -> None:
    """An object of another type under the ticket's key (as a server that checks no
    signatures would store) is refused and deleted."""
    ticket = uploads.issue("cat.png", 5, "image/png")
    store.save(ticket.key, b"12345", content_type="text/html")

    with pytest.raises(InvalidTicketError, match="not what the ticket declared"):
        uploads.verify(ticket.token)
    assert not store.exists(ticket.key)


def test_verify_refuses_an_object_of_another_size(uploads: DirectUploads, store: R2Store) -> None:
    """An object of another size under the ticket's key is refused."""
    ticket = uploads.issue("cat.png", 5, "image/png")
    store.save(ticket.key, b"123456", content_type="image/png")

    with pytest.raises(InvalidTicketError, match="not what the ticket declared"):
        uploads.verify(ticket.token)


def test_issue_refuses_a_file_over_the_limit(uploads: DirectUploads) -> None:
    """A ticket for a file larger than max_size is refused."""
    with pytest.raises(UploadRefusedError, match="at most 1048576 bytes"):
        uploads.issue("big.png", 1024 * 1024 + 1, "image/png")


def test_issue_refuses_a_type_not_allowed(uploads: DirectUploads) -> None:
    """A ticket for a type the policy does not list is refused."""
    with pytest.raises(UploadRefusedError, match="text/html are not accepted"):
        uploads.issue("page.html", 10, "text/html")


def test_issue_signs_the_type_without_parameters(uploads: DirectUploads) -> None:
    """The declared type is pinned as its lower-case essence."""
    assert uploads.issue("a.png", 1, "Image/PNG; x=1").content_type == "image/png"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("C:\\Users\\me\\My Photo (1).jpg", "My_Photo_1_.jpg"),
        ("../../etc/passwd", "passwd"),
        ("..", "file"),
        (".hidden", "hidden"),
        ("café.png", "caf_.png"),
        ("a" * 300 + ".jpeg", "a" * 95 + ".jpeg"),
    ],
)
def test_safe_filename(filename: str, expected: str) -> None:
    """A browser's file name becomes its last part, in safe characters, at most 100 long."""
    assert safe_filename(filename) == expected


def test_the_endpoint_answers_a_ticket(uploads: DirectUploads) -> None:
    """A POST of {filename, size, type} gets the ticket as JSON, not to be cached."""
    answer = uploads.handle("POST", b'{"filename": "a.png", "size": 3, "type": "image/png"}')
    ticket = _json_body(answer)

    assert answer.status == 200
    assert ("Cache-Control", "no-store") in answer.headers
    assert ticket["size"] == 3
    assert ticket["headers"] == {"Content-Type": "image/png", "If-None-Match": "*"}
    assert uploads.read_token(ticket["token"]) == (ticket["key"], 3, "image/png")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"size": 3, "type": "image/png"}', b'{"filename": "a", "size": "3"}'],
)
def test_the_endpoint_refuses_a_malformed_request(uploads: DirectUploads, body: bytes) -> None:
    """A request that is not {filename, size, type} gets 400 with an error message."""
    answer = uploads.handle("POST", body)

    assert answer.status == 400
    assert "error" in _json_body(answer)


def test_the_endpoint_refuses_what_the_policy_refuses(uploads: DirectUploads) -> None:
    """A request for a file over the limit gets 400 saying why."""
    answer = uploads.handle("POST", b'{"filename": "a.png", "size": 9999999, "type": "image/png"}')

    assert answer.status == 400
    assert "at most" in _json_body(answer)["error"]


def test_the_wsgi_app_issues_tickets(uploads: DirectUploads) -> None:
    """UploadTicketApp behind a real WSGI server answers a ticket request with a ticket."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from r2store.wsgi import UploadTicketApp

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, UploadTicketApp(uploads), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = httpx.post(
            f"http://127.0.0.1:{server.server_port}/",
            json={"filename": "a.png", "size": 3, "type": "image/png"},
        )
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 200
    assert uploads.read_token(response.json()["token"])[1:] == (3, "image/png")


def test_the_wsgi_app_refuses_a_body_too_long(uploads: DirectUploads) -> None:
    """UploadTicketApp refuses a body declared longer than MAX_TICKET_REQUEST (413) unread."""
    import io

    from r2store.uploads import MAX_TICKET_REQUEST
    from r2store.wsgi import UploadTicketApp

    body = io.BytesIO(b" " * (MAX_TICKET_REQUEST * 4))
    environ = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(MAX_TICKET_REQUEST * 4)}
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        statuses.append(status)

    UploadTicketApp(uploads)({**environ, "wsgi.input": body}, start_response)

    assert statuses == ["413 Request Entity Too Large"]
    assert body.tell() == 0


def _raw_wsgi_request(uploads: DirectUploads, head: bytes, body: bytes) -> bytes:
    """Send *head* (request line and headers, as bytes) and *body* to UploadTicketApp behind
    wsgiref's server, byte for byte as given; the status line of the answer."""
    import socket
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from r2store.wsgi import UploadTicketApp

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, UploadTicketApp(uploads), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
            sock.sendall(head + b"\r\n" + body)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    finally:
        server.shutdown()
        server.server_close()
    return answer.split(b"\r\n", 1)[0]


def test_the_wsgi_app_refuses_a_length_not_in_ascii_digits(uploads: DirectUploads) -> None:
    """A Content-Length of a digit outside ASCII ("\u00b2", which str.isdigit() takes) is 400."""
    body = b'{"filename": "a.png", "size": 3, "type": "image/png"}'
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    # wsgiref reads header bytes as latin-1: 0xb2 is "\u00b2".
    status = _raw_wsgi_request(uploads, head + b"Content-Length: \xb2\r\n", body)

    assert status == b"HTTP/1.0 400 Bad Request"


def test_the_wsgi_app_asks_for_a_length(uploads: DirectUploads) -> None:
    """A body sent chunked (no Content-Length) gets 411 Length Required."""
    body = b'{"filename": "a.png", "size": 3, "type": "image/png"}'
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)

    status = _raw_wsgi_request(uploads, head, chunked)

    assert status == b"HTTP/1.0 411 Length Required"


def test_the_asgi_app_issues_tickets(uploads: DirectUploads) -> None:
    """UploadTicketApp over ASGI answers a ticket request with a ticket; a GET gets 405."""
    from starlette.testclient import TestClient

    from r2store.asgi import UploadTicketApp

    with TestClient(UploadTicketApp(uploads)) as client:
        response = client.post("/", json={"filename": "a.png", "size": 3, "type": "image/png"})
        refused = client.get("/")

    assert response.status_code == 200
    assert uploads.read_token(response.json()["token"])[1:] == (3, "image/png")
    assert refused.status_code == 405


@pytest.mark.parametrize("scope_type", ["websocket", "webtransport"])
def test_the_asgi_app_refuses_a_scope_not_http(uploads: DirectUploads, scope_type: str) -> None:
    """UploadTicketApp refuses a websocket (or other non-HTTP) scope as R2ProxyApp does."""
    import asyncio

    from r2store.asgi import UploadTicketApp

    async def receive() -> dict[str, Any]:
        return {"type": f"{scope_type}.connect"}

    async def send(message: Any) -> None:
        raise AssertionError(f"nothing is sent: {message!r}")

    scope = {"type": scope_type, "path": "/", "headers": []}
    with pytest.raises(RuntimeError, match=f"HTTP only, not '{scope_type}'"):
        asyncio.run(UploadTicketApp(uploads)(scope, receive, send))


# -- binding a ticket to its subject (who asked for it) ---------------------------------------

#: A token made by the first release (no subject) for a fixed key, expiring in 2100: the
#: tokens already issued must keep verifying.
FIRST_RELEASE_TOKEN = (
    "WyJ1cGxvYWRzL0FBQUFBQUFBQUFBQUFBQUFBQUFBQUEvY2F0LnBuZyIsNSwiaW1hZ2UvcG5nIiw0MTAyNDQ0ODAwXQ"
    ".atkR226P-ZUb2_BpXgXEaMvp0BWzQahT2rko5DlA4Gc"
)


def _offline_uploads() -> DirectUploads:
    """Direct uploads for a fixed bucket and location, for reading tokens (no network)."""
    from r2store import R2Config

    config = R2Config(
        account_id="0" * 32,
        bucket="media",
        access_key_id="AKIAEXAMPLE",
        secret_access_key="not-used",
        location="site",
    )
    return DirectUploads(R2Store(config), policy=POLICY, secret=SECRET)


def test_a_first_release_token_still_reads() -> None:
    """A token issued without a subject by the first release reads, without a subject."""
    key = "uploads/AAAAAAAAAAAAAAAAAAAAAA/cat.png"

    assert _offline_uploads().read_token(FIRST_RELEASE_TOKEN) == (key, 5, "image/png")


def test_a_first_release_token_is_refused_for_a_subject() -> None:
    """A token issued without a subject is refused when a subject is asked for."""
    with pytest.raises(InvalidTicketError, match="issued to someone else"):
        _offline_uploads().read_token(FIRST_RELEASE_TOKEN, subject="user:1")


def test_a_token_verifies_for_its_subject(uploads: DirectUploads) -> None:
    """A file uploaded on a ticket issued to a subject verifies for that subject."""
    ticket = uploads.issue("cat.png", 5, "image/png", subject="user:1")
    _put(ticket, b"12345")

    assert uploads.verify(ticket.token, subject="user:1").key == ticket.key


def test_a_token_is_refused_for_another_subject(uploads: DirectUploads) -> None:
    """A token issued to one subject is refused for another, its upload notwithstanding."""
    ticket = uploads.issue("cat.png", 5, "image/png", subject="user:1")
    _put(ticket, b"12345")

    with pytest.raises(InvalidTicketError, match="issued to someone else") as refused:
        uploads.verify(ticket.token, subject="user:2")
    assert SECRET not in str(refused.value)


def test_a_token_for_a_subject_is_refused_without_one(uploads: DirectUploads) -> None:
    """A token issued to a subject is refused by a verify() that names none."""
    ticket = uploads.issue("cat.png", 5, "image/png", subject="user:1")
    _put(ticket, b"12345")

    with pytest.raises(InvalidTicketError, match="not valid"):
        uploads.verify(ticket.token)


def test_a_token_without_a_subject_is_refused_for_one(uploads: DirectUploads) -> None:
    """A token issued to nobody in particular is refused by a verify() that names a subject."""
    ticket = uploads.issue("cat.png", 5, "image/png")
    _put(ticket, b"12345")

    with pytest.raises(InvalidTicketError, match="issued to someone else"):
        uploads.verify(ticket.token, subject="user:1")


def test_the_subject_is_not_in_the_token(uploads: DirectUploads) -> None:
    """The subject is in the token's MAC only: its readable payload does not show it."""
    import base64

    token = uploads.issue("cat.png", 5, "image/png", subject="user:4242-private").token
    payload = base64.urlsafe_b64decode(token.split(".")[0] + "==")

    assert b"4242" not in payload
    assert b"4242" not in token.encode()


@pytest.mark.parametrize("subject", ["", 42])
def test_a_subject_must_be_a_non_empty_str(uploads: DirectUploads, subject: Any) -> None:
    """An empty or non-str subject is a programming error, not a subject every caller shares."""
    with pytest.raises((TypeError, ValueError), match="subject must be a non-empty str"):
        uploads.issue("cat.png", 5, "image/png", subject=subject)


def test_the_endpoint_binds_the_ticket_to_its_subject(uploads: DirectUploads) -> None:
    """handle() with a subject answers a token that reads for that subject only."""
    body = b'{"filename": "a.png", "size": 3, "type": "image/png"}'
    token = _json_body(uploads.handle("POST", body, subject="user:1"))["token"]

    assert uploads.read_token(token, subject="user:1")[1:] == (3, "image/png")
    with pytest.raises(InvalidTicketError):
        uploads.read_token(token, subject="user:2")


def test_the_endpoint_asks_for_the_subject_only_to_issue(uploads: DirectUploads) -> None:
    """A subject function is called for a ticket it issues, not for a request it refuses."""
    asked: list[str] = []

    def subject() -> str:
        asked.append("asked")
        return "user:1"

    uploads.handle("GET", b"", subject=subject)
    uploads.handle(
        "POST", b'{"filename": "a.png", "size": 3, "type": "text/html"}', subject=subject
    )
    answer = uploads.handle(
        "POST", b'{"filename": "a.png", "size": 3, "type": "image/png"}', subject=subject
    )

    assert asked == ["asked"]
    assert uploads.read_token(_json_body(answer)["token"], subject="user:1")


def test_the_wsgi_app_binds_tickets_to_the_requests_subject(uploads: DirectUploads) -> None:
    """UploadTicketApp(subject=) binds each ticket to what its function reads from the environ."""
    import io

    from r2store.wsgi import UploadTicketApp

    body = b'{"filename": "a.png", "size": 3, "type": "image/png"}'
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_X_USER": "alice",
    }
    app = UploadTicketApp(uploads, subject=lambda environ: f"user:{environ['HTTP_X_USER']}")
    answer = b"".join(app(environ, lambda status, headers, *exc: None))  # type: ignore[arg-type]
    token = json.loads(answer)["token"]

    assert uploads.read_token(token, subject="user:alice")
    with pytest.raises(InvalidTicketError):
        uploads.read_token(token, subject="user:bob")


@pytest.mark.parametrize(
    ("strict", "reason"),
    [
        (UploadPolicy(max_size=4, content_types=["image/*"]), "at most 4 bytes"),
        (UploadPolicy(max_size=1024, content_types=["application/pdf"]), "image/png"),
        (UploadPolicy(max_size=1024, prefix="avatars"), "another field"),
        (UploadPolicy(max_size=1024, max_key_length=40), "longer than 40"),
    ],
)
def test_verify_refuses_a_ticket_another_policy_issued(
    uploads: DirectUploads, store: R2Store, strict: UploadPolicy, reason: str
) -> None:
    """A ticket issued under a looser policy does not verify under a stricter one (size,
    type, prefix, key length), and its object is left alone."""
    ticket = uploads.issue("a-rather-long-file-name.png", 5, "image/png")
    _put(ticket, b"12345")
    with pytest.raises(InvalidTicketError, match=reason):
        uploads.verify(ticket.token, policy=strict)
    strict_uploads = DirectUploads(store, policy=strict, secret=SECRET)
    with pytest.raises(InvalidTicketError, match=reason):
        strict_uploads.verify(ticket.token)
    assert store.exists(ticket.key)
    assert uploads.verify(ticket.token).key == ticket.key


def test_the_endpoint_refuses_when_the_subject_function_finds_nobody(
    uploads: DirectUploads,
) -> None:
    """A subject function that answers None gets 403 and no ticket: an unbound ticket is
    issued only where subject=None says so."""
    request = json.dumps({"filename": "a.png", "size": 3, "type": "image/png"}).encode()
    answer = uploads.handle("POST", request, subject=lambda: None)
    assert answer.status == 403
    assert "sign in" in _json_body(answer)["error"]
