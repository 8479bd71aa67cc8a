"""Groups are cut where they hang on a few links, and only there."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageEnhance

import recipe_audit
from recipe_audit.dedup import cuts, thumbmatch


def clique(nodes: range) -> list[tuple[int, int]]:
    return list(itertools.combinations(nodes, 2))


def kept(n: int, links: list[tuple[int, int]], score: list[float] | None = None) -> set[tuple[int, int]]:
    a, b = np.array([x for x, _ in links]), np.array([y for _, y in links])
    keep = cuts.kept_links(n, a, b, None if score is None else np.array(score))
    return {link for link, k in zip(links, keep) if k}


def groups(n: int, links: set[tuple[int, int]]) -> list[set[int]]:
    """The connected components of `links` with two or more members, by smallest member."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[find(a)] = find(b)
    members: dict[int, set[int]] = {}
    for x in range(n):
        members.setdefault(find(x), set()).add(x)
    return sorted((m for m in members.values() if len(m) > 1), key=min)


def test_two_families_joined_by_a_few_look_alike_links_are_cut_apart() -> None:
    bridges = [(0, 17), (1, 17), (2, 20), (5, 25), (6, 30), (7, 31)]  # 6 links, as held out
    links = clique(range(17)) + clique(range(17, 34)) + bridges
    assert kept(34, links) == set(links) - set(bridges)


def test_one_bridge_between_two_small_families_is_cut() -> None:
    links = clique(range(5)) + clique(range(5, 10)) + [(4, 5)]
    assert kept(10, links) == set(links) - {(4, 5)}


def test_a_family_with_a_loosely_linked_copy_stays_whole() -> None:
    """A copy found by one link only (a hard crop) is never cut off: alone, its conductance is 1."""
    links = [*clique(range(12)), (0, 12), (3, 13), (13, 14)]
    assert kept(15, links) == set(links)


def test_a_star_and_a_dense_pair_of_families_stay_whole() -> None:
    star = [(0, i) for i in range(1, 60)]
    assert kept(60, star) == set(star)
    # Two families whose members link across half the time are one family.
    rng = np.random.default_rng(1)
    across = [(i, j) for i in range(8) for j in range(8, 16) if rng.random() < 0.5]
    links = clique(range(8)) + clique(range(8, 16)) + across
    assert kept(16, links) == set(links)


def test_large_groups_are_cut_by_power_iteration_the_same_way() -> None:
    """Two families too large for the exact eigenvectors, joined by four look-alike links that
    close triangles (a copy of one linked to two linked copies of the other, twice), so neither
    the triangle nor the bridge step removes them: the spectral cut does."""
    side = cuts.DENSE_UP_TO // 2 + 20
    rng = np.random.default_rng(2)
    inner = [(i, j) for start in (0, side) for i, j in clique(range(start, start + side)) if rng.random() < 0.3]
    inner += [(0, 1), (side, side + 1)]
    look_alike = [(0, side), (0, side + 1), (1, side), (1, side + 1)]
    links = sorted(set(inner)) + look_alike
    assert 2 * side > cuts.DENSE_UP_TO
    assert not kept(2 * side, links) & set(look_alike)
    assert groups(2 * side, kept(2 * side, links)) == [set(range(side)), set(range(side, 2 * side))]


