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
has more links across than on its own side. A single picture is never cut off
(its conductance is 1), nor is a pair; a chain of copies whose ends share little is cut at its
weakest point.

`MAX_CONDUCTANCE` was chosen on the tuning seeds of `benches/studies/dup_corpus.py` (the highest
value that split no true family there) and is reported on fresh seeds (BENCHMARKS.md, "Near
duplicates: groups cut where they hang on a few links").
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import recipe_audit._core as _core

MAX_CONDUCTANCE = 0.1
"""A group is cut where the links across are fewer than this share of the links of the smaller
side's members (a family of 17 copies joined to another by 6 look-alike links: 0.035)."""
MIN_SIDE = 2
"""Neither side of a cut holds fewer pictures than this."""
DENSE_UP_TO = 400
"""Groups of up to this many pictures get their Fiedler vector exactly (`numpy.linalg.eigh`);
larger ones by power iteration on the sparse links."""
POWER_STEPS = 500


def kept_links(n: int, a: npt.NDArray[np.integer], b: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
    """Which links ``(a[i], b[i])`` among nodes ``0..n`` stay once every group is cut along its
    sparse cuts (the connected components of the kept links are the groups)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if len(a) == 0:
        return np.ones(0, dtype=bool)
    part = _parts(n, a, b)
    return part[a] == part[b]


def _smallest_cut_group() -> int:
    """The fewest pictures a group needs for a cut under `MAX_CONDUCTANCE`: a cut of c links
    leaves each side more than c (1 / MAX_CONDUCTANCE - 1) / 2 links inside, so at least that
    many for c = 1, and enough pictures to hold them."""
    links_inside = int((1 / MAX_CONDUCTANCE - 1) / 2) + 1
    side = next(s for s in range(MIN_SIDE, 10_000) if s * (s - 1) // 2 >= links_inside)
    return 2 * side


def _parts(n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A part label per node: its component's, refined by every sparse cut."""
    real = a != b
    u, v = np.minimum(a[real], b[real]), np.maximum(a[real], b[real])
    key = np.sort(u * n + v)  # one int64 per link; sorted, repeats are neighbours
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    edges = np.stack([key // n, key % n], axis=1)
    root = _core.hamming_components(n, edges[:, 0].astype(np.uint32), edges[:, 1].astype(np.uint32)).astype(np.int64)
    part = root.copy()
    sizes = np.bincount(root, minlength=n)
    # The edges of each component, contiguous: a cut only ever looks inside one component.
    order = np.argsort(root[edges[:, 0]], kind="stable")
    edges = edges[order]
    bounds = np.searchsorted(root[edges[:, 0]], np.arange(n + 1))
    candidates = np.flatnonzero(sizes >= _smallest_cut_group())
    small = candidates[sizes[candidates] <= DENSE_UP_TO]
    # Most groups hold together: the small ones are screened together, one batch per size.
    cut = np.concatenate([_screened(root, sizes, edges, bounds, small), candidates[sizes[candidates] > DENSE_UP_TO]])
    next_label = n
    for r in np.sort(cut):
        todo = [edges[bounds[r] : bounds[r + 1]]]
        while todo:
            group = todo.pop()
            halves = _cut(group)
            if halves is None:
                continue
            for half in halves:
                nodes = np.unique(half)
                part[nodes] = next_label
                next_label += 1
                if len(nodes) >= _smallest_cut_group():
                    todo.append(half)
    return part


BATCH_CELLS = 4_000_000
"""Adjacency cells per screening batch (32 MB of float64)."""


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


def _cut(edges: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """The edges inside each side of the group's sparsest sweep cut, or None when it is not
    sparser than `MAX_CONDUCTANCE` (the group holds together)."""
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
