"""The cluster for real: `syndicator worker` processes and `syndicator run` schedulers against
the machine's PostgreSQL, Redis and RabbitMQ, and loopback feeds. Each test has its own
database schema and queue, and removes them."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    FeedServer,
    Route,
    free_port,
    run_cli,
    syndicator_command,
    write_config,
)
from tests.system.test_service import alert_lines

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}


def _stories(n: int) -> bytes:
    """A feed of `n` different stories, each naming NATO (so each is alerted)."""
    items = "".join(
        f"<item><title>NATO story {n}-{i}</title><link>https://news.example/{n}/{i}</link>"
        f"<guid>{n}-{i}</guid><description>Story {i} of feed {n}: the alliance met in city "
        f"{i * 7 + n} on day {i}.</description></item>"
        for i in range(3)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://news.example/</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def queue(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"syn-test-{uuid.uuid4().hex[:10]}"
    yield name
    _purge(getattr(request, "param", None) or BROKERS["redis"], name)


def _purge(broker: str, queue: str) -> None:
    """Remove the test's queue from the broker (it is left empty or holding lost tasks)."""
    from kombu import Connection

    with Connection(broker) as conn:
        channel = conn.channel()
        with contextlib.suppress(Exception):  # never declared: nothing to remove
            channel.queue_purge(queue)  # Redis keeps a deleted queue's messages otherwise
            channel.queue_delete(queue)


def _config(
    tmp_path: Path, postgres_url: str, broker: str, queue: str, sources: str, extra: str = ""
) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""[syndicator]
state = "{postgres_url}"
output_dir = "feeds"
interval = "15m"
{extra}
[cluster]
broker = "{broker}"
queue = "{queue}"
lease = "60s"
wait = "120s"
[fetch]
per_host_interval = "0s"
{sources}
[[topics]]
name = "nato"
query = "NATO"
[[alerts]]
type = "console"
""",
        encoding="utf-8",
    )
    return path


def _expire_leases(postgres_url: str) -> None:
    """As if the lease time had passed: what a scheduler's death leaves behind runs out."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE sources SET leased_until = 0 WHERE leased_by IS NOT NULL")


