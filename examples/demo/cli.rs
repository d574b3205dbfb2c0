//! The demo's command line: [`Options`] and their parsing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gateway_middleware::access_log::Format;
use gateway_middleware::{ProxyHeaders, RequestId};

/// The usage text `--help` prints.
pub const USAGE: &str = "\
usage: demo [OPTIONS]

Serves the whole gateway stack (see `examples/demo/mod.rs`).

  --listen ADDR        listen on TCP ADDR (repeatable); the default is
                       127.0.0.1:8000 unless --unix is given or systemd
                       passes a socket (LISTEN_FDS)
  --unix PATH          listen on a Unix socket at PATH, mode 0660 (repeatable)
  --redis URL          keep sessions in Redis (redis://HOST:PORT/); default:
                       in memory, this process only
  --name NAME          this instance's name, shown by /whoami (default: demo)
  --static-dir DIR     the files served under /static (default: the demo's own)
  --trust-proxy CIDR   also trust X-Forwarded-* from TCP peers in CIDR (an
                       address or a network; repeatable, or comma-separated).
                       Peers on the Unix sockets are always trusted.
  --access-log FORMAT  the access log's format on stdout: combined (default),
                       common or json
  --drain-delay SECS   at SIGTERM, keep serving this long while /readyz
                       answers 503, then drain (default 0; for Kubernetes,
                       longer than the readiness probe's period)
  -h, --help           print this and exit

Environment: LOGIN_SECRET (at least 32 bytes) keys the logins; instances
that share Redis must share it. Without it a random key is made.
";

/// How the demo is run: what the command line says.
///
/// ```
/// use gateway_examples::demo::{Command, Options};
///
/// let args = ["--unix", "/run/gateway/a.sock", "--name", "a", "--redis", "redis://127.0.0.1/"];
/// let Ok(Command::Serve(options)) = Command::parse(args.map(String::from)) else {
///     panic!("valid arguments");
/// };
/// assert_eq!(options.name, "a");
/// assert!(options.listen.is_empty());
/// assert!(Command::parse(["--listen".to_owned(), "nowhere".to_owned()]).is_err());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Command {
    /// Serve with these options.
    Serve(Box<Options>),
    /// `--help`: print [`USAGE`] and exit.
    Help,
}

impl Command {
    /// Parses the arguments (without the program name). Each option
    /// takes its value as the next argument or after `=`
    /// (`--name=a`).
    ///
    /// # Errors
    ///
    /// A message naming the argument that is unknown, lacks its value or
    /// has an invalid one (an address that does not parse, a name that is
    /// not 1–64 of `A-Z a-z 0-9 . _ -`, a trusted proxy that is not an
    /// address or a CIDR network, a Redis URL that is not `redis://`,
    /// `rediss://` or `redis+unix://`).
    pub fn parse<I>(args: I) -> Result<Command, String>
    where
        I: IntoIterator<Item = String>,
    {
        let mut options = Options::default();
        let mut trusted = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg, None),
            };
            if flag == "-h" || flag == "--help" {
                return Ok(Command::Help);
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--listen" => {
                    let text = value()?;
                    let addr = text.parse::<SocketAddr>().map_err(|e| {
                        format!("--listen {text:?}: {e} (expected e.g. 127.0.0.1:8000)")
                    })?;
                    options.listen.push(addr);
                }
                "--unix" => options.unix.push(PathBuf::from(value()?)),
                "--redis" => {
                    let url = value()?;
                    if !["redis://", "rediss://", "redis+unix://"]
                        .iter()
                        .any(|s| url.starts_with(s))
                    {
                        return Err(format!(
                            "--redis {url:?}: expected a redis:// (or rediss://) URL"
                        ));
                    }
                    options.redis = Some(url);
                }
                "--name" => {
                    let name = value()?;
                    if !valid_name(&name) {
                        return Err(format!(
                            "--name {name:?}: expected 1 to 64 of A-Z a-z 0-9 . _ -"
                        ));
                    }
                    options.name = name;
                }
                "--static-dir" => options.static_dir = PathBuf::from(value()?),
                "--trust-proxy" => {
                    let list = value()?;
                    trusted.extend(
                        list.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                }
                "--access-log" => {
                    let format = value()?;
                    options.access_log = match format.as_str() {
                        "combined" => Format::Combined,
                        "common" => Format::Common,
                        "json" => Format::Json,
                        _ => {
                            return Err(format!(
                                "--access-log {format:?}: expected combined, common or json"
                            ));
                        }
                    };
                }
                "--drain-delay" => {
                    let text = value()?;
                    options.drain_delay = text
                        .parse::<u16>()
                        .map(|secs| Duration::from_secs(secs.into()))
                        .map_err(|_| {
                            format!("--drain-delay {text:?}: expected whole seconds, 0 to 65535")
                        })?;
                }
                _ => return Err(format!("unknown argument {flag:?} (try --help)")),
            }
        }
        options.proxy = options
            .proxy
            .try_trusted_proxies(&trusted)
            .map_err(|e| format!("--trust-proxy: {e}"))?;
        options.request_id = options
            .request_id
            .try_trusted_proxies(&trusted)
            .map_err(|e| format!("--trust-proxy: {e}"))?;
        Ok(Command::Serve(Box::new(options)))
    }
}

