//! Maps with a cap: past it, the oldest entries are evicted (and counted),
//! so hostile or long-running traffic cannot grow memory without bound.
//! [`Bounded`] evicts one entry at a time in insertion order;
//! [`Generations`] evicts a whole generation at once, for the stores an
//! insert on every request must keep cheap.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};

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
/// entries and at most `2 × cap` (plus a batch of 32), in two generations:
/// inserts go into the newer, and when it holds `cap` entries the older is
/// forgotten whole (and counted) and the newer takes its place. Unlike
/// [`Bounded`], an insert touches one table and keeps no insertion order,
/// which is what the challenge path can afford on every request.
///
/// New entries wait in a short batch before they go into the table: keys are
/// random, so each table insert misses the cache. Before a batch goes in,
/// the slot of each of its keys is read (when the table `G` can say where
/// that is), so the processor waits for the batch's misses together instead
/// of for one per request.
///
/// `G` is the generations' table: [`Table`] for a store that is mostly
/// written (the challenge log: an insert per challenge, a look-up per
/// redemption), [`Sparse`] for one that is mostly asked about keys it does
/// not hold (the spent nonces: every spend first looks up a fresh nonce,
/// and a miss in [`Sparse`] reads one byte of a small array, not a slot).
pub(crate) struct Generations<V, G = Table<V>> {
    /// The newest entries, oldest first, not yet in `newer`.
    batch: Vec<(u64, V)>,
    newer: G,
    older: G,
    cap: usize,
    /// Entries forgotten with their generation.
    dropped: u64,
}

/// How many new entries wait before they go into the table together.
const BATCH: usize = 32;

/// What [`Generations`] needs of a table of `u64` keys.
pub(crate) trait GenerationTable<V> {
    /// An empty table for a generation of up to `cap` entries.
    fn with_cap(cap: usize) -> Self;
    fn len(&self) -> usize;
    fn insert(&mut self, key: u64, value: V);
    fn get(&self, key: u64) -> Option<&V>;
    /// Empties the table, keeping its memory.
    fn clear(&mut self);
    /// Keeps the entries `keep` says yes to (rare: a session's reset).
    fn retain(&mut self, keep: impl Fn(&V) -> bool);
    /// Brings the slots these keys go to into the cache, where the table
    /// knows them before an insert.
    fn touch(&self, _keys: impl Iterator<Item = u64>) {}
}

/// Hashes a `u64` key that is already uniformly random (a digest prefix)
/// as itself: no SipHash per look-up.
#[derive(Default)]
pub(crate) struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A generation table on the standard map (hashbrown), keys hashed as
/// themselves. Its look-ups read a one-byte control array first, so a miss
/// costs less cache than in [`Table`]; its slots cannot be read ahead.
pub(crate) type Sparse<V> = HashMap<u64, V, BuildHasherDefault<PrefixHasher>>;

impl<V> GenerationTable<V> for Sparse<V> {
    fn with_cap(_cap: usize) -> Self {
        Sparse::default()
    }

    fn len(&self) -> usize {
        HashMap::len(self)
    }

    fn insert(&mut self, key: u64, value: V) {
        HashMap::insert(self, key, value);
    }

    fn get(&self, key: u64) -> Option<&V> {
        HashMap::get(self, &key)
    }

    fn clear(&mut self) {
        HashMap::clear(self);
    }

    fn retain(&mut self, keep: impl Fn(&V) -> bool) {
        HashMap::retain(self, |_, v| keep(v));
    }
}

