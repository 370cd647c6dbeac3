//! How an answer goes out: whole, or cut short as a scenario's fault asks
//! (a reset, the end of a hang, a truncated body), through the response
//! body type hyper sends and the errors that make it close the connection.

use crate::api::response::HttpResponse;
use crate::scenario::Fault;
use bytes::Bytes;
use hyper::Response;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{CONTENT_LENGTH, HeaderValue};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The error that makes hyper close a connection without (the rest of) a
/// response, as a scenario's fault asks.
#[derive(Debug)]
pub(super) struct ScriptedFault(pub(super) &'static str);

impl std::fmt::Display for ScriptedFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "scenario fault: {}", self.0)
    }
}

impl std::error::Error for ScriptedFault {}

/// Answers, or fails the connection, as the scripted fault asks (after any
/// wait).
pub(super) fn finish(
    response: HttpResponse,
    fault: Option<Fault>,
) -> Result<Response<MockBody>, ScriptedFault> {
    match fault {
        None => Ok(response.map(MockBody::Complete)),
        Some(Fault::Reset) => Err(ScriptedFault("reset")),
        Some(Fault::Hang) => Err(ScriptedFault("hang ended")),
        Some(Fault::Truncated) => {
            let (mut parts, body) = response.into_parts();
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            let half = body.slice(..body.len() / 2);
            let truncated = MockBody::Truncated {
                part: Some(half),
                // A pause before the error lets hyper flush what it has.
                pause: Box::pin(tokio::time::sleep(TRUNCATION_PAUSE)),
            };
            Ok(Response::from_parts(parts, truncated))
        }
    }
}

/// How long a truncated response waits between its part and the failure.
const TRUNCATION_PAUSE: Duration = Duration::from_millis(20);

/// A response body: all of it, or (for the `truncated` fault) a part
/// followed by an error, which makes hyper close the connection early.
#[derive(Debug)]
pub(super) enum MockBody {
    /// The whole body, taken when sent.
    Complete(Bytes),
    /// Part of a body, then a pause (so the part is flushed), then an error.
    Truncated {
        /// The part to send, taken when sent.
        part: Option<Bytes>,
        /// Runs out when the error is due.
        pause: Pin<Box<tokio::time::Sleep>>,
    },
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = ScriptedFaultError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            MockBody::Complete(bytes) if bytes.is_empty() => Poll::Ready(None),
            MockBody::Complete(bytes) => Poll::Ready(Some(Ok(Frame::data(std::mem::take(bytes))))),
            MockBody::Truncated { part, pause } => match part.take() {
                Some(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
                None => pause
                    .as_mut()
                    .poll(cx)
                    .map(|()| Some(Err(ScriptedFaultError))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, MockBody::Complete(bytes) if bytes.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Complete(bytes) => SizeHint::with_exact(bytes.len() as u64),
            MockBody::Truncated { .. } => SizeHint::default(),
        }
    }
}

/// The error a truncated body ends with.
#[derive(Debug)]
pub(super) struct ScriptedFaultError;

impl std::fmt::Display for ScriptedFaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response truncated by a scenario")
    }
}

impl std::error::Error for ScriptedFaultError {}
