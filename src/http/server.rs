//! Where hyper serves connections: binding, the accept loop, each
//! connection's header timeout, reading bodies within the limit, scripted
//! waits, and graceful shutdown. How an answer goes out whole or cut by a
//! fault is in `fault`; the in-process handle Rust tests hold is in `handle`.

use super::fault::{MockBody, ScriptedFault, finish};
use super::handle::MockServer;
use super::{Answer, respond};
use crate::api::body::RequestBody;
use crate::clock::{Clock, SystemClock};
use crate::error::StartError;
use crate::profile::Profile;
use crate::scenario::Fault;
use crate::settings::Settings;
use crate::state::{ControlAccess, State};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long in-flight requests may take to finish after shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How many header lines hyper parses by default (without allocating).
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

/// How often scenario files are checked for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_millis(250);

/// Configures and starts a mock server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use persona_mock::MockServer;
///
/// let server = MockServer::builder().seed(7).start().await?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// // Point the client under test at server.url(); dropping `server` stops it.
/// # Ok(())
/// # }
/// ```
pub struct MockServerBuilder {
    /// Behaviour settings (defaults, or a config file's).
    settings: Settings,
    /// Address to bind.
    host: String,
    /// Port to bind; 0 picks a free one.
    port: u16,
    /// Time for the rate limiter.
    clock: Arc<dyn Clock>,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            settings: Settings::default(),
            host: "127.0.0.1".into(),
            port: 0,
            clock: Arc::new(SystemClock::new()),
        }
    }
}

