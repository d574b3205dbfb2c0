//! [`AuthFuture`]: the future of an auth middleware whose common case is
//! decided before any `await` — the application's own future straight
//! away, or a refusal — with the rare path (a verifier, a session load)
//! boxed, so that its state does not grow every request's future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use gateway_core::{Error, Response};

/// The rare path's future, boxed.
pub(super) type Slow<'a> = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + 'a>>;

pin_project_lite::pin_project! {
    /// The application's future, the boxed slow path, or an answer made
    /// already.
    #[project = AuthProj]
    pub(super) enum AuthFuture<App, Slow> {
        App { #[pin] future: App },
        Slow { #[pin] future: Slow },
        Done { result: Option<Result<Response, Error>> },
    }
}

impl<App, S> Future for AuthFuture<App, S>
where
    App: Future<Output = Result<Response, Error>>,
    S: Future<Output = Result<Response, Error>>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AuthProj::App { future } => future.poll(cx),
            AuthProj::Slow { future } => future.poll(cx),
            AuthProj::Done { result } => match result.take() {
                Some(result) => Poll::Ready(result),
                None => panic!("an auth middleware's future polled after it completed"),
            },
        }
    }
}
