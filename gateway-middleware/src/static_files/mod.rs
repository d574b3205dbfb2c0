//! [`StaticFiles`]: its configuration and its place in a stack. Serving is
//! in `serve`, the disk in `disk`, `path` and `cache`.

mod cache;
mod disk;
mod encoding;
mod fnv;
mod headers;
mod listing;
mod path;
mod range;
mod runtime;
mod serve;
mod stream;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use gateway_core::environ::InvalidPrefix;
use gateway_core::{Application, Environ, Error, Middleware, Response, RootPath};
use http::{HeaderValue, StatusCode};

use cache::Cache;
use serve::{Answer, plain};

/// Serves files from a directory, as correct as nginx — as an application
/// of its own, or as a middleware that answers under a URL prefix and
/// passes everything else on (WhiteNoise, werkzeug's
/// `SharedDataMiddleware`).
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::StaticFiles;
///
/// let dir = std::env::temp_dir().join(format!("static-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("css"))?;
/// std::fs::write(dir.join("css/site.css"), "body { margin: 0 }")?;
///
/// // Files under /static, everything else to the application.
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("app") })
///     .with(StaticFiles::new(&dir).prefix("/static"));
/// let client = TestClient::new(app);
///
/// let res = client.get("/static/css/site.css").send().await;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
/// assert_eq!(res.text(), "body { margin: 0 }");
///
/// // Revalidation: the same ETag gets a 304 without a body.
/// let etag = res.header("etag").unwrap().to_owned();
/// let res = client.get("/static/css/site.css").header("if-none-match", etag).send().await;
/// assert_eq!(res.status(), 304);
///
/// // A miss under the prefix and anything else reach the application.
/// assert_eq!(client.get("/static/missing.css").send().await.text(), "app");
/// assert_eq!(client.get("/about").send().await.text(), "app");
/// // A path that tries to leave the directory does not.
/// assert_eq!(client.get("/static/%2e%2e/secret").send().await.status(), 400);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// As an [`Application`] it answers every request (misses are `404`); as a
/// [`Middleware`] it answers under its [`prefix`](StaticFiles::prefix) and
/// passes misses and everything else to the application it wraps. Clones
/// share one cache.
///
/// # What it does
///
/// - **GET and HEAD** (HEAD: GET's headers, no body). Other methods on a
///   file or directory that exists get `405` with `Allow: GET, HEAD`, or
///   fall through when [`other_methods_fall_through`] is set.
/// - **Directories**: `index.html` (see [`index_file`]); `/dir` is
///   redirected (`301`) to `/dir/` with `Location` built from
///   `script_name + path_info + "/"` and the query kept, so it is right
///   under [`Mount`](crate::Mount) and behind a proxy's prefix; an
///   HTML-escaped listing when [`listing`] is on (off by default). A file
///   asked for with a trailing `/` is a miss, as on nginx.
/// - **Validators and preconditions** (RFC 9110 §13, through
///   [`conditional::evaluate`]): `ETag` and `Last-Modified` on every file
///   response; `If-Match`, `If-Unmodified-Since` → `412`; `If-None-Match`,
///   `If-Modified-Since` → `304` with the validators, `Cache-Control` and
///   `Vary`, no body. The entity tag depends only on the bytes served and
///   their time stamp, so every instance serving the same files (behind a
///   load balancer, after a container rebuild) gives the same one:
///   - a file held in memory (see [Speed](#speed)) is tagged with its
///     length and a 64-bit FNV-1a hash of its content, and the tag is
///     strong at once: it names exactly these bytes;
///   - a larger, streamed file is tagged with its length and modification
///     time in nanoseconds, strong once the file had not changed for a
///     second when it was looked at (whole-second times included, as tar,
///     `rsync -t` and container layers leave them). Just after a change it
///     is weak (`W/`, which conditional GETs still match, `If-Match` and
///     `If-Range` do not): a second write within the time stamp's
///     resolution could otherwise keep one strong tag for two contents.
///     It turns strong once the file has settled.
/// - **Ranges** (RFC 9110 §14), for GET: `Accept-Ranges: bytes`, single
///   ranges, several as `multipart/byteranges` (sorted and coalesced;
///   amplification refused, including many small ranges whose framing
///   would outgrow the file, which get the whole file), `416` with
///   `Content-Range: bytes */LEN`, invalid ones ignored, `If-Range`
///   honoured.
/// - **Precompressed siblings**: `app.js.br`, `.zst`, `.gz` next to
///   `app.js` are served by `Accept-Encoding` (q-values, `*`, `identity`,
///   `q=0`), with `Content-Encoding`, their own `ETag`, and
///   `Vary: Accept-Encoding` on every response for that path (the
///   original's and `304`s included). Ranges apply to the representation
///   served. Nothing is compressed on the fly.
/// - **Headers**: `Content-Type` from `mime_guess`'s table
///   (`charset=utf-8` on text types), `X-Content-Type-Options: nosniff`,
///   and `Cache-Control`: fingerprinted names (`app.3f2a9c1e.js`: a part
///   of 8 to 64 hex digits, letters and digits both, before the
///   extension) get `public, max-age=31536000, immutable`, HTML
///   `no-cache` (revalidate every time), everything else
///   `public, max-age=60`; each configurable.
/// - **Nothing outside the root is ever read.** The path is decoded once
///   and refused (`400`) if it holds `.` or `..` segments in any encoding,
///   encoded or double-encoded slashes and backslashes, NUL or control
///   characters, drive letters or device names; dotfiles are hidden
///   (`404`) unless [`dotfiles`] is on; symlinks whose target is outside
///   the root are refused unless [`symlinks_outside_root`] is on. Hostile
///   paths get `400` or `404`, never a `500`.
///
/// # Speed
///
/// hyper owns the socket writes, so `sendfile` is not available; instead:
///
/// - Files up to [`max_cached_file`] (256 KiB) are held in memory with
///   their header values ready, up to [`cache_capacity`] bytes (32 MiB)
///   in all. A cached file is compared with the disk (one `stat`, and one
///   per precompressed sibling it has) at most once per
///   [`revalidate_after`] (1 second): a file changed on disk is served
///   fresh within that time, a deleted one stops being served.
///   A file is recognised by its size, modification time and inode, not
///   by what its path resolves to: a symlink pointed elsewhere (within
///   the root) is noticed when the remembered file itself changes.
///   Misses are remembered as long (so the application behind a
///   middleware at `/` does not cost a look at the disk per request), and
///   a new file appears within that time too.
///   A sibling added next to an unchanged original is found when the
///   original (or another sibling) next changes.
/// - Larger files are streamed from tokio's blocking pool in
///   [`block_size`] reads (256 KiB), one block ahead of the socket, so a
///   slow client holds about two blocks.
///
/// # Runtime
///
/// No file I/O runs on the async workers: opening, `stat` and reading go
/// to tokio's blocking pool, so `StaticFiles` needs a **tokio runtime**
/// (either flavour; gateway-hyper runs one). [`startup`] fails with an
/// error that says so when called outside one, and a request that would
/// touch the disk there is answered with an error (a `500`), never a
/// panic. Nothing is read from the disk before [`startup`] or the first
/// request: [`new`](StaticFiles::new) only records the root, and
/// [`startup`] makes it canonical and checks that it is a directory.
///
/// [`conditional::evaluate`]: crate::conditional::evaluate
/// [`other_methods_fall_through`]: StaticFiles::other_methods_fall_through
/// [`index_file`]: StaticFiles::index_file
/// [`listing`]: StaticFiles::listing
/// [`dotfiles`]: StaticFiles::dotfiles
/// [`symlinks_outside_root`]: StaticFiles::symlinks_outside_root
/// [`max_cached_file`]: StaticFiles::max_cached_file
/// [`cache_capacity`]: StaticFiles::cache_capacity
/// [`revalidate_after`]: StaticFiles::revalidate_after
/// [`block_size`]: StaticFiles::block_size
/// [`startup`]: Application::startup
#[derive(Clone)]
pub struct StaticFiles {
    config: Arc<Config>,
    state: Arc<State>,
}

