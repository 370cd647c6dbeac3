//! The journal's text store: one ring buffer that requests' text is
//! written into once and read back from when the journal is viewed.

use super::Kept;
use std::collections::VecDeque;

/// The text of kept requests, in one ring buffer: written once, never freed
/// one by one. A request forgotten from the middle (past its session's
/// limit) leaves a hole until the ring is compacted, which happens when a
/// new text does not fit and costs a copy of what is kept; the ring is at
/// least twice what is kept after it, so compactions are rare.
pub(super) struct Arena {
    ring: Vec<u8>,
    /// Where the next text starts. Positions only grow; a byte's place in
    /// the ring is its position modulo the ring's length.
    head: u64,
    /// No kept text starts before this (it trails the oldest kept one's
    /// start, and is brought up to it only when space runs short).
    tail: u64,
}

/// The ring's first size.
pub(super) const ARENA_START: usize = 64 * 1024;

impl Default for Arena {
    fn default() -> Self {
        Arena {
            ring: vec![0; ARENA_START],
            head: 0,
            tail: 0,
        }
    }
}

impl Arena {
    /// Writes a text of `len` bytes, filled in by `fill`, and returns where
    /// it starts; `kept` are the requests whose text must survive (oldest
    /// first), their starts updated if the ring is compacted. The text is
    /// written in place unless it would wrap around the ring's end.
    pub(super) fn write_with(
        &mut self,
        len: usize,
        kept: &mut VecDeque<Kept>,
        fill: impl FnOnce(&mut Cursor<'_>),
    ) -> u64 {
        if self.used() + len > self.ring.len() {
            self.tail = kept.front().map_or(self.head, |k| k.start);
            if self.used() + len > self.ring.len() {
                let live: usize = kept.iter().map(|k| k.len).sum();
                let size = self.ring.len().max(2 * (live + len));
                self.compact(kept, size);
            }
        }
        let start = self.head;
        let at = (start % self.ring.len() as u64) as usize;
        match self.ring.get_mut(at..at + len) {
            Some(room) => {
                let mut cursor = Cursor { out: room };
                fill(&mut cursor);
                debug_assert!(cursor.out.is_empty(), "the text is sized exactly");
                self.head += len as u64;
            }
            None => {
                let mut text = vec![0; len];
                fill(&mut Cursor { out: &mut text });
                self.put(&text);
            }
        }
        start
    }

    /// The ring's size in bytes.
    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.ring.len()
    }

    /// Bytes between the tail and the head.
    fn used(&self) -> usize {
        (self.head - self.tail) as usize
    }

    /// Appends bytes at the head, wrapping around the ring's end.
    fn put(&mut self, bytes: &[u8]) {
        let at = (self.head % self.ring.len() as u64) as usize;
        let first = bytes.len().min(self.ring.len() - at);
        self.ring[at..at + first].copy_from_slice(&bytes[..first]);
        self.ring[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.head += bytes.len() as u64;
    }

    /// The `len` bytes from `start`.
    pub(super) fn read(&self, start: u64, len: usize) -> Vec<u8> {
        let at = (start % self.ring.len() as u64) as usize;
        let first = len.min(self.ring.len() - at);
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&self.ring[at..at + first]);
        out.extend_from_slice(&self.ring[..len - first]);
        out
    }

    /// Moves the kept texts, in order and without holes, to the start of a
    /// new ring of `size` bytes.
    fn compact(&mut self, kept: &mut VecDeque<Kept>, size: usize) {
        let mut fresh = Arena {
            ring: vec![0; size],
            head: 0,
            tail: 0,
        };
        for k in kept.iter_mut() {
            let text = self.read(k.start, k.len);
            k.start = fresh.head;
            fresh.put(&text);
        }
        *self = fresh;
    }
}

/// Writes bytes one after another into a slice sized for them.
pub(super) struct Cursor<'b> {
    /// What is left to fill.
    out: &'b mut [u8],
}

impl Cursor<'_> {
    /// Appends `bytes` (cut short if the slice is, which a correctly sized
    /// text never is).
    pub(super) fn put(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.out.len());
        let (head, tail) = std::mem::take(&mut self.out).split_at_mut(n);
        copy(head, &bytes[..n]);
        self.out = tail;
    }

    /// Appends `name:value\n` (or nothing if the slice is too short, which
    /// a correctly sized text never is).
    pub(super) fn put_line(&mut self, name: &[u8], value: &[u8]) {
        let len = name.len() + value.len() + 2;
        if len > self.out.len() {
            self.out = &mut [];
            return;
        }
        let (line, tail) = std::mem::take(&mut self.out).split_at_mut(len);
        let (name_part, rest) = line.split_at_mut(name.len());
        copy(name_part, name);
        rest[0] = b':';
        copy(&mut rest[1..=value.len()], value);
        rest[value.len() + 1] = b'\n';
        self.out = tail;
    }
}

/// Copies `from` into `to`, of the same length. A record's parts are mostly
/// short (header names and values, the method, the session): those are
/// copied with two overlapping fixed-size moves instead of a call to
/// `memcpy`, which a record made a dozen times.
fn copy(to: &mut [u8], from: &[u8]) {
    let n = from.len();
    match n {
        0 => {}
        1..=3 => {
            to[0] = from[0];
            to[n / 2] = from[n / 2];
            to[n - 1] = from[n - 1];
        }
        4..=7 => {
            to[..4].copy_from_slice(&from[..4]);
            to[n - 4..].copy_from_slice(&from[n - 4..]);
        }
        8..=16 => {
            to[..8].copy_from_slice(&from[..8]);
            to[n - 8..].copy_from_slice(&from[n - 8..]);
        }
        17..=32 => {
            to[..16].copy_from_slice(&from[..16]);
            to[n - 16..].copy_from_slice(&from[n - 16..]);
        }
        _ => to.copy_from_slice(from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_copies_copy_every_byte_at_every_length() {
        let from: Vec<u8> = (1..=40).collect();
        for n in 0..=from.len() {
            let mut to = vec![0u8; n];
            copy(&mut to, &from[..n]);
            assert_eq!(to, from[..n], "{n} bytes");
        }
    }
}