impl MockServerBuilder {
    /// Replaces all settings, e.g. with [`Settings::from_file`]'s.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Makes keys, redemption contexts and request ids deterministic.
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = Some(seed);
        self
    }

    /// Chooses the wire profile.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.settings.profile = profile;
        self
    }

    /// The address to bind (default `127.0.0.1`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to bind (default 0: a free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The clock the rate limiter reads, e.g. a
    /// [`ManualClock`](crate::clock::ManualClock) to test window resets
    /// without sleeping.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Validates the settings, builds the state and binds the socket;
    /// serving starts with [`BoundServer::serve`].
    pub async fn bind(self) -> Result<BoundServer, StartError> {
        let mut app = State::new(&self.settings, self.clock)?;
        let bind_error = |source| StartError::Bind {
            address: format!("{}:{}", self.host, self.port),
            source,
        };
        let listener = TcpListener::bind((self.host.as_str(), self.port))
            .await
            .map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        app.set_cors_for_address(address);
        app.set_control_access(ControlAccess::for_address(
            self.settings.control_token.as_deref(),
            address,
        ));
        let app = Arc::new(app);
        Ok(BoundServer {
            listener,
            app,
            address,
        })
    }

    /// Binds and serves in the background until the handle is dropped.
    pub async fn start(self) -> Result<MockServer, StartError> {
        let bound = self.bind().await?;
        let address = bound.local_addr();
        let app = bound.app.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(async {
            let _ = stopped.await;
        }));
        Ok(MockServer {
            address,
            app,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A bound server that is not serving yet: its address is known, so it can
/// be announced before the first request can arrive.
pub struct BoundServer {
    /// The listening socket.
    listener: TcpListener,
    /// The shared state.
    app: Arc<State>,
    /// The address actually bound.
    address: SocketAddr,
}

impl BoundServer {
    /// The address actually bound (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The base URL, e.g. `http://127.0.0.1:9577`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves until `shutdown` completes, then lets in-flight requests
    /// finish (for at most 10 s).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let BoundServer { listener, app, .. } = self;
        // Generated keys are made on first use; make them all now, off the
        // request path, so first requests rarely wait.
        let warm = app.clone();
        std::thread::spawn(move || warm.warm());
        let reloader = app.watches_scenario_files().then(|| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(RELOAD_INTERVAL);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    // Reading and parsing files blocks: keep it off the
                    // runtime's workers.
                    let app = app.clone();
                    let _ = tokio::task::spawn_blocking(move || app.reload_scenarios()).await;
                }
            })
        });
        // Tells connections to finish their request and close, and requests
        // that wait on a scripted fault to give up, when shutdown starts.
        let (stopping, _) = tokio::sync::watch::channel(false);
        let limits = app.limits();
        let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
        let served = Arc::new(Served {
            app: app.clone(),
            stopping,
            slots: slots.clone(),
            waiting: Arc::new(tokio::sync::Semaphore::new(limits.max_connections)),
        });
        let mut shutdown = std::pin::pin!(shutdown);
        let mut http = http1::Builder::new();
        // The time a client has to send a request's head is kept by the
        // connection's task (see `spawn_connection`), not by hyper.
        http.header_read_timeout(None)
            // A response's head and body go out in one buffer and one write:
            // bodies are small (a challenge is under 400 bytes), and one
            // contiguous send costs the kernel less than a vectored one.
            .writev(false)
            // persona-mock answers heads over its limits with a Persona-shaped
            // 431; hyper's own (empty-bodied) 431 is a backstop above them.
            .max_buf_size((limits.max_header_bytes * 2).max(16 * 1024));
        // hyper parses up to 100 headers on the stack; a larger backstop makes
        // it allocate for every request, so it is raised only when needed.
        if limits.max_headers + 36 > HYPER_DEFAULT_MAX_HEADERS {
            http.max_headers(limits.max_headers * 2);
        }
        let connect = |stream: tokio::net::TcpStream, peer: SocketAddr, slot| {
            spawn_connection(
                &http,
                &served,
                stream,
                peer,
                slot,
                limits.header_read_timeout,
            );
        };
        loop {
            // Past max-connections, new connections wait in the listen queue.
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                _ = &mut shutdown => break,
            };
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => connect(stream, peer, slot),
                    Err(error) => {
                        // Out of file descriptors and the like: back off briefly.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
                _ = &mut shutdown => break,
            }
        }
        // Connections the kernel completed before shutdown are in the listen
        // queue: they are served too (within the connection cap), not reset.
        while let Ok(slot) = slots.clone().try_acquire_owned() {
            let next = std::future::poll_fn(|cx| Poll::Ready(listener.poll_accept(cx))).await;
            match next {
                Poll::Ready(Ok((stream, peer))) => connect(stream, peer, slot),
                _ => break,
            }
        }
        drop(listener);
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        served.stopping.send_replace(true);
        let every_slot = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
        let every_place = async {
            let _ = slots.acquire_many(every_slot).await;
            let _ = served.waiting.acquire_many(every_slot).await;
        };
        tokio::select! {
            _ = every_place => {}
            _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!("in-flight requests did not finish within {SHUTDOWN_GRACE:?}; closing them");
            }
        }
    }
}

