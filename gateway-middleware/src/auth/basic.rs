//! [`BasicAuth`]: HTTP Basic authentication (RFC 7617), with an async
//! [`BasicVerifier`] and constant-time [`StaticCredentials`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{ApplicationExt, Environ, fn_app, start};
//! use gateway_middleware::auth::{BasicAuth, Identity};
//!
//! let app = fn_app(|env: Environ| async move {
//!     let user = Identity::of(&env).expect("BasicAuth verified it").id().to_owned();
//!     start(200, [("content-type", "text/plain")]).body(format!("hello {user}"))
//! })
//! .with(BasicAuth::single("admin area", "ada", "correct horse"));
//!
//! let client = TestClient::new(app);
//! let res = client.get("/").send().await;
//! assert_eq!(res.status(), 401);
//! assert_eq!(
//!     res.header("www-authenticate"),
//!     Some(r#"Basic realm="admin area", charset="UTF-8""#),
//! );
//! // base64("ada:correct horse")
//! let res = client.get("/").header("authorization", "Basic YWRhOmNvcnJlY3QgaG9yc2U=").send().await;
//! assert_eq!(res.text(), "hello ada");
//! # });
//! ```

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use gateway_core::{Application, Environ, Error, Middleware, Response};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, StatusCode};
use subtle::ConstantTimeEq;

use super::future::AuthFuture;
use super::header::{self, Credentials};
use super::{Identity, User, Via};

/// The longest `Authorization: Basic` token read (base64 characters,
/// 3072 bytes decoded); a longer one is refused like wrong credentials.
pub const MAX_BASIC_TOKEN: usize = 4096;

/// Decoded credentials up to this many bytes are decoded on the stack.
const STACK_CREDENTIALS: usize = 256;

/// Checks a Basic user-id and password: against a database, a password
/// hash, a static pair ([`StaticCredentials`]).
///
/// Closures implement it: `Fn(&str, &str) -> impl Future<Output =
/// Option<U>>` for any [`User`] type `U`. The future cannot borrow the
/// two strings (copy what it needs, or check them before it starts);
/// implement the trait on a type of your own for a future that borrows
/// them.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, Environ, fn_app, start};
/// use gateway_middleware::auth::{BasicAuth, Identity};
///
/// let verifier = |user: &str, password: &str| {
///     // Look the user up and check the password hash here; return the
///     // user value the application gets in its `Identity`.
///     let ok = user == "ada" && password == "pw";
///     let user = user.to_owned();
///     async move { ok.then_some(user) }
/// };
/// let app = fn_app(|env: Environ| async move {
///     start(200, [("content-type", "text/plain")]).body(Identity::of(&env).unwrap().id().to_owned())
/// })
/// .with(BasicAuth::new("api", verifier));
///
/// let client = TestClient::new(app);
/// // base64("ada:pw")
/// let res = client.get("/").header("authorization", "Basic YWRhOnB3").send().await;
/// assert_eq!(res.text(), "ada");
/// # });
/// ```
///
/// A verifier that looks users up should take the same time whether the
/// user exists or not (check the password against a dummy hash for an
/// unknown user), so that response times do not tell which user names
/// exist; and compare secrets in constant time.
pub trait BasicVerifier: Send + Sync + 'static {
    /// The verified user, which becomes the request's [`Identity`].
    type User: User;

    /// The user with this user-id and password, or `None` to refuse
    /// them. `user` and `password` are the decoded credentials, valid
    /// UTF-8 without control characters, as sent (not normalised);
    /// `user` has no colon, `password` may; either may be empty.
    fn verify(
        &self,
        user: &str,
        password: &str,
    ) -> impl Future<Output = Option<Arc<Self::User>>> + Send;
}

impl<F, Fut, U> BasicVerifier for F
where
    F: Fn(&str, &str) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<U>> + Send,
    U: User,
{
    type User = U;

    fn verify(&self, user: &str, password: &str) -> impl Future<Output = Option<Arc<U>>> + Send {
        let verified = self(user, password);
        async move { verified.await.map(Arc::new) }
    }
}

