//! The timer behind hyper's header-read timeout, one per connection.
//!
//! hyper starts a fresh sleep each time it waits for a request head and drops
//! it when the head is in, so with tokio's own timer every keep-alive request
//! allocates a sleep and adds a timer entry, then removes both again (a lock
//! and a wheel update each way). Here a connection keeps one tokio sleep and
//! hyper's deadline in a [`TimerSlot`] of its own, which its task hands to
//! the timer while it polls the connection ([`poll_with`]); hyper's sleep is
//! then an empty handle, which allocates nothing.
//!
//! A new deadline is only written down; the tokio sleep is moved when it
//! would fire too late for it, and when it fires early (for an older
//! deadline) the connection's task wakes once, sees that its deadline is
//! still ahead and sleeps on. Nor is the sleep polled again while it is not
//! due and holds the polling task's waker. On a busy keep-alive connection
//! that is one timer update per timeout period instead of two per request,
//! and a timeout still fires at its deadline.
//!
//! hyper makes, polls and drops its sleeps only while its connection is
//! polled. A sleep made anywhere else, or while another is live, is an
//! ordinary tokio sleep of its own.

use hyper::rt::{Sleep, Timer};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A connection's timer: a handle to the slot of the connection being
/// polled (see the module documentation).
#[derive(Clone, Copy, Default)]
pub(crate) struct ConnectionTimer;

/// What a connection's timer keeps between polls of the connection.
#[derive(Default)]
pub(crate) struct TimerSlot {
    /// The deadline of hyper's live sleep, if it has one.
    at: Option<tokio::time::Instant>,
    /// The connection's tokio sleep, once one was needed.
    alarm: Option<Alarm>,
}

/// The connection's tokio sleep, and the waker it last took: while it is
/// not due and that waker wakes the task polling, polling it again would
/// only register the same waker again (an atomic exchange each), so it is
/// left alone.
struct Alarm {
    sleep: Pin<Box<tokio::time::Sleep>>,
    waker: Option<Waker>,
}

thread_local! {
    /// The slot of the connection this thread is polling, if any.
    static SLOT: RefCell<Option<TimerSlot>> = const { RefCell::new(None) };
}

/// Polls a connection with `poll`, its timer's slot in reach of the
/// timer (and the clock's reading of the poll, see
/// [`crate::clock::within_poll`]).
pub(crate) fn poll_with<T>(slot: &mut TimerSlot, poll: impl FnOnce() -> T) -> T {
    SLOT.with(|s| *s.borrow_mut() = Some(std::mem::take(slot)));
    let polled = crate::clock::within_poll(poll);
    if let Some(back) = SLOT.with(|s| s.borrow_mut().take()) {
        *slot = back;
    }
    polled
}

/// Runs `f` on the slot of the connection being polled, if there is one.
fn with_slot<T>(f: impl FnOnce(&mut TimerSlot) -> T) -> Option<T> {
    SLOT.with(|s| s.borrow_mut().as_mut().map(f))
}

impl Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let at = tokio::time::Instant::from_std(deadline);
        let taken = with_slot(|slot| {
            let free = slot.at.is_none();
            if free {
                slot.at = Some(at);
            }
            free
        });
        if taken == Some(true) {
            Box::pin(Deadline)
        } else {
            Box::pin(Lone(Box::pin(tokio::time::sleep_until(at))))
        }
    }

    fn now(&self) -> Instant {
        crate::clock::recent_instant()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        let at = tokio::time::Instant::from_std(new_deadline);
        if sleep.as_mut().downcast_mut_pin::<Deadline>().is_some()
            && with_slot(|slot| slot.at = Some(at)).is_some()
        {
            return;
        }
        match sleep.as_mut().downcast_mut_pin::<Lone>() {
            Some(lone) => lone.get_mut().0.as_mut().reset(at),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// hyper's sleep when it is the connection's: the deadline and the tokio
/// sleep are in the connection's slot, so this is empty (and boxing it
/// allocates nothing).
struct Deadline;

impl Sleep for Deadline {}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let polled = with_slot(|slot| match slot.at {
            Some(at) => slot.poll_alarm(at, cx),
            None => Poll::Pending,
        });
        debug_assert!(
            polled.is_some(),
            "a connection's sleep polled outside its connection"
        );
        polled.unwrap_or(Poll::Pending)
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        // The connection's deadline is free for hyper's next sleep.
        with_slot(|slot| slot.at = None);
    }
}

