//! The battery: the one application the kit hands to the adapter. It owns
//! every route the rules request, so it can tell the kit what the adapter
//! did to it (through the probe).

use std::ffi::OsString;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use gateway_core::http::{HeaderMap, HeaderValue, StatusCode};
use gateway_core::upgrade::Upgraded;
use gateway_core::{Application, Body, Environ, Error, Response, start};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::probe::Probe;

/// The body of `/hello`: exactly sized, so framed by `Content-Length`.
pub(crate) const HELLO: &str = "hello, conformance\n";
/// The chunks of `/stream` (no size known in advance).
pub(crate) const STREAM: [&str; 3] = ["one\n", "two\n", "three\n"];
/// What `/fail/after` sends before its body fails.
pub(crate) const PARTIAL: &str = "partial-";
/// The trailer field `/trailers` ends with.
pub(crate) const TRAILER: (&str, &str) = ("x-conformance-trailer", "done");
/// The body `/trailers` sends before its trailers.
pub(crate) const TRAILERS_BODY: &str = "trailers follow\n";
/// The protocol `/upgrade` switches to.
pub(crate) const UPGRADE_PROTOCOL: &str = "conformance-echo";
/// One chunk of `/drip`, which never ends.
const DRIP: &[u8] = &[b'.'; 4096];

/// The kit's application, handed to [`Adapter::start`](crate::Adapter::start):
/// serve it as you would serve any application.
///
/// Every route records what happens to it (started, dropped, how its body
/// finished) for the rules to check. An adapter that runs the application
/// in **another process** (a CGI program, started per request) declares
/// [`Capabilities::out_of_process`](crate::Capabilities::out_of_process),
/// passes that process the variables of [`Battery::env`], and builds the
/// battery there with [`Battery::from_env`]:
///
/// ```no_run
/// // The CGI program the adapter's host runs.
/// fn main() -> std::process::ExitCode {
///     # let run_cgi = |_app: gateway_conformance::Battery| std::process::ExitCode::SUCCESS;
///     run_cgi(gateway_conformance::Battery::from_env())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Battery {
    probe: Probe,
}

impl Battery {
    pub(crate) fn new(probe: Probe) -> Battery {
        Battery { probe }
    }

    /// The battery in a process the adapter started: records into the
    /// probe named by the environment (see [`Battery::env`]). Without that
    /// variable it serves the same routes and records nothing, so the
    /// rules that observe the application fail.
    pub fn from_env() -> Battery {
        Battery {
            probe: Probe::from_env(),
        }
    }

    /// The environment variables a process running [`Battery::from_env`]
    /// needs: empty unless the adapter declared
    /// [`Capabilities::out_of_process`](crate::Capabilities::out_of_process).
    ///
    /// ```
    /// # let battery = gateway_conformance::Battery::from_env();
    /// let mut host = std::process::Command::new("my-cgi-host");
    /// host.envs(battery.env());
    /// ```
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        self.probe.env().into_iter().collect()
    }
}