#[derive(Clone, Debug)]
struct Config {
    /// As given.
    root: PathBuf,
    /// Empty, or `/a/b` (no trailing slash).
    prefix: String,
    index: Option<String>,
    redirect_directories: bool,
    listing: bool,
    fall_through: bool,
    other_methods_fall_through: bool,
    dotfiles: bool,
    symlinks_outside_root: bool,
    precompressed: bool,
    cache_control: HeaderValue,
    html_cache_control: HeaderValue,
    immutable_cache_control: HeaderValue,
    max_cached_file: u64,
    cache_capacity: u64,
    max_entries: usize,
    revalidate_after: Duration,
    block_size: usize,
}

/// What serving builds, once, and clones share.
#[derive(Debug, Default)]
struct State {
    /// The root made canonical, by `startup` or else by the first look at
    /// the disk.
    root: OnceLock<PathBuf>,
    /// Built on first use, with the settings of that time.
    cache: OnceLock<Cache>,
}

impl fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFiles")
            .field("root", &self.config.root)
            .field("prefix", &self.config.prefix)
            .finish_non_exhaustive()
    }
}

impl StaticFiles {
    /// Serves the directory `root`, at the root of the URL space (see
    /// [`prefix`](StaticFiles::prefix)), with the defaults listed in the
    /// [type docs](StaticFiles).
    ///
    /// Nothing is looked at on disk here. [`startup`](Application::startup)
    /// makes `root` canonical (symlinks in it resolved) and fails with a
    /// clear error if it is not a directory; without `startup` (in a
    /// `TestClient`, say), the first request
    /// that looks at the disk does the former.
    pub fn new(root: impl Into<PathBuf>) -> StaticFiles {
        let config = Config {
            root: root.into(),
            prefix: String::new(),
            index: Some("index.html".to_owned()),
            redirect_directories: true,
            listing: false,
            fall_through: true,
            other_methods_fall_through: false,
            dotfiles: false,
            symlinks_outside_root: false,
            precompressed: true,
            cache_control: HeaderValue::from_static("public, max-age=60"),
            html_cache_control: HeaderValue::from_static("no-cache"),
            immutable_cache_control: HeaderValue::from_static(
                "public, max-age=31536000, immutable",
            ),
            max_cached_file: 256 * 1024,
            cache_capacity: 32 * 1024 * 1024,
            max_entries: 16 * 1024,
            revalidate_after: Duration::from_secs(1),
            block_size: 256 * 1024,
        };
        StaticFiles {
            config: Arc::new(config),
            state: Arc::default(),
        }
    }

