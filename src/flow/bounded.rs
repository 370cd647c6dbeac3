//! Maps with a cap: past it, the oldest entries are evicted (and counted),
//! so hostile or long-running traffic cannot grow memory without bound.
//! [`Bounded`] evicts one entry at a time in insertion order;
//! [`Generations`] evicts a whole generation at once, for the stores an
//! insert on every request must keep cheap.

use hashbrown::HashMap;
use std::collections::VecDeque;
use std::hash::Hash;

/// A map that keeps at most `cap` entries, evicting the oldest first.
pub(crate) struct Bounded<K, V> {
    map: HashMap<K, (V, u64)>,
    /// Keys in insertion order with the insertion number; entries whose
    /// number no longer matches the map's were removed or replaced.
    order: VecDeque<(K, u64)>,
    next: u64,
    cap: usize,
    /// Entries evicted to respect the cap.
    dropped: u64,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    /// An empty map holding at most `cap` entries.
    pub fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::default(),
            order: VecDeque::new(),
            next: 0,
            cap,
            dropped: 0,
        }
    }

    /// Inserts or replaces an entry (a replaced entry counts as new).
    pub fn insert(&mut self, key: K, value: V) {
        self.next += 1;
        self.map.insert(key.clone(), (value, self.next));
        self.order.push_back((key, self.next));
        while self.map.len() > self.cap {
            let Some((oldest, n)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&oldest).is_some_and(|(_, m)| *m == n) {
                self.map.remove(&oldest);
                self.dropped += 1;
            }
        }
        // Stale order entries (removed or replaced keys) are trimmed once
        // they outnumber the live ones.
        if self.order.len() > self.map.len() + self.map.len() / 4 + 16 {
            let map = &self.map;
            self.order
                .retain(|(k, n)| map.get(k).is_some_and(|(_, m)| m == n));
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    /// The value of `key`, to change in place.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key).map(|(v, _)| v)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|(v, _)| v)
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.map.retain(|k, (v, _)| keep(k, v));
        let map = &self.map;
        self.order
            .retain(|(k, n)| map.get(k).is_some_and(|(_, m)| m == n));
    }

    /// Forgets everything, including the drop count (insertion numbers go
    /// on, so a cursor never names a later entry).
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.dropped = 0;
    }

    /// How many entries there are, and how many were evicted for the cap.
    pub fn counts(&self) -> (usize, u64) {
        (self.map.len(), self.dropped)
    }

    /// Forgets the entries that `belongs` says are the session's, or
    /// everything (with the drop count) when there is no session.
    pub fn reset<T>(&mut self, session: Option<T>, belongs: impl Fn(&V, &T) -> bool) {
        match session {
            Some(s) => self.retain(|_, v| !belongs(v, &s)),
            None => self.clear(),
        }
    }

    /// The entries inserted after insertion number `after`, oldest first,
    /// each with its insertion number (a cursor that stays valid while
    /// entries come and go).
    pub fn iter_after(&self, after: u64) -> impl Iterator<Item = (u64, &K, &V)> {
        let start = self.order.partition_point(|(_, n)| *n <= after);
        self.order.range(start..).filter_map(|(k, n)| {
            let (v, m) = self.map.get(k)?;
            (m == n).then_some((*n, k, v))
        })
    }
}

/// A map keyed by digest prefixes that remembers at least the last `cap`
/// entries and at most `2 × cap`, in two generations: inserts go into the
/// newer, and when it holds `cap` entries the older is forgotten whole (and
/// counted) and the newer takes its place. Unlike [`Bounded`], an insert
/// touches one map and keeps no insertion order, which is what the
/// challenge path can afford on every request.
pub(crate) struct Generations<V> {
    newer: HashMap<u64, V>,
    older: HashMap<u64, V>,
    cap: usize,
    /// Entries forgotten with their generation.
    dropped: u64,
}

impl<V> Generations<V> {
    /// An empty map remembering at least the last `cap` entries.
    pub fn new(cap: usize) -> Self {
        Generations {
            newer: HashMap::new(),
            older: HashMap::new(),
            cap: cap.max(1),
            dropped: 0,
        }
    }

    /// Inserts or replaces an entry, first starting a new generation if the
    /// newer one is full.
    pub fn insert(&mut self, key: u64, value: V) {
        if self.newer.len() >= self.cap && !self.newer.contains_key(&key) {
            // The older generation's map is emptied and reused, so a full
            // map stops allocating.
            self.dropped += self.older.len() as u64;
            self.older.clear();
            std::mem::swap(&mut self.newer, &mut self.older);
        }
        self.newer.insert(key, value);
    }

    /// The value of `key`.
    pub fn get(&self, key: &u64) -> Option<&V> {
        self.newer.get(key).or_else(|| self.older.get(key))
    }