impl Application for Battery {
    async fn call(&self, mut env: Environ) -> Result<Response, Error> {
        let id = request_id(&env);
        let probe = self.probe.clone();
        let path = env.path_info().to_owned();
        match path.as_str() {
            "/hello" => start(200, [("content-type", "text/plain")]).body(HELLO),
            "/stream" => start(200, [("content-type", "text/plain")]).writer(|mut w| async move {
                for chunk in STREAM {
                    w.write(chunk).await?;
                }
                Ok(())
            }),
            // The application tries to send a body; none may reach the wire.
            "/status/204" => start(204, [("content-length", "4")]).body("oops"),
            "/status/304" => start(304, [("etag", "\"v1\"")]).body("oops"),
            // Declared in `Trailer`, as RFC 9110 §6.6.2 asks (hyper's
            // HTTP/1 server sends only declared trailer fields).
            "/trailers" => start(
                200,
                [("content-type", "text/plain"), ("trailer", TRAILER.0)],
            )
            .writer(|mut w| async move {
                w.write(TRAILERS_BODY).await?;
                let mut trailers = HeaderMap::new();
                trailers.insert(TRAILER.0, HeaderValue::from_static(TRAILER.1));
                w.send_trailers(trailers).await
            }),
            "/fail/before" => start(200, [("content-type", "text/plain")])
                .writer(|_w| async { Err(Error::new("the body failed before its first byte")) }),
            "/fail/after" => {
                let body = Body::writer(|mut w| async move {
                    w.write(PARTIAL).await?;
                    YieldOnce(false).await;
                    Err(Error::new("the body failed after the commit"))
                });
                start(200, [("content-type", "text/plain")]).body(finish(body, probe, id))
            }
            "/panic" => panic!("the battery's /panic route panics on purpose"),
            "/echo" => {
                let body = env.take_body();
                let ty = env.headers().get("content-type").cloned();
                let ty = ty.unwrap_or(HeaderValue::from_static("application/octet-stream"));
                start(200, [("content-type", ty)]).body(body)
            }
            "/count" => {
                let mut body = env.take_body();
                let mut total = 0u64;
                while let Some(frame) = body.frame().await {
                    let frame = frame?;
                    if let Some(data) = frame.data_ref() {
                        total += data.len() as u64;
                        probe.record(id, &format!("read {total}"));
                    }
                }
                start(200, [("content-type", "text/plain")]).body(total.to_string())
            }
            "/hang" => {
                let _guard = OnDrop {
                    probe: probe.clone(),
                    id,
                };
                probe.record(id, "started");
                std::future::pending::<()>().await;
                unreachable!("pending never resolves")
            }
            "/drip" => {
                probe.record(id, "started");
                let guard = OnDrop {
                    probe: probe.clone(),
                    id,
                };
                let body = Body::writer(|mut w| async move {
                    let _guard = guard;
                    loop {
                        w.write(DRIP).await?;
                    }
                });
                start(200, [("content-type", "text/plain")]).body(finish(body, probe, id))
            }
            "/finish" => {
                let body = Body::writer(|mut w| async move {
                    for chunk in STREAM {
                        w.write(chunk).await?;
                    }
                    Ok(())
                });
                start(200, [("content-type", "text/plain")]).body(finish(body, probe, id))
            }
            "/upgrade" => {
                let Some(upgrade) = env.upgrade() else {
                    probe.record(id, "no upgrade");
                    return start(
                        426,
                        [("upgrade", UPGRADE_PROTOCOL), ("connection", "upgrade")],
                    )
                    .empty();
                };
                probe.record(id, "upgrade requested");
                Ok(upgrade.switch(HeaderMap::new(), move |io| echo(io, probe, id)))
            }
            _ if path.starts_with("/path/") => {
                let text = format!("{}\n{}\n", env.script_name(), env.path_info());
                start(200, [("content-type", "text/plain")]).body(text)
            }
            _ => Err(Error::with_status(
                StatusCode::NOT_FOUND,
                "no such battery route",
            )),
        }
    }
}

/// The `id` query parameter the kit puts on every request; 0 without one.
fn request_id(env: &Environ) -> u64 {
    env.query()
        .split('&')
        .find_map(|pair| pair.strip_prefix("id="))
        .and_then(|id| id.parse().ok())
        .unwrap_or(0)
}

/// The upgraded protocol of `/upgrade`: every byte comes back, until the
/// client ends its side.
async fn echo(mut io: Upgraded, probe: Probe, id: u64) {
    probe.record(id, "switched");
    let mut buf = [0u8; 4096];
    loop {
        let n = match io.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if io.write_all(&buf[..n]).await.is_err() || io.flush().await.is_err() {
            break;
        }
    }
    probe.record(id, "handler ended");
}

/// `body`, reporting how it finished as `finish completed N` or
/// `finish aborted N`.
fn finish(body: Body, probe: Probe, id: u64) -> Body {
    body.on_finish(move |done| {
        let how = if done.is_completed() {
            "completed"
        } else {
            "aborted"
        };
        probe.record(id, &format!("finish {how} {}", done.bytes()));
    })
}

/// Records `dropped` when the future or body holding it is dropped.
struct OnDrop {
    probe: Probe,
    id: u64,
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.probe.record(self.id, "dropped");
    }
}

/// Returns `Pending` once (waking itself), so that the body's first chunk
/// goes out before the failure: no timer, so the battery runs on any
/// executor.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
