"""What leaves the daemon, end to end on loopback: a source URL's credentials reach only the
source's server, and no control code from a feed, a page or a server reaches a terminal, a log
line, a mail header or a status view. Each output edge on its own is
tests/unit/test_redact_leaks.py."""

from __future__ import annotations

import base64
import signal
import subprocess
from pathlib import Path

import httpx

from tests.conftest import (
    FeedServer,
    Mailbox,
    Route,
    free_port,
    run_cli,
    syndicator_command,
    wait_until,
    write_config,
)
from tests.unit.test_redact_leaks import (
    API_KEY,
    PASSWORD,
    SECRETS,
    TOKEN,
    _controls,
    _mail_text,
)

# Relative links of every kind a feed uses: entry links, an xml:base, images, links that keep
# the base's query ("", "#x") and one that replaces it ("?page=2").
PRIVATE_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Private</title><link></link>
<item><title>NATO summit opens</title><link>article/1</link><guid>a1</guid>
<description>NATO ministers meet.</description>
<content:encoded><![CDATA[<p>NATO ministers meet in the capital today for talks.</p>
<p><img src="img/photo.jpg" width="600" height="400" alt="photo"></p>
<p><a href="">This feed</a> <a href="#more">more</a> <a href="?page=2">next page</a>
<a href="../other">other</a></p>]]></content:encoded></item>
<item><title>NATO second story</title><link></link><guid>a2</guid>
<description>Another NATO story about the alliance and its partners.</description></item>
</channel></rss>
"""


def _nato_alerted(smtp_port: int) -> str:
    """The topic nato, alerted on the console and by email to the loopback SMTP server."""
    return f"""[[topics]]
name = "nato"
query = "NATO"
[[alerts]]
type = "console"
[[alerts]]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "s@example.org"
to = ["a@example.org"]
"""


def test_source_credentials_reach_only_the_source(
    tmp_path: Path, feed_server: FeedServer, smtp: tuple[Mailbox, int]
) -> None:
    box, smtp_port = smtp
    base = feed_server.base.replace("http://", f"http://reader:{PASSWORD}@")
    feed_server.routes[f"/private/feed.xml?apikey={API_KEY}"] = Route(PRIVATE_FEED)
    feed_server.routes[f"/loop?token={TOKEN}"] = Route(
        b"", status=301, headers={"Location": f"/loop?token={TOKEN}"}
    )
    port = free_port()
    config = write_config(
        tmp_path,
        f"""unhealthy_after = 1