/// One user-id and password, checked in constant time: the verifier of
/// [`BasicAuth::single`], also usable alone (in a verifier of your own
/// with several static users).
///
/// ```
/// use gateway_middleware::auth::StaticCredentials;
///
/// let admin = StaticCredentials::new("admin", "s3cret:with:colons");
/// assert!(admin.matches("admin", "s3cret:with:colons"));
/// assert!(!admin.matches("admin", "s3cret"));
/// assert!(!admin.matches("Admin", "s3cret:with:colons"));
/// assert_eq!(format!("{admin:?}"), r#"StaticCredentials { user: "admin", .. }"#);
/// ```
///
/// The password is not kept: only a 16-byte tag of the pair, SipHash-2-4
/// (a keyed pseudorandom function made for short inputs) under a random
/// key drawn when the credentials are made, over the user-id's length,
/// the user-id and the password. A check computes the given pair's tag,
/// whose time depends only on the given lengths, and compares the two tags
/// with [`subtle`]'s constant-time equality: user-id and password are
/// always checked together (no early exit on a wrong user-id), so neither
/// which part was wrong, nor how much of it, nor the lengths of the
/// expected values show in the time taken. (SHA-256 digests of both would
/// do the same at about ten times the cost: measured under callgrind, two
/// SHA-256 took some 6,600 instructions a request, the whole check with
/// SipHash about 500.) The verified user is the user-id as a `String`,
/// shared by every request (no copy per request).
///
/// Behind [`BasicAuth::single`] the check is cheaper still: the
/// `Authorization` token as sent is compared, undecoded, with the tag of
/// the pair's one canonical base64 encoding (under the same key, in
/// constant time), and every request shares one [`Identity`].
#[derive(Clone)]
pub struct StaticCredentials {
    user: Arc<String>,
    key: (u64, u64),
    tag: u128,
    /// The tag of the one canonical `Authorization: Basic` token of the
    /// pair, under the same key: [`BasicAuth`] compares the token as sent
    /// without decoding it (an encoding that is not canonical is refused
    /// either way, by the strict decoder).
    token_tag: u64,
    /// The identity of every request these credentials let through, made
    /// once.
    identity: Arc<Identity>,
}

impl StaticCredentials {
    /// The pair `user`, `password`.
    ///
    /// # Panics
    ///
    /// If `user` contains a colon (a Basic user-id ends at the first
    /// colon, so it could never match) or either contains a control
    /// character (RFC 7617 §2 forbids them; they are refused on input).
    pub fn new(user: &str, password: &str) -> StaticCredentials {
        assert!(
            !user.contains(':'),
            "a Basic user-id cannot contain a colon"
        );
        assert!(
            !has_control(user) && !has_control(password),
            "Basic credentials cannot contain control characters"
        );
        let key = (
            u64::from_le_bytes(crate::sessions::id::random()),
            u64::from_le_bytes(crate::sessions::id::random()),
        );
        let token = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        };
        let tag = tag(key, user, password);
        let user = Arc::new(user.to_owned());
        StaticCredentials {
            identity: Arc::new(Identity::from_arc(Arc::clone(&user), Via::Basic)),
            user,
            key,
            tag,
            token_tag: token_tag(key, token.as_bytes()),
        }
    }

    /// Whether `token`, an `Authorization: Basic` token as sent, encodes
    /// these credentials: its tag against the expected token's, in
    /// constant time.
    fn matches_token(&self, token: &[u8]) -> bool {
        bool::from(token_tag(self.key, token).ct_eq(&self.token_tag))
    }

    /// Whether `user` and `password` are these credentials, in constant
    /// time (see the type's docs).
    pub fn matches(&self, user: &str, password: &str) -> bool {
        bool::from(tag(self.key, user, password).ct_eq(&self.tag))
    }

    /// The user-id.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl BasicVerifier for StaticCredentials {
    type User = String;

    fn verify(
        &self,
        user: &str,
        password: &str,
    ) -> impl Future<Output = Option<Arc<String>>> + Send {
        let verified = self.matches(user, password).then(|| Arc::clone(&self.user));
        std::future::ready(verified)
    }
}