impl<V: Copy, G: GenerationTable<V>> Generations<V, G> {
    /// An empty map remembering at least the last `cap` entries.
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Generations {
            batch: Vec::with_capacity(BATCH),
            newer: G::with_cap(cap),
            older: G::with_cap(cap),
            cap,
            dropped: 0,
        }
    }

    /// Inserts or replaces an entry.
    pub fn insert(&mut self, key: u64, value: V) {
        if let Some(waiting) = self.batch.iter_mut().find(|(k, _)| *k == key) {
            waiting.1 = value;
            return;
        }
        self.batch.push((key, value));
        if self.batch.len() >= BATCH {
            self.newer.touch(self.batch.iter().map(|(key, _)| *key));
            let mut batch = std::mem::take(&mut self.batch);
            for (key, value) in batch.drain(..) {
                self.place(key, value);
            }
            self.batch = batch;
        }
    }

    /// Puts an entry into the newer table, first starting a new generation
    /// if that one is full.
    fn place(&mut self, key: u64, value: V) {
        if self.newer.len() >= self.cap {
            // The older generation's table is emptied and reused, so a full
            // map stops allocating.
            self.dropped += self.older.len() as u64;
            self.older.clear();
            std::mem::swap(&mut self.newer, &mut self.older);
        }
        self.newer.insert(key, value);
    }

    /// The value of `key`.
    pub fn get(&self, key: &u64) -> Option<&V> {
        self.batch
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .or_else(|| self.newer.get(*key))
            .or_else(|| self.older.get(*key))
    }

    /// How many entries there are, and how many were forgotten for the cap.
    /// A key waiting in the batch that the tables also hold counts twice.
    pub fn counts(&self) -> (usize, u64) {
        (
            self.batch.len() + self.newer.len() + self.older.len(),
            self.dropped,
        )
    }

    /// Forgets the entries that `belongs` says are the session's, or
    /// everything (with the drop count) when there is no session.
    pub fn reset<T>(&mut self, session: Option<T>, belongs: impl Fn(&V, &T) -> bool) {
        match session {
            Some(s) => {
                self.batch.retain(|(_, v)| !belongs(v, &s));
                self.newer.retain(|v| !belongs(v, &s));
                self.older.retain(|v| !belongs(v, &s));
            }
            None => {
                self.batch.clear();
                self.newer.clear();
                self.older.clear();
                self.dropped = 0;
            }
        }
    }
}

/// A hash table of `u64` keys for [`Generations`]: open addressing with
/// linear probing at half load or less, so that the slot a key goes to is
/// known and can be read ahead of a batch of inserts (which a general map
/// does not allow). It doubles as it fills, up to a power of two at least
/// twice the generation's cap, and keeps its slots when emptied (a small
/// store stays small and in the cache; a full one stops allocating).
/// Entries are only added, or removed all at once.
pub(crate) struct Table<V> {
    /// Key and value; [`EMPTY`] keys mark free slots.
    slots: Vec<(u64, V)>,
    /// The most slots it grows to.
    size: usize,
    len: usize,
}

/// Slots a table starts with.
const FIRST_SIZE: usize = 1024;

/// The key of a free slot. A key equal to it is stored as `EMPTY - 1`: keys
/// are digest prefixes, and neither value comes up in practice.
const EMPTY: u64 = u64::MAX;

impl<V: Copy> Table<V> {
    /// Where `key`'s probe starts (Fibonacci hashing, so that keys that are
    /// not random spread too).
    fn home(&self, key: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
    }

    fn stored(key: u64) -> u64 {
        if key == EMPTY { EMPTY - 1 } else { key }
    }