/// How long a connection that has not sent a request yet when shutdown
/// starts may take to send one (it was accepted: its request is answered).
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// Serves one accepted connection on a task of its own.
///
/// A client has `head_timeout` to send a request's head: the connection is
/// closed once it has been that long since it opened or since its last
/// answer was made, with no request begun. (One sleep per connection, moved
/// when it runs out, keeps that time; hyper's own header timeout makes and
/// registers a sleep for every request head, which cost 2.4-4.5% more of
/// the server's CPU per challenge in paired rounds: BENCHMARKS.md.)
///
/// Once shutdown starts, a connection that has begun a request finishes it
/// and closes; one that has not gets [`FIRST_REQUEST_GRACE`] to send its
/// first.
fn spawn_connection(
    http: &http1::Builder,
    served: &Arc<Served>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: tokio::sync::OwnedSemaphorePermit,
    head_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    // The slot is held until the connection ends (or while its request
    // waits on a scripted fault): shutdown waits for every slot.
    let place = Arc::new(Place::new(slot));
    let service = {
        let (served, place) = (served.clone(), place.clone());
        service_fn(move |request| answer(served.clone(), place.clone(), request))
    };
    let connection = http.clone().serve_connection(TokioIo::new(stream), service);
    let mut stopping = served.stopping.subscribe();
    tokio::spawn(async move {
        let stop = async move {
            let _ = stopping.wait_for(|stopped| *stopped).await;
        };
        let mut stop = std::pin::pin!(stop);
        let mut connection = std::pin::pin!(connection);
        let mut head_due = std::pin::pin!(tokio::time::sleep(head_timeout));
        let mut stopped = false;
        let mut shut = false;
        let mut grace: Option<Pin<Box<tokio::time::Sleep>>> = None;
        let ended = std::future::poll_fn(|cx| {
            while head_due.as_mut().poll(cx).is_ready() {
                match place.head_due(head_timeout) {
                    Some(due) if due <= tokio::time::Instant::now() => {
                        tracing::debug!(%peer, "no request head within the header read timeout");
                        return Poll::Ready(Ok(()));
                    }
                    Some(due) => head_due.as_mut().reset(due),
                    None => head_due
                        .as_mut()
                        .reset(tokio::time::Instant::now() + head_timeout),
                }
            }
            if !stopped && stop.as_mut().poll(cx).is_ready() {
                stopped = true;
            }
            if stopped && !shut {
                let waited = grace
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(FIRST_REQUEST_GRACE)))
                    .as_mut()
                    .poll(cx)
                    .is_ready();
                if waited || place.has_requests() {
                    shut = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            connection.as_mut().poll(cx)
        })
        .await;
        if let Err(error) = ended {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    });
}

/// What the requests of a server share.
struct Served {
    app: Arc<State>,
    /// Becomes true when shutdown starts.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The connections' places (`max-connections` of them).
    slots: Arc<tokio::sync::Semaphore>,
    /// Places for requests waiting on a scripted `hang` or `delay`, which
    /// give their connection's place back while they wait
    /// (`max-connections` of them too).
    waiting: Arc<tokio::sync::Semaphore>,
}

/// A connection's place among the `max-connections` (while it has one),
/// whether it has begun a request, and since when it has been waiting for
/// one.
struct Place {
    slot: std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
    requests: AtomicBool,
    /// When the connection opened.
    opened: tokio::time::Instant,
    /// Nanoseconds from `opened` to the last answer (0 before the first),
    /// or [`ANSWERING`] while a request is being answered.
    waiting_since: AtomicU64,
}

/// [`Place::waiting_since`] while a request is being answered.
const ANSWERING: u64 = u64::MAX;

impl Place {
    fn new(slot: tokio::sync::OwnedSemaphorePermit) -> Place {
        Place {
            slot: std::sync::Mutex::new(Some(slot)),
            requests: AtomicBool::new(false),
            opened: tokio::time::Instant::now(),
            waiting_since: AtomicU64::new(0),
        }
    }

    /// Marks a request as being answered until the returned guard drops.
    fn answering(&self) -> Answering<'_> {
        self.requests.store(true, Ordering::Relaxed);
        self.waiting_since.store(ANSWERING, Ordering::Relaxed);
        Answering(self)
    }

    /// When the client's time to send a request head runs out (`head_timeout`
    /// after the connection opened or its last answer was made); `None`
    /// while a request is being answered.
    fn head_due(&self, head_timeout: Duration) -> Option<tokio::time::Instant> {
        match self.waiting_since.load(Ordering::Relaxed) {
            ANSWERING => None,
            since => Some(self.opened + Duration::from_nanos(since) + head_timeout),
        }
    }

    fn take(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn put(&self, permit: tokio::sync::OwnedSemaphorePermit) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(permit);
    }

    fn has_requests(&self) -> bool {
        self.requests.load(Ordering::Relaxed)
    }
}

/// A request being answered on a connection; the connection's wait for its
/// next request head starts when this drops.
struct Answering<'a>(&'a Place);

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        let since = u64::try_from(self.0.opened.elapsed().as_nanos()).unwrap_or(ANSWERING - 1);
        self.0.waiting_since.store(since, Ordering::Relaxed);
    }
}