/// The pair's tag: the user-id's length first, so that no other split of
/// the same bytes (`"ab"`, `"c"` against `"a"`, `"bc"`) gives the same
/// input.
fn tag(key: (u64, u64), user: &str, password: &str) -> u128 {
    let len = (user.len() as u64).to_le_bytes();
    siphash(key, &[&len, user.as_bytes(), password.as_bytes()])
}

/// The 64-bit SipHash-2-4 of an `Authorization: Basic` token under `key`:
/// half the finalisation of the 128-bit tag, and still a one in 2^64
/// chance for a wrong token to pass (each try is a request).
fn token_tag(key: (u64, u64), token: &[u8]) -> u64 {
    use siphasher::sip::SipHasher24;
    use std::hash::Hasher;
    let mut mac = SipHasher24::new_with_keys(key.0, key.1);
    mac.write(token);
    mac.finish()
}

/// SipHash-2-4-128 of `parts`, one after the other, under `key`.
fn siphash(key: (u64, u64), parts: &[&[u8]]) -> u128 {
    use siphasher::sip128::{Hasher128, SipHasher24};
    use std::hash::Hasher;
    let mut mac = SipHasher24::new_with_keys(key.0, key.1);
    for part in parts {
        mac.write(part);
    }
    mac.finish128().as_u128()
}

/// RFC 5234 `CTL`: `%x00-1F / %x7F`.
fn has_control(value: &str) -> bool {
    value.bytes().any(|b| b.is_ascii_control())
}