/// The demo's settings. [`Options::default`] is what `cargo run
/// --example demo` with no arguments uses.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// TCP addresses to listen on. Empty (the default) means
    /// `127.0.0.1:8000` when there is no other listener (no
    /// [`unix`](Options::unix) socket, no socket from systemd).
    pub listen: Vec<SocketAddr>,
    /// Unix socket paths to listen on, created with mode `0660` (a stale
    /// socket file is replaced; the file is removed at shutdown). Defaults
    /// to none.
    pub unix: Vec<PathBuf>,
    /// The Redis URL sessions are kept at; `None` (the default) keeps
    /// them in this process's memory.
    pub redis: Option<String>,
    /// The instance's name, shown by `/whoami` and on every page.
    /// Defaults to `demo`.
    pub name: String,
    /// The directory served under `/static`. Defaults to the demo's own
    /// (`examples/demo/static`).
    pub static_dir: PathBuf,
    /// Which peers' `X-Forwarded-*` headers are believed. Defaults to
    /// peers on a Unix socket only (only the proxy should be able to
    /// connect to it), reading `X-Forwarded-For`, `-Proto`, `-Host`,
    /// `-Port` and `-Prefix` one hop deep — what
    /// `deploy/nginx/gateway.conf` sends. `--trust-proxy` adds TCP
    /// networks.
    pub proxy: ProxyHeaders,
    /// Whose `X-Request-Id` is kept: the same peers as
    /// [`proxy`](Options::proxy)'s (Unix-socket peers, and the
    /// `--trust-proxy` networks); every other request gets a new id.
    pub request_id: RequestId,
    /// The access log's format (lines go to stdout). Defaults to
    /// [`Format::Combined`].
    pub access_log: Format,
    /// How long the server keeps serving after SIGTERM while `/readyz`
    /// answers 503, before it drains
    /// ([`Server::drain_delay`](gateway_hyper::Server::drain_delay)).
    /// Defaults to zero.
    pub drain_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: Vec::new(),
            unix: Vec::new(),
            redis: None,
            name: "demo".to_owned(),
            static_dir: super::static_dir(),
            proxy: ProxyHeaders::new()
                .trust_unix_peers(true)
                .x_for(1)
                .x_proto(1)
                .x_host(1)
                .x_port(1)
                .x_prefix(1),
            request_id: RequestId::new().trust_unix_peers(true),
            access_log: Format::Combined,
            drain_delay: Duration::ZERO,
        }
    }
}

/// 1 to 64 of `A-Z a-z 0-9 . _ -`: safe in a page, a header or a log.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
