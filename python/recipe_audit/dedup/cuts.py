"""Groups that hold together: a group of linked pictures is cut where only a few links join two
densely linked parts.

The window rule links pairs of pictures, and `find_duplicates` groups the links transitively. A
single look-alike link (two crops of one misty landscape, two patches of one abstract painting)
then merges two whole families of copies: 17 copies of one photograph and 17 of another become
one group holding 289 false pairs. Held out, such merges were all the false pairs of two fresh
seeds (precision 0.985 and 0.977). Copies of one picture link to each other densely; the merges
hang on a handful of links.

So each group is cut in two where the cut's conductance (links across, over the links of the
smaller side: `cut / min(vol(S), vol(rest))`, vol counting each member's links) is under
`MAX_CONDUCTANCE`, and each side again, until no such cut is left. The cut is the best sweep
of the Fiedler vector of the group's normalised Laplacian (spectral partitioning; Cheeger's
inequality bounds how far that sweep is from the best cut), followed by moving any picture that
has more links across than on its own side. A single picture is never cut off (its conductance
is 1), nor is a pair, and no group of fewer than 8 pictures is cut (`_smallest_cut_group`); a
chain of single pictures linked one after the other (look-alikes, not copies) is cut into
pieces of about ten.

Groups of over DENSE_UP_TO pictures (a large collection, where look-alike links chain single
pictures into a random graph, which has no sparse cut) first lose their look-alike links
(`_loose_links`): families are links joined by triangles, and every picture outside them keeps
its best-scored link only, so a group holds at most one family however dense the look-alikes.
They are then cut the same way by power iteration, at most MAX_LARGE_CUTS times each.

`MAX_CONDUCTANCE` was chosen on the tuning seeds of `benches/studies/dup_corpus.py` (the middle
of the values that split no true family there) and is reported on fresh seeds (BENCHMARKS.md,
"Near duplicates: groups cut where they hang on a few links").
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

import recipe_audit._core as _core

log = logging.getLogger(__name__)

MAX_CONDUCTANCE = 0.1
"""A group is cut where the links across are fewer than this share of the links of the smaller
side's members (a family of 17 copies joined to another by 6 look-alike links: 0.035)."""
MIN_SIDE = 2
"""Neither side of a cut holds fewer pictures than this."""
DENSE_UP_TO = 400
"""Groups of up to this many pictures get their Fiedler vector exactly (`numpy.linalg.eigh`);
larger ones by power iteration on the sparse links."""
POWER_STEPS = 500
MAX_LARGE_CUTS = 64
"""Cuts by power iteration (groups over DENSE_UP_TO) per group, at most: each costs up to
POWER_STEPS passes over the group's links, so a chain of thousands of families held together by
links in triangles is cut this many times and then left, with a warning."""
HUB_DEGREE = 256
"""Triangles are looked for from pictures with at most this many links: a burst of 100,000
re-encodes around one leader would otherwise list 5e9 pairs of its neighbours. A triangle with a
corner under it is found from that corner; a link between two pictures over it is looked for in
triangles through up to HUB_SAMPLES of each end's neighbours."""
HUB_SAMPLES = 16
_HUB_SAMPLE_ROUNDS = [np.array(r) for r in ([0], [8], [4, 12], [2, 6, 10, 14], [1, 3, 5, 7, 9, 11, 13, 15])]
"""The HUB_SAMPLES positions (in sixteenths of a neighbour list) tried in turn, coarse to fine."""
STRONG_SCORE = 0.97
"""A link scoring this (the window correlation) is taken for a copy's in `_loose_links`: 0.60 of
the links between copies on the tuning halves of six `dup_heldout` corpora, none of the 26 between
different sources (two scored 0.963 and 0.967); held out, 0.60 and none of 4."""
CORE_SIZE = 4
"""Pictures linked in triangles that make a family (a core) for `_loose_links`."""
BATCH_CELLS = 4_000_000
"""Adjacency cells per screening batch (32 MB of float64)."""