/// HTTP Basic authentication (RFC 7617): a request passes only with an
/// `Authorization: Basic` that the [`BasicVerifier`] accepts; the verified
/// user goes into the environ as an [`Identity`] (via [`Via::Basic`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::auth::BasicAuth;
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("in") })
///     .with(BasicAuth::single("ops", "ada", "pw"));
/// let client = TestClient::new(app);
/// // The scheme is case-insensitive; base64("ada:pw").
/// let res = client.get("/").header("authorization", "basic   YWRhOnB3").send().await;
/// assert_eq!(res.status(), 200);
/// // base64("ada:wrong")
/// let res = client.get("/").header("authorization", "Basic YWRhOndyb25n").send().await;
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.header("www-authenticate"), Some(r#"Basic realm="ops", charset="UTF-8""#));
/// # });
/// ```
///
/// # What is accepted
///
/// - Exactly one `Authorization` field line. A request with several is
///   malformed (RFC 9110 §5.3: it is not a list field) and gets
///   `400 Bad Request`, without a challenge.
/// - The scheme `Basic` in any case, one or more spaces (not tabs), then
///   the token; whitespace around the field value is ignored.
/// - The token: base64 with the standard alphabet and the padding
///   (RFC 4648 §4), strictly — no missing or extra `=`, no non-zero
///   trailing bits, no whitespace, at most [`MAX_BASIC_TOKEN`] characters.
/// - Decoded: `user-id ":" password`, split at the *first* colon (the
///   password may contain colons), both UTF-8 with no control character
///   (`%x00-1F`, `%x7F`). The bytes are never read as Latin-1, which would
///   let one user name be spelled two ways; nor normalised (RFC 7617 asks
///   clients to send NFC).
///
/// Anything else — no `Authorization`, another scheme, `Basic` alone, bad
/// base64, no colon, non-UTF-8, control characters, a verifier that says
/// no — gets `401 Unauthorized` with the challenge
/// `WWW-Authenticate: Basic realm="<realm>", charset="UTF-8"`, never a
/// 500. The 401 and 400 are [`Error`]s (rendered by the driver, or by a
/// [`HandleErrors`](gateway_core::HandleErrors) of the application's),
/// whose text never includes the credentials; nothing is logged.
///
/// # Cost
///
/// For [`BasicAuth::single`], an accepted request allocates nothing (the
/// [`Identity`] is shared) and costs one SipHash-2-4 of the token as sent
/// and no `await`: BENCHMARKS.md has the figure against hello alone. With
/// a verifier of your own, the token is decoded (on the stack up to 256
/// bytes), checked for UTF-8 and control characters and split at the
/// first colon, and the verified user goes into a new [`Identity`].
pub struct BasicAuth<V> {
    inner: Arc<BasicInner<V>>,
}

struct BasicInner<V> {
    realm: String,
    challenge: HeaderValue,
    verifier: V,
}

impl<V: BasicVerifier> BasicAuth<V> {
    /// Basic authentication for `realm` (shown to the user by browsers),
    /// the credentials checked by `verifier`.
    ///
    /// # Panics
    ///
    /// If `realm` contains a control character (`%x00-1F`, `%x7F`).
    /// Quotes and backslashes are escaped in the challenge.
    pub fn new(realm: &str, verifier: V) -> BasicAuth<V> {
        let challenge = match header::quoted(realm) {
            Some(quoted) => format!("Basic realm={quoted}, charset=\"UTF-8\""),
            None => panic!("invalid Basic realm {realm:?}: control characters are not allowed"),
        };
        let challenge = match HeaderValue::from_str(&challenge) {
            Ok(value) => value,
            Err(_) => panic!("invalid Basic realm {realm:?}"),
        };
        BasicAuth {
            inner: Arc::new(BasicInner {
                realm: realm.to_owned(),
                challenge,
                verifier,
            }),
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// The verifier.
    pub fn verifier(&self) -> &V {
        &self.inner.verifier
    }
}

impl BasicAuth<StaticCredentials> {
    /// Basic authentication for `realm` with one static user-id and
    /// password, checked in constant time ([`StaticCredentials`]). The
    /// application's [`Identity`] holds the user-id as a `String`.
    ///
    /// # Panics
    ///
    /// As [`BasicAuth::new`] and [`StaticCredentials::new`].
    pub fn single(realm: &str, user: &str, password: &str) -> BasicAuth<StaticCredentials> {
        BasicAuth::new(realm, StaticCredentials::new(user, password))
    }
}

impl<V> Clone for BasicAuth<V> {
    fn clone(&self) -> Self {
        BasicAuth {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<V> fmt::Debug for BasicAuth<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("realm", &self.inner.realm)
            .finish_non_exhaustive()
    }
}

impl<A: Application, V: BasicVerifier> Middleware<A> for BasicAuth<V> {
    type Output = BasicAuthApp<A, V>;

    fn wrap(&self, app: A) -> BasicAuthApp<A, V> {
        BasicAuthApp {
            app,
            inner: Arc::clone(&self.inner),
        }
    }
}

/// An application behind [`BasicAuth`].
///
/// ```
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::auth::{BasicAuth, BasicAuthApp, StaticCredentials};
///
/// let hello = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let app: BasicAuthApp<_, StaticCredentials> = hello.with(BasicAuth::single("r", "u", "p"));
/// # let _ = app;
/// ```
pub struct BasicAuthApp<A, V> {
    app: A,
    inner: Arc<BasicInner<V>>,
}

impl<A: fmt::Debug, V> fmt::Debug for BasicAuthApp<A, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuthApp")
            .field("app", &self.app)
            .field("realm", &self.inner.realm)
            .finish_non_exhaustive()
    }
}

impl<A: Application, V: BasicVerifier> Application for BasicAuthApp<A, V> {
    #[inline]
    fn call(&self, mut env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        // One fixed pair (`BasicAuth::single`): the token as sent is
        // compared, undecoded, with no await and a shared identity (the
        // type check is resolved at compile time).
        if let Some(fixed) = (&self.inner.verifier as &dyn Any).downcast_ref::<StaticCredentials>()
        {
            let verified = match header::credentials(env.headers(), "Basic") {
                Credentials::Token(token) => fixed.matches_token(token),
                Credentials::Several => {
                    return AuthFuture::Done {
                        result: Some(Err(several())),
                    };
                }
                Credentials::Absent | Credentials::Malformed => false,
            };
            if !verified {
                return AuthFuture::Done {
                    result: Some(Err(self.unauthorized())),
                };
            }
            // What `Identity::insert` does, without a new `Arc`: an
            // access log outside names the user.
            #[cfg(feature = "access-log")]
            if let Some(notes) = crate::notes::Notes::of(&env) {
                notes.set_user(fixed.identity.id());
            }
            env.locals_mut().insert(Arc::clone(&fixed.identity));
            return AuthFuture::App {
                future: self.app.call(env),
            };
        }
        // Boxed: its state (the environ, the decoding buffer) would
        // otherwise grow every move of this future, on the static path too.
        AuthFuture::Slow {
            future: Box::pin(async move {
                let token = match header::credentials(env.headers(), "Basic") {
                    Credentials::Token(token) => token,
                    Credentials::Several => return Err(several()),
                    Credentials::Absent | Credentials::Malformed => {
                        return Err(self.unauthorized());
                    }
                };
                let mut stack = [0u8; STACK_CREDENTIALS];
                let mut heap = Vec::new();
                let Some(decoded) = decode(token, &mut stack, &mut heap) else {
                    return Err(self.unauthorized());
                };
                let Some((user, password)) = split(decoded) else {
                    return Err(self.unauthorized());
                };
                let Some(verified) = self.inner.verifier.verify(user, password).await else {
                    return Err(self.unauthorized());
                };
                Identity::from_arc(verified, Via::Basic).insert(&mut env);
                self.app.call(env).await
            }),
        }
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.app.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.app.shutdown()
    }
}

/// The 400 for a request with more than one `Authorization` field.
fn several() -> Error {
    Error::with_status(StatusCode::BAD_REQUEST, "several Authorization fields")
}

impl<A, V> BasicAuthApp<A, V> {
    /// The 401 with the challenge.
    fn unauthorized(&self) -> Error {
        Error::with_status(StatusCode::UNAUTHORIZED, "authentication required")
            .with_header(WWW_AUTHENTICATE, self.inner.challenge.clone())
    }
}

/// `token` decoded (strict standard base64 with padding) into `stack` if
/// it fits, else into `heap`; `None` if it is too long or not base64.
fn decode<'a>(
    token: &[u8],
    stack: &'a mut [u8; STACK_CREDENTIALS],
    heap: &'a mut Vec<u8>,
) -> Option<&'a [u8]> {
    if token.len() > MAX_BASIC_TOKEN || token.len() % 4 != 0 {
        return None;
    }
    // Padding is required, so this is the decoded length or at most two
    // more.
    let room = token.len() / 4 * 3;
    let buf: &mut [u8] = if room <= STACK_CREDENTIALS {
        &mut stack[..room]
    } else {
        heap.resize(room, 0);
        &mut heap[..]
    };
    let len = base64_decode(token, buf)?;
    Some(&buf[..len])
}

