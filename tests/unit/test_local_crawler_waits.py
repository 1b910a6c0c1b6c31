"""A local Wait between crawler polls ends when the crawls end; with no crawl running it lasts its time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import etl.local.handlers as handlers
from etl.glue.crawler import CrawlerConfig, CrawlResult
from etl.local.handlers import LocalServices


@pytest.fixture
def crawl_gate(monkeypatch) -> threading.Event:
    """Crawls that run until the test opens the gate."""
    gate = threading.Event()

    def crawl(config, catalog):
        assert gate.wait(timeout=30), "the test never ended the crawl"
        return CrawlResult()

    monkeypatch.setattr(handlers, "crawl", crawl)
    return gate


def services_with_crawler(tmp_path: Path) -> LocalServices:
    config = CrawlerConfig(name="raw", database="db", table_prefix="raw_", targets=(tmp_path,))
    return LocalServices(None, None, None, {}, {"raw": config}, lambda: None)  # type: ignore[arg-type]


def crawler_state(services: LocalServices) -> str:
    return services.glue_get_crawler({"Name": "raw"}, None)["Crawler"]["State"]  # type: ignore[arg-type]


def test_a_wait_ends_when_the_crawl_ends_and_the_crawler_then_reads_ready(tmp_path, crawl_gate):
    services = services_with_crawler(tmp_path)
    services.glue_start_crawler({"Name": "raw"}, None)  # type: ignore[arg-type]
    waiting = threading.Thread(target=services.idle, args=(600,))
    waiting.start()
    waiting.join(timeout=0.2)
    assert waiting.is_alive() and crawler_state(services) == "RUNNING"  # still waiting while the crawl runs

    crawl_gate.set()
    waiting.join(timeout=30)
    assert not waiting.is_alive(), "the wait went on after the crawl ended"
    assert crawler_state(services) == "READY"


def test_a_wait_that_outlasts_no_crawl_ends_at_its_time(tmp_path, crawl_gate):
    services = services_with_crawler(tmp_path)
    services.glue_start_crawler({"Name": "raw"}, None)  # type: ignore[arg-type]
    services.idle(0.01)  # the crawl goes on: the wait ends at its time, the next poll still sees RUNNING
    assert crawler_state(services) == "RUNNING"
    crawl_gate.set()
    assert services.wait_for_crawlers(timeout=30)


def test_a_wait_with_no_crawl_running_lasts_its_whole_time(tmp_path, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(handlers.time, "sleep", slept.append)
    services_with_crawler(tmp_path).idle(0.3)
    assert slept == [0.3]