/// Reads the body within the limit, lets the app answer, then carries out a
/// scripted delay or fault. Only a fault returns `Err` (hyper then closes
/// the connection); every other failure is a response.
async fn answer(
    served: Arc<Served>,
    place: Arc<Place>,
    request: Request<Incoming>,
) -> Result<Response<MockBody>, ScriptedFault> {
    let app = &served.app;
    let _answering = place.answering();
    let (parts, body) = request.into_parts();
    let limit = app.max_body_bytes();
    let body = read_body(body, limit, app.limits().body_read_timeout).await;
    let Answer {
        response,
        delay,
        fault,
    } = if app.keys.all_made() || !needs_keys(parts.uri.path()) {
        respond(app, &parts, body)
    } else {
        // Issuer keys are still being made (an RSA key takes 50-150 ms): a
        // request that needs one waits for it on the blocking pool, so the
        // runtime's workers go on accepting and answering everything else.
        let app = app.clone();
        tokio::task::spawn_blocking(move || respond(&app, &parts, body))
            .await
            .unwrap_or_else(|_| Answer {
                response: crate::api::response::error_response(&super::failed()),
                delay: None,
                fault: None,
            })
    };
    if delay.is_none() && fault.is_none() {
        // The usual answer: the response is not kept across an await, so it
        // is not moved into this future's state first.
        return Ok(response.map(MockBody::Complete));
    }
    scripted(response, delay, fault, &served, &place).await
}

/// Whether answering a request may need an issuer key: every API request
/// and `GET /__mock/keys`; not the rest of the control API (health above
/// all) or the hosted page.
fn needs_keys(path: &str) -> bool {
    path == "/__mock/keys"
        || !(super::router::is_control_path(path) || super::router::site_row(path).is_some())
}

/// Carries out a scripted delay, then answers or fails the connection as
/// the scripted fault asks. A request that waits (a delay or a hang) gives
/// its connection's place back meanwhile and takes one of the places for
/// waiting requests; it waits at most `max-fault-s`, and not past the start
/// of shutdown. With every waiting place taken, it does not wait: a delay
/// is answered at once, a hang closes the connection at once.
async fn scripted(
    mut response: crate::api::response::HttpResponse,
    delay: Option<std::time::Duration>,
    fault: Option<Fault>,
    served: &Served,
    place: &Place,
) -> Result<Response<MockBody>, ScriptedFault> {
    let hang = fault == Some(Fault::Hang);
    if delay.is_some() || hang {
        let Ok(_waiting) = served.waiting.clone().try_acquire_owned() else {
            return match fault {
                Some(Fault::Hang) => Err(ScriptedFault("hang cut: every waiting place is taken")),
                _ => finish(response, fault),
            };
        };
        drop(place.take());
        let limit = served.app.limits().max_fault;
        // A hang waits until the limit; a delay as long as it asks, within it.
        let wait = if hang {
            limit
        } else {
            delay.unwrap_or_default().min(limit)
        };
        let stopped = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = stopped(&served.stopping) => true,
        };
        if hang {
            return Err(ScriptedFault(if stopped {
                "hang ended by shutdown"
            } else {
                "hang ended at max-fault-s"
            }));
        }
        // The connection goes on only if it gets a place again.
        match served.slots.clone().try_acquire_owned() {
            Ok(permit) if !stopped => place.put(permit),
            _ => {
                response
                    .headers_mut()
                    .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            }
        }
    }
    finish(response, fault)
}

/// Ready once shutdown has started.
async fn stopped(stopping: &tokio::sync::watch::Sender<bool>) {
    let _ = stopping.subscribe().wait_for(|stopped| *stopped).await;
}

/// Reads a request body of at most `limit` bytes within `timeout`. A
/// declared length over the limit is refused before any body is read.
async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> RequestBody {
    if body.size_hint().lower() > limit as u64 {
        return RequestBody::TooLarge;
    }
    match tokio::time::timeout(timeout, http_body_util::Limited::new(body, limit).collect()).await {
        Err(_) => RequestBody::TimedOut,
        Ok(Ok(collected)) => RequestBody::Complete(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => RequestBody::TooLarge,
        Ok(Err(error)) => RequestBody::Unreadable(error.to_string()),
    }
}