@contextmanager
def _worker(config: Path, log: Path, concurrency: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """`syndicator worker` in its own process group, ready when Celery says so; killed (the
    whole group) when the test is done with it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*syndicator_command(), "worker", "--config", str(config), f"-c{concurrency}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "worker did not start: " + log.read_text()
            time.sleep(0.1)  # waiting for the worker to report ready, not for a timing
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _sources(server: FeedServer, count: int, prefix: str = "s") -> str:
    out = ""
    for n in range(count):
        server.routes[f"/{prefix}{n}.rss"] = Route(_stories(n))
        out += f'[[sources]]\nname = "{prefix}{n}"\nurl = "{server.base}/{prefix}{n}.rss"\n'
    return out


@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_a_cluster_polls_publishes_and_alerts_each_story_once(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str, queue: str, broker: str
) -> None:
    config = _config(tmp_path, postgres_url, BROKERS[broker], queue, _sources(feed_server, 10))
    with _worker(config, tmp_path / "w1.log"), _worker(config, tmp_path / "w2.log"):
        first = run_cli("run", "--once", "--config", str(config))
        assert first.returncode == 0, first.stderr
        lines = alert_lines(first.stdout)
        assert len(lines) == 30 and len(set(lines)) == 30  # 10 feeds x 3 stories, once each
        published = (tmp_path / "feeds" / "all.atom").read_text(encoding="utf-8")
        assert published.count("<entry>") == 30
        second = run_cli("run", "--once", "--config", str(config))
        assert second.returncode == 0, second.stderr
        assert alert_lines(second.stdout) == []
    logs = (tmp_path / "w1.log").read_text() + (tmp_path / "w2.log").read_text()
    assert logs.count("new_or_changed=3") == 10  # every source polled once, by some worker


def test_politeness_holds_across_workers(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str, queue: str
) -> None:
    """Two workers of two processes each, eight sources on one host, per_host = 1: the host
    never sees two requests at once, and starts are spaced as configured, cluster-wide."""
    sources = ""
    for n in range(8):
        # Each answer takes 0.6 s: a second request during it would start within that time.
        feed_server.routes[f"/h{n}.rss"] = Route(_stories(n), stream=True, repeat=2, trickle=0.3)
        sources += f'[[sources]]\nname = "h{n}"\nurl = "{feed_server.base}/h{n}.rss"\n'
    config = _config(tmp_path, postgres_url, BROKERS["redis"], queue, sources)
    text = config.read_text().replace(
        'per_host_interval = "0s"', 'per_host = 1\nper_host_interval = "0.2s"'
    )
    config.write_text(text)
    with _worker(config, tmp_path / "w1.log", 2), _worker(config, tmp_path / "w2.log", 2):
        done = run_cli("run", "--once", "--config", str(config))
    assert done.returncode == 0, done.stderr
    starts = sorted(r.at for r in feed_server.log)
    assert len(starts) == 8
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.55, gaps  # one at a time: each waited for the one before to end


@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_a_worker_killed_mid_task_loses_nothing_and_alerts_once(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str, queue: str, broker: str
) -> None:
    """kill -9 of a worker while its poll hangs: the poll is made by another worker (RabbitMQ
    hands the task back at once; with Redis the scheduler enqueues it again when its lease
    runs out); one entry per story, one alert."""
    feed_server.routes["/slow.rss"] = Route(_stories(1), stall=True)
    sources = f'[[sources]]\nname = "slow"\nurl = "{feed_server.base}/slow.rss"\n'
    config = _config(tmp_path, postgres_url, BROKERS[broker], queue, sources)
    # A short lease: the killed worker's poll counts as lost soon, and is enqueued again.
    config.write_text(config.read_text().replace('lease = "60s"', 'lease = "3s"'))
    with _worker(config, tmp_path / "w1.log") as first, subprocess.Popen(
        [*syndicator_command(), "run", "--once", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as scheduler:
        deadline = time.monotonic() + 60
        while not feed_server.requests_to("/slow.rss"):
            assert time.monotonic() < deadline, "the poll never reached the feed"
            time.sleep(0.05)  # waiting for the first worker's request to arrive
        os.killpg(first.pid, signal.SIGKILL)
        feed_server.routes["/slow.rss"] = Route(_stories(1))  # the next poll succeeds
        with _worker(config, tmp_path / "w2.log"):
            out, err = scheduler.communicate(timeout=120)
            assert scheduler.returncode == 0, err
            assert len(alert_lines(out)) == 3
            assert (tmp_path / "feeds" / "all.atom").read_text().count("<entry>") == 3
            again = run_cli("run", "--once", "--config", str(config))
            assert again.returncode == 0, again.stderr
            assert alert_lines(again.stdout) == []


def test_a_killed_scheduler_is_replaced_once_its_leases_expire(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str, queue: str
) -> None:
    """A scheduler that claimed and enqueued, then died with its tasks lost: another scheduler
    polls nothing while the leases hold (no source twice in one interval), then everything."""
    config = _config(tmp_path, postgres_url, BROKERS["redis"], queue, _sources(feed_server, 4))
    with subprocess.Popen(
        [*syndicator_command(), "run", "--once", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as first:
        deadline = time.monotonic() + 60
        while b"enqueued 4 sources" not in first.stderr.readline():
            assert time.monotonic() < deadline and first.poll() is None
        first.kill()
        first.wait()
    _purge(BROKERS["redis"], queue)  # its tasks are lost with it
    with _worker(config, tmp_path / "w.log"):
        early = run_cli("run", "--once", "--config", str(config))
        assert early.returncode == 0, early.stderr
        assert feed_server.log == []  # every source is still leased by the dead scheduler
        _expire_leases(postgres_url)
        late = run_cli("run", "--once", "--config", str(config))
    assert late.returncode == 0, late.stderr
    assert len(alert_lines(late.stdout)) == 12
    assert len(feed_server.log) == 4


def test_run_once_needs_a_shared_state(tmp_path: Path, queue: str) -> None:
    config = write_config(
        tmp_path, f'[cluster]\nbroker = "{BROKERS["redis"]}"\nqueue = "{queue}"\n'
    )
    done = run_cli("run", "--once", "--config", str(config))
    assert done.returncode == 2 and "syndicator.state: a cluster shares its state" in done.stderr



class Proxy:
    """A loopback TCP proxy to a service, which a test can cut (every connection dropped,
    new ones closed at once) and restore: a broker or database restart, seen from a node."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_off.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_off.set()
        with self.lock:
            dropped, self.open = self.open, []
        for s in dropped:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.cut_off.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()
        with self.lock:
            leftover, self.open = self.open, []
        for s in leftover:
            s.close()


def _status_page(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
    except httpx.HTTPError:
        return ""


def _until(check: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 90
    while not check():
        assert proc.poll() is None, f"the daemon died waiting for {what}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.2)  # polling the daemon's page, not a timing


def test_a_broker_and_a_database_outage_are_shown_and_survived(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str, queue: str
) -> None:
    """The scheduler reaches Redis and PostgreSQL through proxies that the test cuts: its
    status page says what is unreachable and since when, and once they are back it carries on
    by itself (the broker) or at the next wake (the database), publishing everything."""
    broker, database = Proxy(6379), Proxy(5432)
    port = free_port()
    sources = _sources(feed_server, 3)
    (tmp_path / "w").mkdir()
    worker_config = _config(tmp_path / "w", postgres_url, BROKERS["redis"], queue, sources)
    proxied_url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{database.port}")
    assert proxied_url != postgres_url
    config = _config(
        tmp_path, proxied_url, f"redis://127.0.0.1:{broker.port}/0", queue, sources,
        extra=f'[server]\nlisten = "127.0.0.1:{port}"\n',
    )
    broker.cut()
    try:
        with _worker(worker_config, tmp_path / "w.log"), (tmp_path / "daemon.log").open(
            "wb"
        ) as log_file, subprocess.Popen(
            [*syndicator_command(), "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        ) as daemon:
            try:
                _until(lambda: "broker unreachable since" in _status_page(port), daemon,
                       "the broker outage on the status page")
                assert not (tmp_path / "feeds" / "all.atom").exists() or "<entry>" not in (
                    tmp_path / "feeds" / "all.atom"
                ).read_text()
                broker.restore()
                _until(
                    lambda: (tmp_path / "feeds" / "all.atom").exists()
                    and (tmp_path / "feeds" / "all.atom").read_text().count("<entry>") == 9,
                    daemon,
                    "the stories published once the broker is back",
                )
                _until(lambda: "unreachable" not in _status_page(port), daemon,
                       "the status page clear again")
                database.cut()
                daemon.send_signal(signal.SIGHUP)  # a cycle now, against the cut database
                _until(lambda: "state database unreachable since" in _status_page(port), daemon,
                       "the database outage on the status page")
                assert httpx.get(f"http://127.0.0.1:{port}/all.atom").text.count("<entry>") == 9
                database.restore()
                daemon.send_signal(signal.SIGHUP)  # the next wake, without its 60 s wait
                _until(lambda: "unreachable" not in _status_page(port), daemon,
                       "the status page clear after the database is back")
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=30)
    finally:
        broker.close()
        database.close()
    log = (tmp_path / "daemon.log").read_text()
    assert "Traceback" not in log
    assert "broker unreachable" in log and "broker reachable again" in log