    /// The directory served, as given to [`new`](StaticFiles::new).
    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// Answers only under this URL path prefix (`/static` answers
    /// `/static/app.js` from `ROOT/app.js`). Defaults to none: every path.
    ///
    /// # Panics
    ///
    /// If [`try_prefix`](StaticFiles::try_prefix) would fail: a prefix is
    /// part of the program, and a wrong one is a bug to hear about at
    /// startup.
    pub fn prefix(self, prefix: &str) -> StaticFiles {
        match self.try_prefix(prefix) {
            Ok(files) => files,
            Err(e) => panic!("invalid static files prefix {prefix:?}: {e}"),
        }
    }

    /// [`prefix`](StaticFiles::prefix), for prefixes from configuration.
    /// Empty and `/` mean none; one trailing `/` is dropped.
    ///
    /// # Errors
    ///
    /// If `prefix` is not a valid [`RootPath`]: an absolute path of
    /// `pchar` segments with no empty, `.` or `..` segment.
    ///
    /// ```
    /// use gateway_middleware::StaticFiles;
    /// assert!(StaticFiles::new("public").try_prefix("/assets/").is_ok());
    /// assert!(StaticFiles::new("public").try_prefix("/a/../b").is_err());
    /// ```
    pub fn try_prefix(self, prefix: &str) -> Result<StaticFiles, InvalidPrefix> {
        let prefix = if prefix.bytes().all(|b| b == b'/') {
            String::new()
        } else {
            RootPath::new(prefix)?.as_str().to_owned()
        };
        Ok(self.config(|c| c.prefix = prefix))
    }