    /// The slot holding `key` (as stored), or else the free slot its probe
    /// ends at, and whether it was found. The table has slots.
    fn find(&self, key: u64) -> (usize, bool) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(key);
        loop {
            match self.slots[at].0 {
                k if k == key => return (at, true),
                EMPTY => return (at, false),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Doubles the slots (or makes the first), moving the entries over;
    /// `filler` fills the new slots' unused values.
    fn grow(&mut self, filler: V) {
        let size = (2 * self.slots.len()).clamp(FIRST_SIZE.min(self.size), self.size);
        let old = std::mem::replace(&mut self.slots, vec![(EMPTY, filler); size]);
        self.len = 0;
        for (key, value) in old {
            if key != EMPTY {
                self.insert(key, value);
            }
        }
    }
}

impl<V: Copy> GenerationTable<V> for Table<V> {
    fn with_cap(cap: usize) -> Table<V> {
        Table {
            slots: Vec::new(),
            size: cap.saturating_mul(2).next_power_of_two().max(8),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Reads the home slot of each key, to bring it into the cache.
    fn touch(&self, keys: impl Iterator<Item = u64>) {
        if self.slots.is_empty() {
            return;
        }
        let seen = keys.fold(0u64, |seen, key| seen ^ self.slots[self.home(key)].0);
        std::hint::black_box(seen);
    }

    fn insert(&mut self, key: u64, value: V) {
        let key = Table::<V>::stored(key);
        if 2 * (self.len + 1) > self.slots.len() && self.slots.len() < self.size {
            self.grow(value);
        }
        let (at, found) = self.find(key);
        if !found {
            self.len += 1;
        }
        self.slots[at] = (key, value);
    }

    fn get(&self, key: u64) -> Option<&V> {
        if self.slots.is_empty() {
            return None;
        }
        let (at, found) = self.find(Table::<V>::stored(key));
        found.then(|| &self.slots[at].1)
    }

    fn clear(&mut self) {
        if self.len > 0 {
            for slot in &mut self.slots {
                slot.0 = EMPTY;
            }
            self.len = 0;
        }
    }

    fn retain(&mut self, keep: impl Fn(&V) -> bool) {
        let kept: Vec<(u64, V)> = self
            .slots
            .iter()
            .filter(|(k, v)| *k != EMPTY && keep(v))
            .copied()
            .collect();
        self.clear();
        for (key, value) in kept {
            self.insert(key, value);
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
        remember_the_last_cap_entries::<Table<u64>>();
        remember_the_last_cap_entries::<Sparse<u64>>();
    }

    fn remember_the_last_cap_entries<G: GenerationTable<u64>>() {
        let mut map: Generations<u64, G> = Generations::new(3);
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
            assert!(
                held < 2 * 3 + BATCH,
                "never more than two generations and a batch: {held}"
            );
            assert_eq!(
                held as u64 + dropped,
                i + 1,
                "every entry is held or counted"
            );
        }
        assert_eq!(map.get(&0), None);
    }

    #[test]
    fn an_entry_replaced_in_the_batch_is_held_once() {
        let mut map: Generations<u64> = Generations::new(100);
        map.insert(7, 1);
        map.insert(7, 2);
        assert_eq!((map.get(&7), map.counts()), (Some(&2), (1, 0)));
    }

    #[test]
    fn generations_reset_by_session_in_the_batch_and_both_generations() {
        reset_by_session::<Table<&str>>();
        reset_by_session::<Sparse<&str>>();
    }

    fn reset_by_session<G: GenerationTable<&'static str>>() {
        // Enough entries that some wait in the batch and both tables hold some.
        let mut map: Generations<&str, G> = Generations::new(BATCH);
        let n = 2 * BATCH as u64 + 5;
        for key in 0..n {
            map.insert(key, if key % 2 == 0 { "a" } else { "b" });
        }
        assert!(!map.batch.is_empty() && map.newer.len() > 0 && map.older.len() > 0);
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

    #[test]
    fn a_table_finds_keys_that_share_a_home_slot_across_its_end() {
        let mut table: Table<u64> = Table::with_cap(4);
        table.insert(1, 1);
        let last = table.slots.len() - 1;
        // Keys whose probes all start at the last slot: they wrap to the first.
        let crowd: Vec<u64> = (2..)
            .filter(|key| table.home(*key) == last)
            .take(3)
            .collect();
        for key in &crowd {
            table.insert(*key, key * 10);
        }
        for key in &crowd {
            assert_eq!(table.get(*key), Some(&(key * 10)), "{key}");
        }
        assert_eq!(table.get(1), Some(&1));
        let stranger = (2..)
            .find(|key| table.home(*key) == last && !crowd.contains(key))
            .unwrap();
        assert_eq!(table.get(stranger), None);
        assert_eq!(table.len(), 4);
    }

    #[test]
    fn a_table_replaces_a_key_it_holds_and_stores_the_free_marker_as_a_key() {
        let mut table: Table<u64> = Table::with_cap(4);
        table.insert(7, 1);
        table.insert(7, 2);
        table.insert(EMPTY, 3);
        assert_eq!(
            (table.get(7), table.get(EMPTY), table.len()),
            (Some(&2), Some(&3), 2)
        );
        table.clear();
        assert_eq!(
            (table.get(7), table.get(EMPTY), table.len()),
            (None, None, 0)
        );
    }
}
