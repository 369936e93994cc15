"""The console's reads (store/views.py) on a real PostgreSQL: filters, order, pages, history."""

from __future__ import annotations

import pytest

from reconciler.model import FederationKey, Phase
from reconciler.store import Store
from reconciler.store.views import ListQuery
from tests.console.conftest import labelled_spec
from tests.store.conftest import walk

pytestmark = pytest.mark.pg


@pytest.fixture
def fleet(store: Store) -> Store:
    """12 federations over 3 tenants; labels team=a|b; the first two run, one has rounds."""
    specs = [
        labelled_spec(
            f"fed-{i:02d}",
            tenant=("acme", "globex", "initech")[i % 3],
            labels={"team": "ab"[i % 2], **({"gpu": "yes"} if i < 3 else {})},
        )
        for i in range(12)
    ]
    store.create_many(specs)
    for spec in specs[:2]:
        walk(store, spec.key, Phase.STARTING, Phase.RUNNING)
    key = specs[0].key
    for n, acc in ((1, 0.5), (2, 0.75)):
        store.round_started(key, 1, n)
        store.round_completed(key, 1, n, {"accuracy": acc})
    store.round_started(key, 1, 3)  # under way: the headline stays round 2's
    return store


def names(store: Store, **query: object) -> list[str]:
    return [str(r.key) for r in store.federation_page(ListQuery(**query)).rows]  # type: ignore[arg-type]


def test_each_filter_narrows_the_list_and_the_total(fleet: Store) -> None:
    assert fleet.federation_page(ListQuery()).total == 12
    assert names(fleet, tenant="globex") == [f"globex/fed-{i:02d}" for i in (1, 4, 7, 10)]
    assert names(fleet, phase="Running") == ["acme/fed-00", "globex/fed-01"]
    assert names(fleet, label="gpu") == ["acme/fed-00", "globex/fed-01", "initech/fed-02"]
    assert names(fleet, label="team=b", tenant="acme") == ["acme/fed-03", "acme/fed-09"]
    assert names(fleet, label="team=c") == []
    assert names(fleet, text="BEX/FED-1") == ["globex/fed-10"]
    page = fleet.federation_page(ListQuery(phase="Pending", label="team=a"))
    assert page.total == 5 and len(page.rows) == 5


def test_pages_cover_every_row_once_in_each_order(fleet: Store) -> None:
    for sort in ("name", "age", "phase", "updated"):
        for descending in (False, True):
            seen = []
            for page in (1, 2, 3):
                q = ListQuery(sort=sort, descending=descending, page=page, per_page=5)
                result = fleet.federation_page(q)
                assert result.total == 12
                seen += [r.key for r in result.rows]
            assert len(seen) == len(set(seen)) == 12, (sort, descending)
    by_name = names(fleet, per_page=200)
    assert by_name == sorted(by_name)
    assert names(fleet, descending=True, per_page=200) == by_name[::-1]


def test_a_row_carries_its_round_labels_and_the_newest_completed_metrics(fleet: Store) -> None:
    (row,) = fleet.federation_page(ListQuery(text="acme/fed-00")).rows
    assert (row.phase, row.current_round, row.total_rounds) == (Phase.RUNNING, 3, 4)
    assert row.last_metrics == {"accuracy": 0.75}
    assert row.labels == {"team": "a", "gpu": "yes"}


@pytest.mark.parametrize(
    "bad",
    [{"sort": "id; DROP TABLE federations"}, {"phase": "Sleeping"}, {"page": 0}, {"per_page": 201}],
)
def test_a_bad_query_is_refused_before_any_sql(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ListQuery(**bad)  # type: ignore[arg-type]


def test_quotes_and_wildcards_in_free_text_are_plain_text(fleet: Store) -> None:
    assert names(fleet, text="%") == []
    assert names(fleet, text="' OR 1=1 --") == []
    assert names(fleet, label="te'am=a") == []


def test_every_generation_keeps_its_document(store: Store) -> None:
    first = labelled_spec("gen", labels={"v": "1"})
    store.create(first)
    fed = store.get(first.key)
    second = labelled_spec("gen", labels={"v": "2"})
    store.replace_spec(first.key, second, expected_version=fed.version)
    docs = store.generations(first.key)
    assert [(d.generation, d.document["metadata"]["labels"]["v"]) for d in docs] == [
        (1, "1"),
        (2, "2"),
    ]
    assert [d.digest for d in docs] == [first.digest, second.digest]
    walk(store, first.key, Phase.STARTING)  # a transition keeps the generation: no new row
    assert len(store.generations(first.key)) == 2


def test_bulk_creation_keeps_the_first_generation_too(store: Store) -> None:
    store.create_many([labelled_spec("bulk-a"), labelled_spec("bulk-b")])
    assert [d.generation for d in store.generations(FederationKey("acme", "bulk-b"))] == [1]


def test_rounds_of_several_and_the_newest_events(fleet: Store) -> None:
    a, b = FederationKey("acme", "fed-00"), FederationKey("globex", "fed-01")
    found = fleet.rounds_of([a, b])
    assert [r.number for r in found[a]] == [1, 2, 3] and found[b] == []
    events = fleet.recent_events(a, limit=3)  # the newest three, oldest first
    assert len(events) == 3
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[-1].type == "fl.round.started"


def test_the_snapshot_matches_the_daemons_read_and_leaves_its_cache_alone(fleet: Store) -> None:
    snapshot = fleet.recorded_snapshot()
    assert snapshot == fleet.load_recorded()
    assert (
        fleet.federation(FederationKey("acme", "fed-00"))
        == snapshot[FederationKey("acme", "fed-00")]
    )
    assert fleet.federation(FederationKey("acme", "nobody")) is None
    assert fleet.tenants() == ["acme", "globex", "initech"]
