//! The timer behind hyper's header-read timeout, one per connection.
//!
//! hyper starts a fresh sleep each time it waits for a request head and drops
//! it when the head is in, so with tokio's own timer every keep-alive request
//! adds a timer entry and removes it again (a lock and a wheel update each
//! way). Here a connection keeps one tokio sleep. A new deadline is only
//! written down; the sleep is moved when it would fire too late for it, and
//! when it fires early (for an older deadline) the connection's task wakes
//! once, sees that its deadline is still ahead and sleeps on. Nor is the
//! sleep polled again while it is not due and holds the polling task's
//! waker. On a busy keep-alive connection that is one timer update per
//! timeout period instead of two per request, and a timeout still fires at
//! its deadline.

use hyper::rt::{Sleep, Timer};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A connection's timer (see the module documentation).
#[derive(Default)]
pub(crate) struct ConnectionTimer {
    armed: Arc<Armed>,
}

/// The connection's tokio sleep, once one was needed.
type Armed = Mutex<Option<Alarm>>;

/// The connection's tokio sleep, and the waker it last took: while it is
/// not due and that waker wakes the task polling, polling it again would
/// only register the same waker again (an atomic exchange each), so it is
/// left alone.
struct Alarm {
    sleep: Pin<Box<tokio::time::Sleep>>,
    waker: Option<Waker>,
}

impl Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(Deadline {
            at: tokio::time::Instant::from_std(deadline),
            armed: self.armed.clone(),
        })
    }

    fn now(&self) -> Instant {
        crate::clock::recent_instant()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Deadline>() {
            Some(deadline) => deadline.get_mut().at = tokio::time::Instant::from_std(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// One of hyper's sleeps: ready at `at`, woken by the connection's sleep.
struct Deadline {
    at: tokio::time::Instant,
    armed: Arc<Armed>,
}

impl Sleep for Deadline {}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let alarm = armed.get_or_insert_with(|| Alarm {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(sleep: &mut Pin<Box<dyn Sleep>>) -> Poll<()> {
        let waker = std::task::Waker::noop();
        sleep.as_mut().poll(&mut Context::from_waker(waker))
    }

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn a_sleep_waits_for_its_own_deadline_when_an_older_one_fires_first() {
        let timer = ConnectionTimer::default();
        let mut first = timer.sleep(100 * MS);
        assert_eq!(poll(&mut first), Poll::Pending);
        drop(first);
        // The connection's sleep is armed for the first deadline.
        let started = Instant::now();
        timer.sleep(400 * MS).await;
        assert!(started.elapsed() >= 400 * MS, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn an_earlier_deadline_moves_the_sleep_forward() {
        let timer = ConnectionTimer::default();
        let mut late = timer.sleep(Duration::from_secs(60));
        assert_eq!(poll(&mut late), Poll::Pending);
        let started = Instant::now();
        let early = tokio::time::timeout(Duration::from_secs(10), timer.sleep(200 * MS)).await;
        assert!(
            early.is_ok(),
            "the earlier deadline did not wait for the later one"
        );
        assert!(started.elapsed() >= 200 * MS);
    }

    #[tokio::test]
    async fn reset_moves_a_deadline_later() {
        let timer = ConnectionTimer::default();
        let started = Instant::now();
        let mut sleep = timer.sleep(100 * MS);
        assert_eq!(poll(&mut sleep), Poll::Pending);
        timer.reset(&mut sleep, timer.now() + 400 * MS);
        sleep.await;
        assert!(started.elapsed() >= 400 * MS, "{:?}", started.elapsed());
    }

    /// Counts its wakes.
    struct Counted(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counted {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn the_task_that_polled_last_is_the_one_woken() {
        let timer = ConnectionTimer::default();
        let mut sleep = timer.sleep(100 * MS);
        let [first, second] = [(), ()].map(|()| Arc::new(Counted(Default::default())));
        for counted in [&first, &second] {
            let waker = Waker::from(counted.clone());
            assert_eq!(
                sleep.as_mut().poll(&mut Context::from_waker(&waker)),
                Poll::Pending
            );
        }
        tokio::time::sleep(300 * MS).await;
        let woken = |c: &Counted| c.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!((woken(&first), woken(&second)), (0, 1));
    }
}