/// Strict RFC 4648 §4 base64 (the `base64` crate's standard engine:
/// padding required, canonical trailing bits): `input` decoded into
/// `out`, or `None`.
fn base64_decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode_slice(input, out)
        .ok()
}

/// `user-id ":" password`, both UTF-8 without control characters.
fn split(decoded: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(decoded).ok()?;
    // One pass without branches over the bytes.
    let control = decoded
        .iter()
        .fold(false, |seen, &b| seen | b.is_ascii_control());
    if control {
        return None;
    }
    text.split_once(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(token: &str) -> Option<(String, String)> {
        let mut stack = [0u8; STACK_CREDENTIALS];
        let mut heap = Vec::new();
        let decoded = decode(token.as_bytes(), &mut stack, &mut heap)?;
        split(decoded).map(|(u, p)| (u.to_owned(), p.to_owned()))
    }

    fn pair(user: &str, password: &str) -> Option<(String, String)> {
        Some((user.to_owned(), password.to_owned()))
    }

    #[test]
    fn decoding() {
        let b64 = |s: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(s)
        };
        assert_eq!(decode_split(&b64(b"ada:pw")), pair("ada", "pw"));
        assert_eq!(decode_split(&b64(b"ada:a:b:")), pair("ada", "a:b:"));
        assert_eq!(decode_split(&b64(b":")), pair("", ""));
        assert_eq!(decode_split(&b64(b"ada")), None);
        assert_eq!(decode_split(&b64(b"")), None);
        assert_eq!(decode_split(&b64(b"\xff:pw")), None);
        assert_eq!(decode_split(&b64(b"ada:p\x00w")), None);
        assert_eq!(decode_split(&b64(b"ada:p\x7fw")), None);
        assert_eq!(
            decode_split(&b64("zoë:pässwörd".as_bytes())),
            pair("zoë", "pässwörd")
        );
        // Unpadded, over-padded, non-canonical trailing bits, bad alphabet.
        assert_eq!(decode_split("YWRhOnB3ZA"), None);
        assert_eq!(decode_split("YWRhOnB3==="), None);
        assert_eq!(decode_split("YWRhOnB3ZB=="), None);
        assert_eq!(decode_split("YWRh_nB3"), None);
        assert_eq!(decode_split("YWRh OnB3"), None);
        // Long credentials go through the heap; too long ones are refused.
        let long = format!("ada:{}", "x".repeat(2000));
        assert_eq!(decode_split(&b64(long.as_bytes())), pair("ada", &long[4..]));
        let too_long = format!("ada:{}", "x".repeat(MAX_BASIC_TOKEN));
        assert_eq!(decode_split(&b64(too_long.as_bytes())), None);
        let at_limit = "a".repeat(MAX_BASIC_TOKEN / 4 * 3 - 1);
        let at_limit = format!("{at_limit}:");
        assert_eq!(b64(at_limit.as_bytes()).len(), MAX_BASIC_TOKEN);
        assert!(decode_split(&b64(at_limit.as_bytes())).is_some());
    }

    #[test]
    fn static_credentials() {
        let c = StaticCredentials::new("ada", "p:w");
        assert!(c.matches("ada", "p:w"));
        assert!(!c.matches("ada", "p:W"));
        assert!(!c.matches("ad", "p:w"));
        assert!(!c.matches("", ""));
        assert!(!c.matches("ada:p", "w"));
        assert!(!c.matches("adap", ":w"));
        assert!(!c.matches("ad", "ap:w"));
        assert!(!c.matches("adap:", "w"));
        assert_eq!(c.user(), "ada");
        // Two sets of the same credentials have different keys, tags
        // and the same verdicts.
        let d = StaticCredentials::new("ada", "p:w");
        assert_ne!((c.key, c.tag), (d.key, d.tag));
        assert!(d.matches("ada", "p:w") && !d.matches("ada", "p:W"));
    }

    #[test]
    #[should_panic(expected = "colon")]
    fn static_user_with_colon() {
        let _ = StaticCredentials::new("a:b", "pw");
    }

    #[test]
    #[should_panic(expected = "control")]
    fn static_password_with_control() {
        let _ = StaticCredentials::new("ab", "p\nw");
    }

    #[test]
    #[should_panic(expected = "invalid Basic realm")]
    fn realm_with_newline() {
        let _ = BasicAuth::single("a\r\nb", "u", "p");
    }
}
