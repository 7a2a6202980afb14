import uuid

from recoup.core.uids import OrderedUids


def test_ordered_uids_are_valid_version_7_uuids_in_increasing_order():
    gen = OrderedUids()
    made = [gen.next() for _ in range(10_000)]
    hexes = [h for h, _ in made]
    assert hexes == sorted(hexes)
    assert len(set(hexes)) == len(hexes)
    for h, canonical in made[:100]:
        u = uuid.UUID(canonical)
        assert u.hex == h
        assert u.version == 7
        assert u.variant == uuid.RFC_4122


def test_two_generators_do_not_collide():
    a, b = OrderedUids(), OrderedUids()
    assert not {a.next()[0] for _ in range(1000)} & {b.next()[0] for _ in range(1000)}


def test_an_exhausted_counter_moves_to_the_next_millisecond():
    gen = OrderedUids()
    gen._counter = (1 << 72) - 1
    before = gen.next()[0]
    after = gen.next()[0]
    assert after > before
