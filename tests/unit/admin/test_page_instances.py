"""The status page lists a scaled-out bot's instances, or says why it cannot."""

from __future__ import annotations

import time

from libra.admin.page import StatusView, status_page
from libra.cluster.api import InstanceRecord


def view(**kwargs: object) -> StatusView:
    return StatusView(operator="op", csrf="c", ready=True, components=[], models=None,
                      stages=[], usage=None, **kwargs)  # type: ignore[arg-type]


def test_each_live_instance_is_a_row_with_its_shards_and_guilds() -> None:
    now = time.time()
    records = [InstanceRecord(name="libra-a", shards="0", guilds=12, llm_active=1,
                              started_at=now - 3600, seen_at=now - 2),
               InstanceRecord(name="<b>", shards="1", guilds=9, llm_active=0,
                              started_at=now - 60, seen_at=now)]
    html = status_page(view(instances=records))
    assert 'id="instances-title"' in html
    assert "<td>libra-a</td><td>0</td><td>12</td><td>1</td><td>2 s ago</td>" in html
    assert "&lt;b&gt;" in html and "<td><b></td>" not in html  # names are escaped
    assert "libra-a (shards 0): 12 guild(s), 1 LLM request(s) running, up 1h00m" in (
        records[0].summary())


def test_one_process_shows_no_section_and_a_redis_failure_says_so() -> None:
    assert "Instances" not in status_page(view())
    html = status_page(view(instances_error="Redis did not answer (timeout)"))
    assert "Instances" in html and "unavailable: Redis did not answer (timeout)" in html
