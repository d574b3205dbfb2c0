//! Login through the session (`login`, `logout`, `SessionAuth`),
//! `RequireLogin` and the `next` validator, in-process through
//! `TestClient`.

mod support;

mod login;
mod next;
mod require_login;
mod session_auth;