def kept_links(
    n: int,
    a: npt.NDArray[np.integer],
    b: npt.NDArray[np.integer],
    score: npt.NDArray[np.floating] | None = None,
) -> npt.NDArray[np.bool_]:
    """Which links ``(a[i], b[i])`` among nodes ``0..n`` stay once every group is cut along its
    sparse cuts (the connected components of the kept links are the groups). `score` says how
    well each link matched (the window correlation; higher is closer): in a group of over
    DENSE_UP_TO pictures, a picture outside every family keeps its best link only
    (`_loose_links`). Without scores every link counts the same, none as surely a copy's."""
    x: npt.NDArray[np.int64] = np.asarray(a, dtype=np.int64)
    y: npt.NDArray[np.int64] = np.asarray(b, dtype=np.int64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be two lists of one length, not of shapes {x.shape} and {y.shape}")
    weight = np.zeros(len(x)) if score is None else np.asarray(score, dtype=np.float64)
    if weight.shape != x.shape:
        raise ValueError(f"score must hold one value a link: shape {weight.shape} for {len(x)} links")
    if len(x) == 0:
        return np.ones(0, dtype=bool)
    if min(x.min(), y.min()) < 0 or max(x.max(), y.max()) >= n:
        raise ValueError(f"links must join nodes 0..{n - 1}, not {min(x.min(), y.min())}..{max(x.max(), y.max())}")
    # A link without a score (NaN) counts below every scored one.
    weight = np.where(np.isnan(weight), -np.inf, weight)
    part = _parts(n, x, y, weight)
    kept: npt.NDArray[np.bool_] = part[x] == part[y]
    return kept


def _smallest_cut_group() -> int:
    """The fewest pictures a group needs for a cut under `MAX_CONDUCTANCE`: a cut of c links
    leaves each side more than c (1 / MAX_CONDUCTANCE - 1) / 2 links inside, so at least that
    many for c = 1, and enough pictures to hold them."""
    links_inside = int((1 / MAX_CONDUCTANCE - 1) / 2) + 1
    side = next(s for s in range(MIN_SIDE, 10_000) if s * (s - 1) // 2 >= links_inside)
    return 2 * side


def _parts(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], score: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """A part label per node: its component's, refined by every sparse cut."""
    real = a != b
    u, v = np.minimum(a[real], b[real]), np.maximum(a[real], b[real])
    # One int64 per link, sorted with the best score first among repeats, which then go.
    pair = u * n + v
    order = np.lexsort((-score[real], pair))
    key, score = pair[order], score[real][order]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.ones(0, dtype=bool)
    key, score = key[first], score[first]
    edges = np.stack([key // n, key % n], axis=1)
    root, edges, bounds, order = _grouped(n, edges)
    score = score[order]
    sizes = np.bincount(root, minlength=n)
    large = np.flatnonzero(sizes > DENSE_UP_TO)
    if len(large):
        # A large group is often a chain of families (copies link densely, in triangles) joined
        # by look-alike links (in none): those go first, in about linear time, so the spectral
        # cuts below do not peel such a chain one family at a time.
        drop = np.zeros(len(edges), dtype=bool)
        for r in large:
            span = slice(bounds[r], bounds[r + 1])
            drop[span] = _loose_links(edges[span], score[span])
        in_large = np.isin(root, large)
        score = score[~drop]
        root, edges, bounds, order = _grouped(n, edges[~drop])
        score = score[order]
        sizes = np.bincount(root, minlength=n)
        # Pictures that a copy's link joins in those groups stay on one side of every cut: the
        # look-alikes that chose a crop as their best link must not take it from its original.
        strong = (score >= STRONG_SCORE) & in_large[edges[:, 0]]
        tie = _joined(n, [(edges[strong, 0], edges[strong, 1])])
    else:
        tie = np.arange(n)
    part = root.copy()
    candidates = np.flatnonzero(sizes >= _smallest_cut_group())
    small = candidates[sizes[candidates] <= DENSE_UP_TO]
    # Most groups hold together: the small ones are screened together, one batch per size.
    cut = np.concatenate([_screened(root, sizes, edges, bounds, small), candidates[sizes[candidates] > DENSE_UP_TO]])
    next_label = n
    for r in np.sort(cut):
        todo = [edges[bounds[r] : bounds[r + 1]]]
        large_cuts = 0
        while todo:
            group = todo.pop()
            size = np.unique(group).size
            if size > DENSE_UP_TO:
                if large_cuts == MAX_LARGE_CUTS:
                    log.warning(
                        "near-duplicate groups: a group of %d pictures was cut %d times by power "
                        "iteration and is left as it is (look-alike links may chain it)",
                        size,
                        large_cuts,
                    )
                    continue
                large_cuts += 1
            halves = _cut(group, tie)
            if halves is None:
                continue
            for half in halves:
                nodes = np.unique(half)
                part[nodes] = next_label
                next_label += 1
                if len(nodes) >= _smallest_cut_group():
                    todo.append(half)
    labels: npt.NDArray[np.int64] = part
    return labels


def _grouped(n: int, edges: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Each node's component root, the edges sorted by component with each component's bounds
    in them (a cut only ever looks inside one component), and that order of the edges."""
    root = _core.hamming_components(n, edges[:, 0].astype(np.uint32), edges[:, 1].astype(np.uint32)).astype(np.int64)
    order = np.argsort(root[edges[:, 0]], kind="stable")
    edges = edges[order]
    return root, edges, np.searchsorted(root[edges[:, 0]], np.arange(n + 1)), order


def _loose_links(edges: npt.NDArray[np.int64], score: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Which of one large component's edges are look-alike links, judged by the links in no
    triangle (copies of one picture close many triangles, random look-alike links none) and the
    links' `score`. A family is a core: at least CORE_SIZE pictures joined by links in triangles.

    - Links joining two cores go when they are fewer than MAX_CONDUCTANCE of the smaller's links.
    - Every other unit (a picture outside the cores, or a few joined by links in triangles) keeps
      its best-scored link to another unit, and the links other units chose; the rest go.

    So no chain of look-alikes joins two families, whatever the density of look-alike links; a
    copy found by one link stays with its family unless a look-alike scores above it (pairs, and
    small families whose copies close no triangle, pay for that). Three look-alike links that
    close triangles on both sides (p-q, p'-q, q'-p) make two families one; the spectral cut is
    then what parts them."""
    nodes, local = np.unique(edges, return_inverse=True)
    local = local.reshape(-1, 2)
    m = len(nodes)
    ends = np.concatenate([local, local[:, ::-1]])
    ends = ends[np.lexsort((ends[:, 1], ends[:, 0]))]
    start = np.searchsorted(ends[:, 0], np.arange(m + 1))
    degree = np.diff(start)
    key = local.min(axis=1) * m + local.max(axis=1)
    order = np.argsort(key, kind="stable")  # key[order] is sorted; order maps back to edges
    key = key[order]
    x, y = local[:, 0], local[:, 1]
    # Between two pictures that both have over HUB_DEGREE links (dense families) the triangles
    # are not listed (below): a link between them is looked for in triangles through up to
    # HUB_SAMPLES of each end's neighbours, spread over its list, a few at a time, so that a link
    # stops being sampled once it closes one (in a family almost every link closes one at the
    # first try); a look-alike link between two such families closes none.
    hubs = np.flatnonzero((degree[x] > HUB_DEGREE) & (degree[y] > HUB_DEGREE))
    closed = np.zeros(len(local), dtype=bool)
    family = np.arange(len(local))
    pending: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    for samples in _HUB_SAMPLE_ROUNDS:
        hubs = hubs[~closed[hubs]]
        for links in np.array_split(hubs, max(1, -(-len(hubs) * len(samples) // BATCH_CELLS))):
            for p, q in ((x[links], y[links]), (y[links], x[links])):
                spread = start[p][:, None] + samples[None, :] * degree[p][:, None] // HUB_SAMPLES
                w = ends[spread, 1].ravel()
                link = np.repeat(links, len(samples))
                far = _edge_index(key, m, w, np.repeat(q, len(samples)))
                hit = far >= 0
                near = order[_edge_index(key, m, np.repeat(p, len(samples))[hit], w[hit])]
                closed[link[hit]] = closed[near] = closed[order[far[hit]]] = True
                pending += [(link[hit], near), (link[hit], order[far[hit]])]
            family, pending = _folded(family, pending, max(BATCH_CELLS, len(local)))
    # Every pair of a node's neighbours (a wedge), one batch per degree; a wedge whose two ends
    # are linked closes a triangle, and its three links belong to one family.
    for k in np.unique(degree[(degree >= 2) & (degree <= HUB_DEGREE)]):
        centres = np.flatnonzero(degree == k)
        first, second = np.triu_indices(k, 1)
        for batch in np.array_split(centres, max(1, -(-len(centres) * len(first) // BATCH_CELLS))):
            around = ends[start[batch][:, None] + np.arange(k)[None, :], 1]
            u, v = around[:, first].ravel(), around[:, second].ravel()
            w = np.repeat(batch, len(first))
            at = _edge_index(key, m, u, v)
            hit = at >= 0
            uv, wu, wv = (
                order[at[hit]],
                order[_edge_index(key, m, w[hit], u[hit])],
                order[_edge_index(key, m, w[hit], v[hit])],
            )
            closed[uv] = closed[wu] = closed[wv] = True
            pending += [(uv, wu), (uv, wv)]
            # Joined as they come: a family of 250 copies closes millions of triangles.
            family, pending = _folded(family, pending, max(BATCH_CELLS, len(local)))
    # Families are the links joined by triangles that share a link (a picture in two families
    # of triangles, a copy of one that looks like the pictures of a theme, does not join them);
    # each picture belongs to the family holding most of its links in triangles.
    family, _ = _folded(family, pending)
    unit = _families(m, x, y, closed, family)
    # Pictures outside the families joined by links only a copy scores (STRONG_SCORE: an original
    # and its crops, a crop of a crop, frames of a video close no triangle) are one unit too.
    outside = np.bincount(unit)[unit] < CORE_SIZE
    strong = (score >= STRONG_SCORE) & outside[x] & outside[y] & (unit[x] != unit[y])
    labels = len(local) + m
    unit = _core.hamming_components(
        labels, unit[x[strong]].astype(np.uint32), unit[y[strong]].astype(np.uint32)
    ).astype(np.int64)[unit]
    size = np.bincount(unit, minlength=labels)
    in_core = size[unit] >= CORE_SIZE
    across = unit[x] != unit[y]
    # Two families joined by few links, fewer than MAX_CONDUCTANCE of the smaller's.
    between = across & in_core[x] & in_core[y]
    volume = np.bincount(unit, weights=degree, minlength=len(size))
    cx, cy = np.minimum(unit[x], unit[y]), np.maximum(unit[x], unit[y])
    pair = np.where(between, cx * len(size) + cy, -1)
    _, which, count = np.unique(pair, return_inverse=True, return_counts=True)
    between &= count[which] < MAX_CONDUCTANCE * np.minimum(volume[cx], volume[cy])
    # Outside the families, each unit (a picture, or a few joined by triangles, such as three
    # copies) holds on by its one best-scored link to another unit (ties: the neighbour with
    # more links, then the lower number); its other links go, unless the unit at the other end
    # chose them. Each unit then hangs on at most one other, so a group holds at most one family
    # however densely look-alikes link, and a copy keeps its link to its original where that
    # scores above its look-alikes.
    from_x, from_y = across & ~in_core[x], across & ~in_core[y]
    links = np.concatenate([np.flatnonzero(from_x), np.flatnonzero(from_y)])
    chooser = np.concatenate([unit[x[from_x]], unit[y[from_y]]])
    other = np.concatenate([y[from_x], x[from_y]])
    pick = np.lexsort((other, -degree[other], -score[links], chooser))
    best = np.r_[True, chooser[pick][1:] != chooser[pick][:-1]] if len(pick) else np.ones(0, dtype=bool)
    chosen = np.zeros(len(local), dtype=bool)
    chosen[links[pick[best]]] = True
    unchosen = across & ~(in_core[x] & in_core[y]) & ~chosen
    loose_links: npt.NDArray[np.bool_] = between | unchosen
    return loose_links


def _joined(count: int, links: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]) -> npt.NDArray[np.int64]:
    """Per item 0..count, the smallest item it is joined to through `links` (pairs of arrays)."""
    a = np.concatenate([p for p, _ in links]).astype(np.uint32)
    b = np.concatenate([q for _, q in links]).astype(np.uint32)
    joined: npt.NDArray[np.int64] = _core.hamming_components(count, a, b).astype(np.int64)
    return joined


def _folded(
    family: npt.NDArray[np.int64],
    pending: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    beyond: int = 0,
) -> tuple[npt.NDArray[np.int64], list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]]:
    """`family` (per link, the lowest link it is joined to) with the `pending` joins folded in and
    none left pending, once those hold over `beyond` pairs; else both as they are."""
    if sum(len(p) for p, _ in pending) <= beyond:
        return family, pending
    return _joined(len(family), [(np.arange(len(family)), family), *pending]), []


def _families(
    m: int,
    x: npt.NDArray[np.int64],
    y: npt.NDArray[np.int64],
    closed: npt.NDArray[np.bool_],
    family: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Each node's unit: the family (label of `family`, per link) holding most of its links in
    triangles (ties: the larger family, then the lower label), or a label of its own (m + node
    number, past every link's) where it has none."""
    nodes = np.concatenate([x[closed], y[closed]])
    labels = np.concatenate([family[closed], family[closed]])
    family_links = np.bincount(family[closed], minlength=len(family))
    key, count = np.unique(nodes * len(family) + labels, return_counts=True)
    node, label = key // len(family), key % len(family)
    pick = np.lexsort((label, -family_links[label], -count, node))
    best = pick[np.r_[True, node[pick][1:] != node[pick][:-1]]] if len(pick) else pick
    unit = len(family) + np.arange(m)
    unit[node[best]] = label[best]
    return unit


def _edge_index(
    key: npt.NDArray[np.int64], m: int, x: npt.NDArray[np.int64], y: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Position in the sorted edge keys of each link (x, y), or -1 where there is none."""
    wanted = np.minimum(x, y) * m + np.maximum(x, y)
    at = np.minimum(np.searchsorted(key, wanted), max(len(key) - 1, 0))
    return np.where(key[at] == wanted, at, -1) if len(key) else np.full(len(wanted), -1)


def _screened(
    root: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    edges: npt.NDArray[np.int64],
    bounds: npt.NDArray[np.int64],
    groups: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """The groups among `groups` (component roots of at most DENSE_UP_TO nodes) whose sweep
    finds a cut under `MAX_CONDUCTANCE`, screened in batches of one size: the same Fiedler
    vectors and sweeps as `_cut`, without a Python step per group."""
    found = []
    # Each node's place in its component: the nodes of a component in increasing order.
    members = np.argsort(root, kind="stable")
    first = np.searchsorted(root[members], np.arange(len(root)))
    place = np.empty(len(root), dtype=np.int64)
    place[members] = np.arange(len(root)) - first[root[members]]
    for m in np.unique(sizes[groups]):
        same = groups[sizes[groups] == m]
        for batch in np.array_split(same, max(1, -(-len(same) * m * m // BATCH_CELLS))):
            spans = [edges[bounds[r] : bounds[r + 1]] for r in batch]
            which = np.repeat(np.arange(len(batch)), [len(s) for s in spans])
            pairs = np.concatenate(spans)
            x, y = place[pairs[:, 0]], place[pairs[:, 1]]
            adjacency = np.zeros((len(batch), m, m))
            adjacency[which, x, y] = adjacency[which, y, x] = 1.0
            degree = adjacency.sum(axis=2)
            scale = 1.0 / np.sqrt(degree)
            _, vectors = np.linalg.eigh(scale[:, :, None] * adjacency * scale[:, None, :])
            order = np.argsort(vectors[:, :, -2] * scale, axis=1, kind="stable")
            ordered = np.take_along_axis(np.take_along_axis(adjacency, order[:, :, None], 1), order[:, None, :], 2)
            inside = np.cumsum(np.tril(ordered, -1).sum(axis=2), axis=1)[:, :-1]
            volume = np.cumsum(np.take_along_axis(degree, order, 1), axis=1)[:, :-1]
            total = degree.sum(axis=1, keepdims=True)
            conductance = (volume - 2 * inside) / np.maximum(np.minimum(volume, total - volume), 1.0)
            found.append(batch[conductance.min(axis=1) < MAX_CONDUCTANCE])
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _cut(
    edges: npt.NDArray[np.int64], tie: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """The edges inside each side of the group's sparsest sweep cut, or None when it is not
    sparser than `MAX_CONDUCTANCE` (the group holds together). Nodes of one `tie` label (per
    node) go to the side that holds most of them."""
    nodes, local = np.unique(edges, return_inverse=True)
    local = local.reshape(-1, 2)
    m = len(nodes)
    if m < 2 * MIN_SIDE:
        return None
    x, y = local[:, 0], local[:, 1]
    degree = np.bincount(x, minlength=m) + np.bincount(y, minlength=m)
    side = _sweep(m, x, y, degree, _fiedler(m, x, y, degree))
    if side is None:
        return None
    side = _settle(side, x, y, degree)
    _, tied = np.unique(tie[nodes], return_inverse=True)
    side = (np.bincount(tied, weights=side) * 2 > np.bincount(tied))[tied]
    across = side[x] != side[y]
    counts = np.bincount(side.astype(np.int64), minlength=2)
    if counts.min() < MIN_SIDE:
        return None
    volume = np.bincount(side.astype(np.int64), weights=degree, minlength=2)
    if across.sum() >= MAX_CONDUCTANCE * volume.min():
        return None
    inside = ~across
    first = inside & ~side[x]
    second = inside & side[x]
    return nodes[local[first]], nodes[local[second]]


def _fiedler(
    m: int, x: npt.NDArray[np.int64], y: npt.NDArray[np.int64], degree: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """The second eigenvector of D^-1/2 A D^-1/2, scaled by D^-1/2 (the sweep order)."""
    scale = 1.0 / np.sqrt(degree)
    if m <= DENSE_UP_TO:
        adjacency = np.zeros((m, m))
        adjacency[x, y] = adjacency[y, x] = 1.0
        normalised = scale[:, None] * adjacency * scale[None, :]
        _, vectors = np.linalg.eigh(normalised)
        return vectors[:, -2] * scale
    # (I + N) / 2 has the eigenvalues of N moved into [0, 1], the largest (1) on sqrt(degree):
    # iterate against that one removed. A group with no sparse cut converges slowly, and its
    # sweep finds no cut either way.
    top = np.sqrt(degree) / np.sqrt(degree.sum())
    vector = np.random.default_rng(0).standard_normal(m)
    for _ in range(POWER_STEPS):
        spread = vector * scale
        product = np.bincount(x, weights=spread[y], minlength=m) + np.bincount(y, weights=spread[x], minlength=m)
        step = 0.5 * (vector + scale * product)
        step -= top * (top @ step)
        norm = np.linalg.norm(step)
        if norm == 0:
            break
        step /= norm
        done = np.linalg.norm(step - vector) < 1e-9
        vector = step
        if done:
            break
    return vector * scale


def _sweep(
    m: int,
    x: npt.NDArray[np.int64],
    y: npt.NDArray[np.int64],
    degree: npt.NDArray[np.int64],
    order_by: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_] | None:
    """The prefix of the nodes sorted by `order_by` with the smallest conductance, as a mask."""
    order = np.argsort(order_by, kind="stable")
    position = np.empty(m, dtype=np.int64)
    position[order] = np.arange(m)
    # An edge lies inside the prefix of k nodes from k = its later end's position + 1 on.
    inside = np.cumsum(np.bincount(np.maximum(position[x], position[y]), minlength=m))[:-1]
    volume = np.cumsum(degree[order])[:-1].astype(np.float64)
    total = float(degree.sum())
    cut = volume - 2 * inside
    conductance = cut / np.maximum(np.minimum(volume, total - volume), 1.0)
    k = int(np.argmin(conductance)) + 1
    if conductance[k - 1] >= MAX_CONDUCTANCE:
        return None
    side = np.zeros(m, dtype=bool)
    side[order[k:]] = True
    return side


def _settle(
    side: npt.NDArray[np.bool_], x: npt.NDArray[np.int64], y: npt.NDArray[np.int64], degree: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Moves every node with more links to the other side than to its own, a few rounds: the
    sweep orders by an approximate vector, and a copy must not be left apart from its family."""
    m = len(side)
    for _ in range(8):
        to_second = np.bincount(x, weights=side[y], minlength=m) + np.bincount(y, weights=side[x], minlength=m)
        to_own = np.where(side, to_second, degree - to_second)
        move = 2 * to_own < degree
        if not move.any():
            break
        side = side ^ move
    return side
