//! A cache hint for stores a request makes to memory it last touched long
//! ago (the journal's next record). Asked for early, their cache misses
//! overlap the request's other work instead of stalling the stores, or the
//! lock's release after them.

/// Starts bringing the cache lines of the `len` bytes at `address` into this
/// core's cache, to be written. A hint only: nothing is read and no address
/// faults, so a stale or dangling address is harmless.
#[inline]
pub(crate) fn for_write(address: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (address & !63..address.saturating_add(len)).step_by(64) {
        use std::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
        // SAFETY: a prefetch reads nothing and never faults, whatever the
        // address; the pointer is only handed to it.
        unsafe { _mm_prefetch::<_MM_HINT_ET0>(line as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (address, len);
}