    /// The file served for a directory (`/docs/` → `docs/index.html`), or
    /// none (`None`). Defaults to `index.html`. The name is looked up
    /// below the directory like a request path, so it cannot lead outside
    /// the root.
    pub fn index_file<'a>(self, name: impl Into<Option<&'a str>>) -> StaticFiles {
        let name = name.into().map(str::to_owned);
        self.config(|c| c.index = name)
    }

    /// Whether `/dir` is redirected to `/dir/` (`301`). Defaults to true;
    /// when false it is a miss.
    pub fn redirect_directories(self, on: bool) -> StaticFiles {
        self.config(|c| c.redirect_directories = on)
    }

    /// Whether a directory without an index file gets an HTML listing.
    /// Defaults to false (a miss).
    pub fn listing(self, on: bool) -> StaticFiles {
        self.config(|c| c.listing = on)
    }

    /// As a middleware: whether a miss under the prefix goes to the wrapped
    /// application (true, the default) or is answered `404` here.
    pub fn fall_through(self, on: bool) -> StaticFiles {
        self.config(|c| c.fall_through = on)
    }

    /// Whether a method other than GET and HEAD on an existing file or
    /// directory falls through like a miss (true) or gets
    /// `405 Method Not Allowed` with `Allow: GET, HEAD` (false, the
    /// default).
    pub fn other_methods_fall_through(self, on: bool) -> StaticFiles {
        self.config(|c| c.other_methods_fall_through = on)
    }

    /// Whether files and directories whose name starts with `.` are served.
    /// Defaults to false: they are a miss. (`.` and `..` segments are
    /// always refused.)
    pub fn dotfiles(self, on: bool) -> StaticFiles {
        self.config(|c| c.dotfiles = on)
    }

    /// Whether symlinks may point outside the root. Defaults to false:
    /// such a path is a miss. Symlinks within the root always work.
    pub fn symlinks_outside_root(self, on: bool) -> StaticFiles {
        self.config(|c| c.symlinks_outside_root = on)
    }

    /// Whether precompressed siblings (`.br`, `.zst`, `.gz`) are looked for
    /// and served. Defaults to true.
    pub fn precompressed(self, on: bool) -> StaticFiles {
        self.config(|c| c.precompressed = on)
    }

    /// `Cache-Control` for files that are neither HTML nor fingerprinted.
    /// Defaults to `public, max-age=60`.
    pub fn cache_control(self, value: HeaderValue) -> StaticFiles {
        self.config(|c| c.cache_control = value)
    }

    /// `Cache-Control` for HTML. Defaults to `no-cache`: browsers
    /// revalidate every time, so a new deployment shows at once.
    pub fn html_cache_control(self, value: HeaderValue) -> StaticFiles {
        self.config(|c| c.html_cache_control = value)
    }

    /// `Cache-Control` for fingerprinted names (`app.3f2a9c1e.js`).
    /// Defaults to `public, max-age=31536000, immutable`.
    pub fn immutable_cache_control(self, value: HeaderValue) -> StaticFiles {
        self.config(|c| c.immutable_cache_control = value)
    }

    /// Files up to this size are held in memory (and tagged with a hash of
    /// their content). Defaults to 256 KiB; 0 holds none.
    pub fn max_cached_file(self, bytes: u64) -> StaticFiles {
        self.config(|c| c.max_cached_file = bytes)
    }

    /// The most bytes held in memory in all. Defaults to 32 MiB.
    pub fn cache_capacity(self, bytes: u64) -> StaticFiles {
        self.config(|c| c.cache_capacity = bytes)
    }

    /// The most files remembered (with or without their bytes). Defaults
    /// to 16,384.
    pub fn max_cache_entries(self, entries: usize) -> StaticFiles {
        self.config(|c| c.max_entries = entries)
    }

    /// How long a remembered file is served without looking at the disk.
    /// Defaults to 1 second; zero looks (one `stat`) on every request.
    pub fn revalidate_after(self, period: Duration) -> StaticFiles {
        self.config(|c| c.revalidate_after = period)
    }

    /// The size of each read when streaming a large file. Defaults to
    /// 256 KiB; 0 counts as 1 byte.
    pub fn block_size(self, bytes: usize) -> StaticFiles {
        self.config(|c| c.block_size = bytes.max(1))
    }

    fn config(mut self, change: impl FnOnce(&mut Config)) -> StaticFiles {
        change(Arc::make_mut(&mut self.config));
        // A cache built for other settings (by a clone that served) is not
        // this one's; a builder chain only ever has the unbuilt one.
        match Arc::get_mut(&mut self.state) {
            Some(state) => drop(state.cache.take()),
            None => self.state = Arc::default(),
        }
        self
    }

    fn cache(&self) -> &Cache {
        self.state.cache.get_or_init(|| {
            Cache::new(
                self.config.cache_capacity,
                self.config.max_entries,
                self.config.revalidate_after,
            )
        })
    }

    /// What `startup` checks: a tokio runtime, and a root that is a
    /// directory (made canonical on the way).
    async fn start(&self) -> Result<(), Error> {
        // `blocking` fails first, with a clear error, outside a runtime.
        let files = self.clone();
        runtime::blocking(move || files.check_root()).await?
    }
}

impl Application for StaticFiles {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        match self.answer(&env).await? {
            Answer::Response(res) => Ok(res),
            Answer::Miss | Answer::Elsewhere => Ok(plain(StatusCode::NOT_FOUND)),
        }
    }

    async fn startup(&self) -> Result<(), Error> {
        self.start().await
    }
}

impl<A: Application> Middleware<A> for StaticFiles {
    type Output = StaticFilesApp<A>;

    fn wrap(&self, app: A) -> StaticFilesApp<A> {
        StaticFilesApp {
            files: self.clone(),
            app,
        }
    }
}

/// The application [`StaticFiles`] makes of another: files under the
/// prefix, everything else to `A`.
#[derive(Debug)]
pub struct StaticFilesApp<A> {
    files: StaticFiles,
    app: A,
}

impl<A: Application> Application for StaticFilesApp<A> {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        match self.files.answer(&env).await? {
            Answer::Response(res) => Ok(res),
            Answer::Miss if !self.files.config.fall_through => Ok(plain(StatusCode::NOT_FOUND)),
            Answer::Miss | Answer::Elsewhere => self.app.call(env).await,
        }
    }

    async fn startup(&self) -> Result<(), Error> {
        self.files.start().await?;
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}