[server]
listen = "127.0.0.1:{port}"
[fetch]
per_host_interval = 0
[[sources]]
name = "private"
url = "{base}/private/feed.xml?apikey={API_KEY}"
[[sources]]
name = "looping"
url = "{base}/loop?token={TOKEN}"
{_nato_alerted(smtp_port)}""",
    )
    feeds = tmp_path / "feeds"
    log_file = tmp_path / "daemon.log"
    with (
        log_file.open("w") as log,
        subprocess.Popen(
            [*syndicator_command(), "--log-level", "DEBUG", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        ) as proc,
    ):
        try:
            wait_until(lambda: (feeds / "nato.atom").exists() and len(box.messages) >= 3, proc)
            page = httpx.get(f"http://127.0.0.1:{port}/").text
        finally:
            proc.send_signal(signal.SIGTERM)
            stdout, _ = proc.communicate(timeout=30)
    listed = run_cli("list", "--config", str(config))
    status = run_cli("status", "--config", str(config))
    assert listed.returncode == status.returncode == 0

    # The fetch itself used the whole URL: credentials as Basic auth, the key in the query.
    (request, *_) = feed_server.requests_to(f"/private/feed.xml?apikey={API_KEY}")
    credentials = base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"

    all_atom = (feeds / "all.atom").read_text(encoding="utf-8")
    shown = {
        "all.atom": all_atom,
        "nato.atom": (feeds / "nato.atom").read_text(encoding="utf-8"),
        "console": stdout,
        "log (DEBUG)": log_file.read_text(encoding="utf-8"),
        "status page": page,
        "list": listed.stdout + listed.stderr,
        "status": status.stdout + status.stderr,
        **{f"mail {i}": _mail_text(m) for i, m in enumerate(box.messages)},
    }
    for where, text in shown.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {where}"
    # Relative links resolved against the URL without its credentials.
    server = feed_server.base
    assert f'href="{server}/private/article/1"' in all_atom
    assert f"{server}/private/img/photo.jpg" in all_atom
    assert f"{server}/private/feed.xml?page=2" in all_atom
    # What is shown is the URL redacted, so the user still recognises it.
    redacted = "http://***@127.0.0.1"
    assert f"{redacted}:{server.rsplit(':', 1)[1]}/private/feed.xml?apikey=***" in listed.stdout
    assert "token=***" in status.stdout  # the redirect loop's reason names the URL
    assert "apikey=***" in page and "looping" in shown["mail 0"] + shown["mail 1"]
    assert "HTTP Request: GET http://***@127.0.0.1" in shown["log (DEBUG)"]


# -- control codes ---------------------------------------------------------------------------

# C1 controls survive feedparser and lxml where C0 ones do not: OSC (\x9d … \x9c) sets a
# terminal's title, CSI (\x9b) starts any escape sequence, \x90 is DCS.
HOSTILE_TITLE = "NATO \x9d0;pwned\x9c \x9b2J \x90q red".encode()
HOSTILE_FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><title>" + HOSTILE_TITLE + b"</title><link>http://e.example/1</link>"
    b"<description>NATO text \x1b[2J \xc2\x9d0;x\xc2\x9c body</description></item>"
    b"</channel></rss>"
)
# A page advertising a feed whose URL carries ESC, BEL and C1 sequences: the reason that
# names it goes to NOTICE lines, the log, `status` and a notice mail's subject.
HOSTILE_PAGE = (
    b'<html><head><title>x</title><link rel="alternate" type="application/rss+xml" '
    b'href="/feed\x1b[2J\x1b]0;pwned\x07\xc2\x9b2J\xc2\x9d0;t\xc2\x9c.xml"></head><body>x</body>'
    b"</html>"
)
HOSTILE_OPML = (
    b'<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
    b'<outline text="evil\xc2\x9b2J\xc2\x9d0;t\xc2\x9c" title="evil\xc2\x9b2J" type="rss" '
    b'xmlUrl="https://evil.example/f\xc2\x9b2J.xml"/></body></opml>'
)


def test_no_control_code_reaches_a_terminal_a_log_or_a_mail(
    tmp_path: Path, feed_server: FeedServer, smtp: tuple[Mailbox, int]
) -> None:
    box, smtp_port = smtp
    feed_server.routes["/hostile.xml"] = Route(HOSTILE_FEED)
    feed_server.routes["/page"] = Route(HOSTILE_PAGE, content_type="text/html; charset=utf-8")
    config = write_config(
        tmp_path,
        f"""unhealthy_after = 1
[fetch]
per_host_interval = 0
[[sources]]
name = "hostile"
url = "{feed_server.base}/hostile.xml"
[[sources]]
name = "page"
url = "{feed_server.base}/page"
{_nato_alerted(smtp_port)}""",
    )
    run = run_cli("--log-level", "DEBUG", "run", "--once", "--config", str(config))
    assert run.returncode == 0, run.stderr
    (tmp_path / "in.opml").write_bytes(HOSTILE_OPML)
    imported = run_cli("import", str(tmp_path / "in.opml"), "--dry-run", "--config", str(config))
    outputs = {
        "console": run.stdout,
        "log": run.stderr,
        "status": run_cli("status", "--config", str(config)).stdout,
        "list": run_cli("list", "--config", str(config)).stdout,
        "import": imported.stdout + imported.stderr,
        "all.atom": (tmp_path / "feeds" / "all.atom").read_text(encoding="utf-8"),
    }
    # (feedparser reads \x9b and \x9c as windows-1252: U+203A and U+0153)
    assert "ALERT [nato] NATO \\x9d0;pwned\u0153 \u203a2J \\x90q red" in run.stdout
    assert "NOTICE source page is failing: not a feed (the page advertises" in run.stdout
    assert "pwned\\x9b2J" in run.stderr  # escaped, not dropped: the log shows what came
    assert len(box.messages) == 2
    for message in box.messages:
        assert _controls(str(message["Subject"]), "") == [], message["Subject"]
        outputs[f"mail {message['Subject']}"] = _mail_text(message, raw=False)
    for where, text in outputs.items():
        assert _controls(text, "\n\t") == [], where
