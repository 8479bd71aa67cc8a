//! Where verified pairs go: a pair list, or union-find groups (one union-find per rayon worker,
//! merged at the end, so grouping never lists the pairs).

use super::Pair;
use std::sync::Mutex;

/// Work counters (diagnostics).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Counters {
    pub(super) compares: u64,
    pub(super) leaves: u64,
    pub(super) nodes: u64,
}

impl Counters {
    pub(super) fn add(&mut self, o: &Counters) {
        self.compares += o.compares;
        self.leaves += o.leaves;
        self.nodes += o.nodes;
    }
}

pub(super) trait Sink {
    const GROUPS: bool;
    fn emit(&mut self, a: u32, b: u32, d: u32);
    /// Groups only: are all ids (of `a` and `b`) already in one component?
    fn all_connected(&mut self, _a: &[u32], _b: Option<&[u32]>) -> bool {
        false
    }
    fn counters(&mut self) -> &mut Counters;
}

pub(super) struct PairSink {
    pub(super) out: Vec<Pair>,
    pub(super) normalize: bool,
    pub(super) c: Counters,
}

impl Sink for PairSink {
    const GROUPS: bool = false;
    #[inline]
    fn emit(&mut self, a: u32, b: u32, d: u32) {
        if self.normalize && a > b {
            self.out.push((b, a, d as u8));
        } else {
            self.out.push((a, b, d as u8));
        }
    }
    fn counters(&mut self) -> &mut Counters {
        &mut self.c
    }
}

/// Union-find with union by size and path halving.
pub(super) struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub(super) fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    #[inline]
    pub(super) fn find(&mut self, mut x: u32) -> u32 {
        loop {
            let p = self.parent[x as usize];
            if p == x {
                return x;
            }
            let gp = self.parent[p as usize];
            self.parent[x as usize] = gp;
            x = gp;
        }
    }

    #[inline]
    pub(super) fn union(&mut self, a: u32, b: u32) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
        true
    }
}

/// Per-worker union-find slots (locked per task, never across rayon calls,
/// so the lock is uncontended unless there are more threads than slots).
pub(super) struct UfSlots {
    slots: Vec<Mutex<Option<UnionFind>>>,
    n: usize,
}

impl UfSlots {
    pub(super) fn new(n: usize) -> UfSlots {
        let k = rayon::current_num_threads().clamp(1, 64);
        UfSlots {
            slots: (0..k).map(|_| Mutex::new(None)).collect(),
            n,
        }
    }

    pub(super) fn sink(&self) -> GroupSink<'_> {
        let i = rayon::current_thread_index().unwrap_or(0) % self.slots.len();
        let mut g = self.slots[i].lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(UnionFind::new(self.n));
        }
        GroupSink {
            g,
            c: Counters::default(),
        }
    }

    /// Merge all slots into one union-find.
    pub(super) fn merge(self) -> UnionFind {
        let mut ufs: Vec<UnionFind> = self
            .slots
            .into_iter()
            .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let Some(mut base) = ufs.pop() else {
            return UnionFind::new(self.n);
        };
        for mut uf in ufs {
            for i in 0..self.n as u32 {
                let p = uf.find(i);
                if p != i {
                    base.union(i, p);
                }
            }
        }
        base
    }
}

pub(super) struct GroupSink<'a> {
    g: std::sync::MutexGuard<'a, Option<UnionFind>>,
    pub(super) c: Counters,
}

impl GroupSink<'_> {
    #[inline]
    fn uf(&mut self) -> &mut UnionFind {
        self.g.as_mut().expect("slot initialised")
    }
}

impl Sink for GroupSink<'_> {
    const GROUPS: bool = true;
    #[inline]
    fn emit(&mut self, a: u32, b: u32, _d: u32) {
        self.uf().union(a, b);
    }
    fn all_connected(&mut self, a: &[u32], b: Option<&[u32]>) -> bool {
        let uf = self.uf();
        let Some(&first) = a.first() else {
            return true;
        };
        let r0 = uf.find(first);
        a.iter().all(|&x| uf.find(x) == r0) && b.is_none_or(|b| b.iter().all(|&x| uf.find(x) == r0))
    }
    fn counters(&mut self) -> &mut Counters {
        &mut self.c
    }
}