impl TimerSlot {
    /// Polls the connection's tokio sleep for the deadline `at`.
    fn poll_alarm(&mut self, at: tokio::time::Instant, cx: &mut Context<'_>) -> Poll<()> {
        let alarm = self.alarm.get_or_insert_with(|| Alarm {
            sleep: Box::pin(tokio::time::sleep_until(at)),
            waker: None,
        });
        if alarm.sleep.deadline() > at {
            alarm.sleep.as_mut().reset(at);
            alarm.waker = None;
        }
        // Due no later than `at` and set to wake this task: it will.
        if alarm
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
            && !alarm.sleep.is_elapsed()
        {
            return Poll::Pending;
        }
        loop {
            match alarm.sleep.as_mut().poll(cx) {
                Poll::Pending => {
                    alarm.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(()) if tokio::time::Instant::now() >= at => return Poll::Ready(()),
                // It fired for an earlier deadline: sleep on until this one.
                Poll::Ready(()) => alarm.sleep.as_mut().reset(at),
            }
        }
    }
}

/// A sleep of its own: one made outside its connection's poll, or while
/// the connection's deadline is taken.
struct Lone(Pin<Box<tokio::time::Sleep>>);

impl Sleep for Lone {}

impl Future for Lone {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A connection's slot, and the polls of its task.
    #[derive(Default)]
    struct Connection {
        slot: TimerSlot,
    }

    impl Connection {
        fn run<T>(&mut self, f: impl FnOnce() -> T) -> T {
            poll_with(&mut self.slot, f)
        }

        fn sleep(&mut self, duration: Duration) -> Pin<Box<dyn Sleep>> {
            self.run(|| ConnectionTimer.sleep(duration))
        }

        fn poll(&mut self, sleep: &mut Pin<Box<dyn Sleep>>, waker: &Waker) -> Poll<()> {
            self.run(|| sleep.as_mut().poll(&mut Context::from_waker(waker)))
        }

        async fn wait(&mut self, sleep: &mut Pin<Box<dyn Sleep>>) {
            std::future::poll_fn(|cx| self.poll(sleep, cx.waker())).await
        }
    }

    #[tokio::test]
    async fn a_sleep_waits_for_its_own_deadline_when_an_older_one_fires_first() {
        let mut connection = Connection::default();
        let mut first = connection.sleep(100 * MS);
        assert_eq!(connection.poll(&mut first, Waker::noop()), Poll::Pending);
        connection.run(|| drop(first));
        // The connection's sleep is armed for the first deadline.
        let started = Instant::now();
        let mut second = connection.sleep(400 * MS);
        connection.wait(&mut second).await;
        assert!(started.elapsed() >= 400 * MS, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn an_earlier_deadline_moves_the_sleep_forward() {
        let mut connection = Connection::default();
        let mut late = connection.sleep(Duration::from_secs(60));
        assert_eq!(connection.poll(&mut late, Waker::noop()), Poll::Pending);
        connection.run(|| drop(late));
        let started = Instant::now();
        let mut early = connection.sleep(200 * MS);
        let waited =
            tokio::time::timeout(Duration::from_secs(10), connection.wait(&mut early)).await;
        assert!(
            waited.is_ok(),
            "the earlier deadline did not wait for the later one"
        );
        assert!(started.elapsed() >= 200 * MS);
    }

    #[tokio::test]
    async fn reset_moves_a_deadline_later() {
        let mut connection = Connection::default();
        let started = Instant::now();
        let mut sleep = connection.sleep(100 * MS);
        assert_eq!(connection.poll(&mut sleep, Waker::noop()), Poll::Pending);
        connection.run(|| ConnectionTimer.reset(&mut sleep, Instant::now() + 400 * MS));
        connection.wait(&mut sleep).await;
        assert!(started.elapsed() >= 400 * MS, "{:?}", started.elapsed());
    }

    #[test]
    fn the_connections_sleep_is_an_empty_handle() {
        let mut connection = Connection::default();
        let mut sleep = connection.sleep(Duration::from_secs(60));
        assert!(sleep.as_mut().downcast_mut_pin::<Deadline>().is_some());
        assert_eq!(size_of::<Deadline>(), 0, "boxing it would allocate");
    }

    #[tokio::test]
    async fn a_second_sleep_or_one_made_outside_a_poll_keeps_its_own_deadline() {
        let mut connection = Connection::default();
        let mut held = connection.sleep(Duration::from_secs(60));
        assert_eq!(connection.poll(&mut held, Waker::noop()), Poll::Pending);
        let started = Instant::now();
        let mut second = connection.sleep(100 * MS);
        assert!(second.as_mut().downcast_mut_pin::<Lone>().is_some());
        connection.wait(&mut second).await;
        let outside = ConnectionTimer.sleep(100 * MS);
        let waited = tokio::time::timeout(Duration::from_secs(10), outside).await;
        assert!(waited.is_ok());
        assert!(started.elapsed() >= 200 * MS);
        // The held sleep still has its own deadline.
        assert_eq!(connection.poll(&mut held, Waker::noop()), Poll::Pending);
    }

    /// Counts its wakes.
    struct Counted(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counted {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn the_task_that_polled_last_is_the_one_woken() {
        let mut connection = Connection::default();
        let mut sleep = connection.sleep(100 * MS);
        let [first, second] = [(), ()].map(|()| std::sync::Arc::new(Counted(Default::default())));
        for counted in [&first, &second] {
            let waker = Waker::from(counted.clone());
            assert_eq!(connection.poll(&mut sleep, &waker), Poll::Pending);
        }
        tokio::time::sleep(300 * MS).await;
        let woken = |c: &Counted| c.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!((woken(&first), woken(&second)), (0, 1));
    }
}
