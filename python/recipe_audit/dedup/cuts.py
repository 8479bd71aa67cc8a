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
    root, edges, bounds = _grouped(n, edges)
    sizes = np.bincount(root, minlength=n)
    large = np.flatnonzero(sizes > DENSE_UP_TO)
    if len(large):
        # A large group is a chain of families (copies link densely, in triangles) joined by
        # look-alike links (in none). Those links go first, then the bridges left, both in about
        # linear time, so the spectral cuts below never peel a chain one family at a time.
        drop = np.zeros(len(edges), dtype=bool)
        for r in large:
            drop[bounds[r] : bounds[r + 1]] = _unsupported(edges[bounds[r] : bounds[r + 1]])
        root, edges, bounds = _grouped(n, edges[~drop])
        sizes = np.bincount(root, minlength=n)
        drop = np.zeros(len(edges), dtype=bool)
        for r in np.flatnonzero(sizes > DENSE_UP_TO):
            drop[bounds[r] : bounds[r + 1]] = _sparse_bridges(edges[bounds[r] : bounds[r + 1]])
        root, edges, bounds = _grouped(n, edges[~drop])
        sizes = np.bincount(root, minlength=n)
    part = root.copy()
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


def _grouped(n: int, edges: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Each node's component root, and the edges sorted by component with each component's
    bounds in them: a cut only ever looks inside one component."""
    root = _core.hamming_components(n, edges[:, 0].astype(np.uint32), edges[:, 1].astype(np.uint32)).astype(np.int64)
    edges = edges[np.argsort(root[edges[:, 0]], kind="stable")]
    return root, edges, np.searchsorted(root[edges[:, 0]], np.arange(n + 1))


HUB_DEGREE = 256
"""Triangles are looked for from pictures with at most this many links: a burst of 100,000
re-encodes around one leader would otherwise list 5e9 pairs of its neighbours (a triangle
through a hub is still found from its two other corners)."""


def _unsupported(edges: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which of one large component's edges lie in no triangle while both their ends have other
    links: look-alike links between two families (random links close no triangle, copies of one
    picture close many). A copy found by one link only keeps it."""
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
    closed = np.zeros(len(local), dtype=bool)
    # Every pair of a node's neighbours (a wedge), one batch per degree; a wedge whose two ends
    # are linked closes a triangle, and all three of its edges are supported.
    for k in np.unique(degree[(degree >= 2) & (degree <= HUB_DEGREE)]):
        centres = np.flatnonzero(degree == k)
        first, second = np.triu_indices(k, 1)
        for batch in np.array_split(centres, max(1, -(-len(centres) * len(first) // BATCH_CELLS))):
            around = ends[start[batch][:, None] + np.arange(k)[None, :], 1]
            u, v = around[:, first].ravel(), around[:, second].ravel()
            w = np.repeat(batch, len(first))
            found = _edge_index(key, m, u, v)
            hit = found >= 0
            for x, y in ((u, v), (w, u), (w, v)):
                closed[order[_edge_index(key, m, x[hit], y[hit])]] = True
    return ~closed & (degree[local[:, 0]] > 1) & (degree[local[:, 1]] > 1)


def _edge_index(
    key: npt.NDArray[np.int64], m: int, x: npt.NDArray[np.int64], y: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Position in the sorted edge keys of each link (x, y), or -1 where there is none."""
    wanted = np.minimum(x, y) * m + np.maximum(x, y)
    at = np.minimum(np.searchsorted(key, wanted), max(len(key) - 1, 0))
    return np.where(key[at] == wanted, at, -1) if len(key) else np.full(len(wanted), -1)


def _sparse_bridges(edges: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which of one component's edges are bridges whose cut is under `MAX_CONDUCTANCE` with
    both sides large enough to be cut (`_smallest_cut_group`), by one depth-first search."""
    nodes, local = np.unique(edges, return_inverse=True)
    local = local.reshape(-1, 2)
    m = len(nodes)
    ends = np.concatenate([local, local[:, ::-1]])
    ids = np.concatenate([np.arange(len(local))] * 2)
    order = np.argsort(ends[:, 0], kind="stable")
    neighbour, edge_id = ends[order, 1], ids[order]
    start = np.searchsorted(ends[order, 0], np.arange(m + 1))
    degree = np.diff(start)
    entered = np.full(m, -1)
    low = np.zeros(m, dtype=np.int64)
    volume = degree.astype(np.int64).copy()  # of the subtree, once it is done
    count = np.ones(m, dtype=np.int64)
    via = np.full(m, -1)  # the tree edge a node was reached by
    clock = 0
    bridges = []
    entered[0] = low[0] = clock
    stack = [(0, start[0])]
    while stack:
        node, at = stack[-1]
        if at < start[node + 1]:
            stack[-1] = (node, at + 1)
            nxt, eid = neighbour[at], edge_id[at]
            if eid == via[node]:
                continue
            if entered[nxt] < 0:
                clock += 1
                entered[nxt] = low[nxt] = clock
                via[nxt] = eid
                stack.append((nxt, start[nxt]))
            else:
                low[node] = min(low[node], entered[nxt])
            continue
        stack.pop()
        if stack:
            parent = stack[-1][0]
            low[parent] = min(low[parent], low[node])
            volume[parent] += volume[node]
            count[parent] += count[node]
            if low[node] > entered[parent]:
                bridges.append((via[node], count[node], volume[node]))
    drop = np.zeros(len(local), dtype=bool)
    total, smallest = int(degree.sum()), _smallest_cut_group() // 2
    for eid, below, vol in bridges:
        if min(below, m - below) >= smallest and 1 < MAX_CONDUCTANCE * min(vol, total - vol):
            drop[eid] = True
    return drop


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
