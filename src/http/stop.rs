//! Shutdown as connections and hanging requests see it: a flag, and the
//! wakers of those waiting for it.
//!
//! A connection must notice shutdown while it is idle, so its task polls a
//! [`Stop`] each time it polls the connection. A `watch` channel's
//! `changed()` locks the channel's waiter list on every such poll; a `Stop`
//! reads the flag and compares its task's waker with the one it left, and
//! takes the lock only to leave a new one (once per connection, in
//! practice) and when it is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Whether shutdown has started, and who to wake when it does.
#[derive(Default)]
pub(crate) struct Stopping {
    stopped: AtomicBool,
    waiting: Mutex<Waiting>,
}

/// The wakers left by pending [`Stop`]s; a dropped one frees its place.
#[derive(Default)]
struct Waiting {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Stopping {
    /// Starts shutdown: every [`Stop`] is ready from now on, and those
    /// waiting are woken.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        for waker in self.waiting().wakers.iter().flatten() {
            waker.wake_by_ref();
        }
    }

    /// The waiting list, locked (a poisoned lock is still used: the list
    /// holds no invariant a panic could break).
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A future that is ready once shutdown has started.
    pub(crate) fn signal(self: &Arc<Self>) -> Stop {
        Stop {
            stopping: self.clone(),
            left: None,
        }
    }
}

/// Ready once shutdown has started (see the module documentation).
pub(crate) struct Stop {
    stopping: Arc<Stopping>,
    /// Where this `Stop` left its waker, and a copy to compare with.
    left: Option<(usize, Waker)>,
}

impl Future for Stop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.stopping.stopped.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if self
            .left
            .as_ref()
            .is_some_and(|(_, waker)| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        let this = &mut *self;
        let mut waiting = this.stopping.waiting();
        let index = match &this.left {
            Some((index, _)) => *index,
            None => waiting.free.pop().unwrap_or_else(|| {
                waiting.wakers.push(None);
                waiting.wakers.len() - 1
            }),
        };
        waiting.wakers[index] = Some(cx.waker().clone());
        drop(waiting);
        this.left = Some((index, cx.waker().clone()));
        // Shutdown may have started while the waker was being left: it is
        // either seen here or woken by `stop`, which sets the flag first.
        if this.stopping.stopped.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some((index, _)) = self.left.take() {
            let mut waiting = self.stopping.waiting();
            waiting.wakers[index] = None;
            waiting.free.push(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    /// A waker that counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counted() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    fn wakes(count: &Count) -> usize {
        count.0.load(Ordering::SeqCst)
    }

    /// Polls `stop` from the task `waker` wakes.
    fn poll(stop: &mut Stop, waker: &Waker) -> Poll<()> {
        Pin::new(stop).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn pending_stops_are_woken_and_ready_once_shutdown_starts() {
        let stopping = Arc::new(Stopping::default());
        let (first_count, first_waker) = counted();
        let (second_count, second_waker) = counted();
        let mut first = stopping.signal();
        let mut second = stopping.signal();
        assert!(poll(&mut first, &first_waker).is_pending());
        assert!(poll(&mut first, &first_waker).is_pending());
        assert!(poll(&mut second, &second_waker).is_pending());
        stopping.stop();
        assert_eq!((wakes(&first_count), wakes(&second_count)), (1, 1));
        assert!(poll(&mut first, &first_waker).is_ready());
        assert!(poll(&mut stopping.signal(), &first_waker).is_ready());
    }

    #[test]
    fn a_stop_polled_by_another_task_wakes_that_task() {
        let stopping = Arc::new(Stopping::default());
        let (old_count, old_waker) = counted();
        let (new_count, new_waker) = counted();
        let mut stop = stopping.signal();
        assert!(poll(&mut stop, &old_waker).is_pending());
        assert!(poll(&mut stop, &new_waker).is_pending());
        stopping.stop();
        assert_eq!((wakes(&new_count), wakes(&old_count)), (1, 0));
    }

    #[test]
    fn dropped_stops_free_their_place_and_are_not_woken() {
        let stopping = Arc::new(Stopping::default());
        let (count, waker) = counted();
        for _ in 0..100 {
            assert!(poll(&mut stopping.signal(), &waker).is_pending());
        }
        assert_eq!(stopping.waiting().wakers.len(), 1);
        stopping.stop();
        assert_eq!(wakes(&count), 0);
    }
}