    /// How many entries there are, and how many were forgotten for the cap.
    /// A key in both generations counts twice.
    pub fn counts(&self) -> (usize, u64) {
        (self.newer.len() + self.older.len(), self.dropped)
    }

    /// Forgets the entries that `belongs` says are the session's, or
    /// everything (with the drop count) when there is no session.
    pub fn reset<T>(&mut self, session: Option<T>, belongs: impl Fn(&V, &T) -> bool) {
        match session {
            Some(s) => {
                self.newer.retain(|_, v| !belongs(v, &s));
                self.older.retain(|_, v| !belongs(v, &s));
            }
            None => {
                self.newer.clear();
                self.older.clear();
                self.dropped = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_first_and_are_counted() {
        let mut map: Bounded<i32, i32> = Bounded::new(3);
        for i in 0..5 {
            map.insert(i, i * 10);
        }
        assert_eq!(map.counts(), (3, 2));
        assert_eq!(map.get(&0), None);
        assert_eq!(
            map.iter_after(0).map(|(_, k, _)| *k).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        // Replacing an entry makes it the newest.
        map.insert(2, 99);
        map.insert(5, 50);
        assert_eq!(
            map.iter_after(0).map(|(_, k, _)| *k).collect::<Vec<_>>(),
            [4, 2, 5]
        );
        map.retain(|k, _| *k != 4);
        map.insert(6, 60);
        assert_eq!(
            map.iter_after(0).map(|(_, k, _)| *k).collect::<Vec<_>>(),
            [2, 5, 6]
        );
    }

    #[test]
    fn a_session_reset_keeps_other_sessions_and_a_full_reset_keeps_nothing() {
        // Values are the session each entry belongs to.
        let mut map: Bounded<i32, &str> = Bounded::new(4);
        for (key, session) in [(0, "a"), (1, "a"), (2, "b"), (3, "a"), (4, "b")] {
            map.insert(key, session);
        }
        map.reset(Some("a"), |entry, session| entry == session);
        assert_eq!(
            map.iter_after(0).map(|(_, k, _)| *k).collect::<Vec<_>>(),
            [2, 4]
        );
        assert_eq!(map.counts(), (2, 1), "a session reset keeps the drop count");
        map.reset(None::<&str>, |entry, session| entry == session);
        assert_eq!(map.counts(), (0, 0));
    }

    #[test]
    fn stale_order_entries_do_not_pile_up() {
        let mut map: Bounded<u64, u64> = Bounded::new(10);
        for i in 0..10_000 {
            map.insert(i % 3, i);
        }
        assert!(
            map.order.len() <= 2 * map.map.len() + 17,
            "{}",
            map.order.len()
        );
    }

    #[test]
    fn generations_remember_the_last_cap_entries_and_count_what_they_forget() {
        let mut map: Generations<u64> = Generations::new(3);
        for i in 0..200u64 {
            map.insert(i, i * 10);
            // Whatever came in, the last three are always there.
            for recent in i.saturating_sub(2)..=i {
                assert_eq!(
                    map.get(&recent),
                    Some(&(recent * 10)),
                    "after {i}: {recent}"
                );
            }
            let (held, dropped) = map.counts();
            assert!(held <= 2 * 3, "never more than two generations: {held}");
            assert_eq!(
                held as u64 + dropped,
                i + 1,
                "every entry is held or counted"
            );
        }
        assert_eq!(map.get(&0), None);
    }

    #[test]
    fn a_replaced_entry_is_held_once() {
        let mut map: Generations<u64> = Generations::new(100);
        map.insert(7, 1);
        map.insert(7, 2);
        assert_eq!((map.get(&7), map.counts()), (Some(&2), (1, 0)));
    }

    #[test]
    fn generations_reset_by_session_in_both_generations() {
        let mut map: Generations<&str> = Generations::new(32);
        let n = 2 * 32 + 5;
        for key in 0..n {
            map.insert(key, if key % 2 == 0 { "a" } else { "b" });
        }
        assert!(!map.newer.is_empty() && !map.older.is_empty());
        let (held, dropped) = map.counts();
        map.reset(Some("a"), |entry, session| entry == session);
        let kept: Vec<u64> = (0..n).filter(|key| map.get(key).is_some()).collect();
        assert!(kept.iter().all(|key| key % 2 == 1), "{kept:?}");
        assert_eq!(kept.len(), held / 2, "every b is kept");
        assert_eq!(
            map.counts(),
            (held / 2, dropped),
            "a session reset keeps the drop count"
        );
        map.reset(None::<&str>, |entry, session| entry == session);
        assert_eq!(map.counts(), (0, 0));
    }
}