def test_a_chain_of_families_falls_apart_into_the_families() -> None:
    """Hundreds of families of copies joined by single look-alike links, some closing cycles
    between families: one component of 2,400 pictures, which falls apart into its families (a
    copy whose only link inside its family closes no triangle may be left alone)."""
    size, count = 12, 200
    rng = np.random.default_rng(4)
    inner = [(f * size + i, f * size + j) for f in range(count) for i, j in clique(range(size)) if rng.random() < 0.7]
    ends = rng.integers(0, size * count, (3 * count, 2))
    look_alike = [(int(x), int(y)) for x, y in ends if x // size != y // size]
    links = inner + look_alike
    assert len(groups(size * count, set(links))) == 1
    found = groups(size * count, kept(size * count, links))
    assert all(len({x // size for x in group}) == 1 for group in found)
    assert sum(len(group) for group in found) >= 0.99 * size * count


def test_the_result_does_not_depend_on_the_order_of_the_links() -> None:
    links = clique(range(9)) + clique(range(9, 20)) + [(2, 11), (3, 15)] + [(20, 21)]
    rng = np.random.default_rng(3)
    first = kept(22, links)
    for _ in range(3):
        shuffled = [links[i] for i in rng.permutation(len(links))]
        shuffled = [(b, a) if rng.random() < 0.5 else (a, b) for a, b in shuffled]
        again = kept(22, shuffled)
        assert {tuple(sorted(x)) for x in again} == {tuple(sorted(x)) for x in first}


def test_no_links_and_repeated_links() -> None:
    assert len(cuts.kept_links(5, np.array([], dtype=np.int64), np.array([], dtype=np.int64))) == 0
    links = [(0, 1), (1, 0), (0, 1), (2, 2)]
    assert kept(3, links) == set(links)


def test_families_of_real_edited_copies_are_not_cut(photos: list[Path], tmp_path: Path) -> None:
    """Every copy of every photograph stays in its original's group: the cut costs no recall."""
    made: dict[str, str] = {}
    for k, source in enumerate(photos[:6]):
        im = Image.open(source).convert("RGB")
        w, h = im.size
        copies = {
            "original": im,
            "crop": im.crop((int(0.06 * w), int(0.02 * h), w, int(0.95 * h))),
            "flip": im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            "turn": im.rotate(3, resample=Image.Resampling.BICUBIC).crop(
                (int(0.06 * w), int(0.06 * h), int(0.94 * w), int(0.94 * h))
            ),
            "darker": ImageEnhance.Brightness(im).enhance(0.8),
            "small": im.resize((w // 2, h // 2)),
        }
        for name, copy in copies.items():
            path = tmp_path / f"{k}_{name}.jpg"
            copy.save(path, quality=85)
            made[str(path)] = str(k)
    groups = recipe_audit.find_duplicates(recipe_audit.scan(list(made), progress=False))
    family = groups.with_columns(photo=pl.col("path").replace_strict(made)).group_by("group").agg(pl.col("photo"))
    assert all(len(set(members)) == 1 for members in family["photo"])
    found = groups.with_columns(photo=pl.col("path").replace_strict(made)).group_by("photo").agg(pl.len())
    assert found.filter(pl.col("len") == 6).height >= 5, found


def test_dense_families_of_many_hubs_stay_whole() -> None:
    """Pictures with over HUB_DEGREE links have their triangles taken as given: a family of 410
    all linked to each other, or 258 with 143 copies hanging on one of them, stays one group."""
    links = clique(range(410))
    assert kept(410, links) == set(links)
    links = clique(range(258)) + [(0, i) for i in range(258, 401)]
    assert kept(401, links) == set(links)


def test_large_groups_without_families_lose_no_link_before_the_spectral_cut() -> None:
    """Two originals each linked to the same 410 crops (no triangle anywhere) hold together."""
    links = [(o, c) for o in (0, 1) for c in range(2, 412)]
    assert kept(412, links) == set(links)


def test_one_look_alike_link_moves_no_original_into_another_family() -> None:
    """Two originals matched by the same 410 crops, one crop also a look-alike of a family of 12
    copies of another photograph: only that link goes (a rule that made each picture outside a
    family hold on by one link moved an original, and 410 true pairs, into the other family)."""
    crops = [(o, c) for o in (0, 1) for c in range(2, 412)]
    family = clique(range(500, 512))
    links = crops + family + [(2, 500)]
    assert groups(512, kept(512, links)) == [set(range(412)), set(range(500, 512))]


def test_a_burst_of_noisy_copies_larger_than_the_exact_limit_is_one_group(photos: list[Path]) -> None:
    files = recipe_audit.scan(photos[0].parent, progress=False).filter(pl.col("status") == "ok")
    thumbs = thumbmatch.thumbnails(files)
    picture = thumbs[np.argmax(thumbs.std(axis=1))]
    rng = np.random.default_rng(5)
    copies = np.clip(picture + rng.normal(0, 0.12 * picture.std(), (cuts.DENSE_UP_TO + 50, picture.size)), 0, 255)
    roots = thumbmatch.matched_groups(copies.round())
    assert len(set(roots.tolist())) == 1


def lake(
    rng: np.random.Generator, pictures: int, families: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Links among `pictures`: the first `families` * `size` in families of copies (each pair
    linked with probability 0.7), the rest alone; and each picture's family (its own number
    when alone)."""
    family = np.arange(pictures)
    family[: families * size] = np.arange(families * size) // size * size
    pairs = np.array([(f * size + i, f * size + j) for f in range(families) for i, j in clique(range(size))])
    pairs = pairs[rng.random(len(pairs)) < 0.7]
    return pairs[:, 0], pairs[:, 1], family


def families_per_group(
    pictures: int, keep_a: np.ndarray, keep_b: np.ndarray, family: np.ndarray, in_family: np.ndarray
) -> int:
    """The most families of copies any group holds."""
    found = groups(pictures, set(zip(keep_a.tolist(), keep_b.tolist())))
    return max((len({int(family[x]) for x in group if in_family[x]}) for group in found), default=0)


def test_no_density_of_look_alike_links_joins_two_families() -> None:
    """100 families of 12 copies among 6,000 pictures, with 3 random look-alike links a picture
    scoring as well as the copies' links (a 1e8 lake has 1 to 10 at the measured rates): nearly
    all in one component, yet no group holds two families, and the families stay whole."""
    rng = np.random.default_rng(7)
    n = 6_000
    fa, fb, family = lake(rng, n, 100, 12)
    ra, rb = rng.integers(0, n, (2, 9_000))
    a, b = np.concatenate([fa, ra]), np.concatenate([fb, rb])
    assert max(len(g) for g in groups(n, set(zip(a.tolist(), b.tolist())))) > 0.9 * n
    keep = cuts.kept_links(n, a, b)
    assert families_per_group(n, a[keep], b[keep], family, np.arange(n) < 1_200) == 1
    assert keep[: len(fa)].mean() >= 0.999
    assert max(len(g) for g in groups(n, set(zip(a[keep].tolist(), b[keep].tolist())))) < 100


def test_look_alikes_that_gather_in_themes_join_no_two_families() -> None:
    """Look-alike links that close triangles among the pictures of one theme (themes of 30, 3 a
    picture inside, 1 anywhere), with the members of each family of copies spread over many
    themes: a theme holding one copy of a family must not join that family to the others."""
    rng = np.random.default_rng(8)
    n, theme_size = 6_000, 30
    fa, fb, family = lake(rng, n, 100, 12)
    theme = rng.permutation(n) // theme_size
    members = np.argsort(theme, kind="stable")
    x = rng.integers(0, n, 9_000)
    y = members[theme[x] * theme_size + rng.integers(0, theme_size, len(x))]
    ra, rb = rng.integers(0, n, (2, 3_000))
    a, b = np.concatenate([fa, x, ra]), np.concatenate([fb, y, rb])
    keep = cuts.kept_links(n, a, b)
    assert families_per_group(n, a[keep], b[keep], family, np.arange(n) < 1_200) == 1
    assert keep[: len(fa)].mean() >= 0.999


def test_a_pair_of_copies_keeps_its_link_in_a_large_group() -> None:
    """An exact pair (p, q) inside a group of over 400 pictures, each also a look-alike of
    another picture: the pair's own link scores higher and holds them together."""
    p, q, r = 10, 11, 12
    links = clique(range(5)) + [(0, p), (p, q), (q, r)] + [(r, 100 + i) for i in range(400)]
    score = [0.99] * 10 + [0.8, 1.0, 0.8] + [0.97] * 400
    together = groups(500, kept(500, links, score))
    assert any({p, q} <= group for group in together)
    assert not any({p, 0} <= group for group in together)


def test_scores_must_match_the_links() -> None:
    with pytest.raises(ValueError, match="score"):
        cuts.kept_links(3, np.array([0, 1]), np.array([1, 2]), np.array([0.9]))


def test_links_must_join_nodes_in_range() -> None:
    for a, b in (([0], [5]), ([-1], [1])):
        with pytest.raises(ValueError, match=r"nodes 0\.\.2"):
            cuts.kept_links(3, np.array(a), np.array(b))


def test_a_tree_of_crops_scoring_as_copies_stays_whole_in_a_large_group() -> None:
    """An original with 150 crops, each cropped again twice (no triangle anywhere: 451
    pictures), plus a few look-alike links to a family of 12: links a copy scores hold the tree
    together, and the look-alikes do not pull it into the family."""
    crops = [(0, c) for c in range(1, 151)]
    recrops = [(c, 151 + 2 * (c - 1) + k) for c in range(1, 151) for k in range(2)]
    family = clique(range(500, 512))
    look_alikes = [(5, 500), (160, 501), (300, 502)]
    links = crops + recrops + family + look_alikes
    score = [0.975] * len(crops) + [0.99] * len(recrops) + [0.99] * len(family) + [0.9] * len(look_alikes)
    assert groups(512, kept(512, links, score)) == [set(range(451)), set(range(500, 512))]


def test_a_look_alike_link_between_two_families_of_hubs_goes_before_the_spectral_cut() -> None:
    """Two families of 270 copies each (every picture over HUB_DEGREE links, so their triangles
    are sampled, not listed) joined by one look-alike link: that link, and only it, goes in
    linear time, not left to the spectral cuts (of which a long chain of such families would
    exhaust MAX_LARGE_CUTS)."""
    links = clique(range(270)) + clique(range(270, 540)) + [(5, 300)]
    edges = np.array(links, dtype=np.int64)
    dropped = cuts._loose_links(edges, np.full(len(links), 0.99))
    assert np.flatnonzero(dropped).tolist() == [len(links) - 1]


def test_look_alikes_that_chose_a_crop_do_not_cut_it_from_its_original() -> None:
    """In a group of over 400 pictures, five lone look-alikes whose best link is one crop of an
    original with 150 crops: the crop's link to its original scores as a copy's, so the spectral
    cut afterwards (1 link across, 11 on the small side) does not take the crop with them."""
    crops = [(0, c) for c in range(1, 151)]
    hangers = [(7, h) for h in range(151, 156)]
    family = clique(range(160, 420))
    links = crops + hangers + family + [(100, 160)]
    score = [0.99] * len(crops) + [0.9] * len(hangers) + [0.99] * len(family) + [0.8]
    found = groups(420, kept(420, links, score))
    assert any({0, 7} <= group for group in found)
    assert not any({0, 160} <= group for group in found)
