//! `BasicAuth` and `BearerAuth`, in-process through `TestClient`: the
//! parsing corpora with the status each input gets, the challenges byte
//! for byte, and the identity the application sees.

mod basic;
mod bearer;

use gateway_core::{Environ, Error, Response, start};
use gateway_middleware::auth::Identity;

/// The application behind the middleware: answers `id via` of the
/// request's identity (or `anonymous`, which must never happen behind
/// them).
async fn whoami(env: Environ) -> Result<Response, Error> {
    let body = match Identity::of(&env) {
        Some(identity) => format!("{} {:?}", identity.id(), identity.via()),
        None => "anonymous".to_owned(),
    };
    start(200, [("content-type", "text/plain")]).body(body)
}
