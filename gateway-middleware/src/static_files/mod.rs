//! [`StaticFiles`]: files from a directory, as correct as nginx — as an
//! application of its own, or as a middleware that answers under a URL
//! prefix and passes everything else on (WhiteNoise, werkzeug's
//! `SharedDataMiddleware`).
//!
//! # What it does
//!
//! - **GET and HEAD** (HEAD: GET's headers, no body). Other methods on a
//!   file or directory that exists get `405` with `Allow: GET, HEAD`, or
//!   fall through when [`other_methods_fall_through`] is set.
//! - **Directories**: `index.html` (see [`index_file`]); `/dir` is
//!   redirected (`301`) to `/dir/` with `Location` built from
//!   `script_name + path_info + "/"` and the query kept, so it is right
//!   under [`Mount`](crate::Mount) and behind a proxy's prefix; an
//!   HTML-escaped listing when [`listing`] is on (off by default). A file
//!   asked for with a trailing `/` is a miss, as on nginx.
//! - **Validators and preconditions** (RFC 9110 §13, through
//!   [`conditional::evaluate`]): `ETag` and
//!   `Last-Modified` on every file response; `If-Match`,
//!   `If-Unmodified-Since` → `412`; `If-None-Match`, `If-Modified-Since`
//!   → `304` with the validators, `Cache-Control` and `Vary`, no body.
//!   The entity tag is made of the size, the modification time in
//!   nanoseconds and the inode; it is strong only when the file system
//!   keeps sub-second times and the file had not changed for a second when
//!   it was looked at (otherwise `W/`, which conditional GETs still match).
//! - **Ranges** (RFC 9110 §14), for GET:
//!   `Accept-Ranges: bytes`, single ranges, several as
//!   `multipart/byteranges` (sorted and coalesced; amplification refused,
//!   including many small ranges whose framing would outgrow the file,
//!   which get the whole file),
//!   `416` with `Content-Range: bytes */LEN`, invalid ones ignored,
//!   `If-Range` honoured.
//! - **Precompressed siblings**: `app.js.br`, `.zst`, `.gz` next to
//!   `app.js` are served by `Accept-Encoding` (q-values, `*`, `identity`,
//!   `q=0`), with `Content-Encoding`, their own `ETag`, and
//!   `Vary: Accept-Encoding` on every response for that path (the
//!   original's and `304`s included). Ranges apply to the representation
//!   served. Nothing is compressed on the fly.
//! - **Headers**: `Content-Type` from `mime_guess`'s table
//!   (`charset=utf-8` on text types), `X-Content-Type-Options: nosniff`,
//!   and `Cache-Control`: fingerprinted names (`app.3f2a9c1e.js`: a part
//!   of 8 to 64 hex digits, letters and digits both, before the
//!   extension) get
//!   `public, max-age=31536000, immutable`, HTML `no-cache` (revalidate
//!   every time), everything else `public, max-age=60`; each configurable.
//! - **Nothing outside the root is ever read.** The path is decoded once
//!   and refused (`400`) if it holds `.` or `..` segments in any encoding,
//!   encoded or double-encoded slashes and backslashes, NUL or control
//!   characters, drive letters or device names; dotfiles are hidden
//!   (`404`) unless [`dotfiles`] is on; symlinks whose target is outside
//!   the root are refused unless [`symlinks_outside_root`] is on. Hostile
//!   paths get `400` or `404`, never a `500`.
//!
//! # Speed
//!
//! hyper owns the socket writes, so `sendfile` is not available; instead:
//!
//! - Files up to [`max_cached_file`] (256 KiB) are held in memory with
//!   their header values ready, up to [`cache_capacity`] bytes (32 MiB)
//!   in all. A cached file is compared with the disk (one `stat`, and one
//!   per precompressed sibling it has) at most once per
//!   [`revalidate_after`] (1 second): a file changed on disk is served
//!   fresh within that time, a deleted one stops being served.
//!   A file is recognised by its size, modification time and inode, not
//!   by what its path resolves to: a symlink pointed elsewhere (within
//!   the root) is noticed when the remembered file itself changes.
//!   Misses are remembered as long (so the application behind a
//!   middleware at `/` does not cost a look at the disk per request), and
//!   a new file appears within that time too.
//!   A sibling added next to an unchanged original is found when the
//!   original (or another sibling) next changes.
//! - Larger files are streamed from tokio's blocking pool in
//!   [`block_size`] reads (256 KiB), one block ahead of the socket, so a
//!   slow client holds about two blocks. No file I/O runs on the async
//!   workers: opening, `stat` and reading go to the blocking pool, so
//!   **`StaticFiles` needs a tokio runtime** (gateway-hyper runs one).
//!
//! # Example
//!
//! As a middleware: files under `/static`, everything else to the app.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap().block_on(async {
//! use gateway_core::{ApplicationExt, TestClient, fn_app, start};
//! use gateway_middleware::StaticFiles;
//!
//! let dir = std::env::temp_dir().join(format!("static-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("css"))?;
//! std::fs::write(dir.join("css/site.css"), "body { margin: 0 }")?;
//!
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("app") })
//!     .with(StaticFiles::new(&dir).prefix("/static"));
//! let client = TestClient::new(app);
//!
//! let res = client.get("/static/css/site.css").send().await;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
//! assert_eq!(res.text(), "body { margin: 0 }");
//!
//! // Revalidation: the same ETag gets a 304 without a body.
//! let etag = res.header("etag").unwrap().to_owned();
//! let res = client.get("/static/css/site.css").header("if-none-match", etag).send().await;
//! assert_eq!(res.status(), 304);
//!
//! // A miss under the prefix and anything else reach the application.
//! assert_eq!(client.get("/static/missing.css").send().await.text(), "app");
//! assert_eq!(client.get("/about").send().await.text(), "app");
//! // A path that tries to leave the directory does not.
//! assert_eq!(client.get("/static/%2e%2e/secret").send().await.status(), 400);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! [`conditional::evaluate`]: crate::conditional::evaluate
//! [`other_methods_fall_through`]: StaticFiles::other_methods_fall_through
//! [`index_file`]: StaticFiles::index_file
//! [`listing`]: StaticFiles::listing
//! [`dotfiles`]: StaticFiles::dotfiles
//! [`symlinks_outside_root`]: StaticFiles::symlinks_outside_root
//! [`max_cached_file`]: StaticFiles::max_cached_file
//! [`cache_capacity`]: StaticFiles::cache_capacity
//! [`revalidate_after`]: StaticFiles::revalidate_after
//! [`block_size`]: StaticFiles::block_size

mod cache;
mod encoding;
mod headers;
mod listing;
mod path;
mod range;
mod stream;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use gateway_core::{Application, Body, Environ, Error, FileHint, Middleware, Response};
use http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, LOCATION, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::conditional::{self, Validators};
use cache::{Cache, FileEntry, LoadOptions, Lookup, Variant};
use encoding::Encoding;
use path::PathError;
use range::{Multipart, Ranges, Segment};
use stream::{FileStream, Piece};

/// Serves files from a directory. See the [module docs](self).
///
/// As an [`Application`] it answers every request (misses are `404`); as a
/// [`Middleware`] it answers under its [`prefix`](StaticFiles::prefix) and
/// passes misses and everything else to the application it wraps. Clones
/// share one cache.
#[derive(Clone)]
pub struct StaticFiles {
    config: Arc<Config>,
    cache: Arc<Cache>,
}

#[derive(Clone, Debug)]
struct Config {
    /// Canonical when it could be made so.
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

/// A prefix [`StaticFiles::try_prefix`] refuses: it must be empty or start
/// with `/`, and be a valid path ([`RootPath`](gateway_core::RootPath)'s
/// rules).
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid static files prefix {prefix:?}: {source}")]
pub struct InvalidPrefix {
    prefix: String,
    source: gateway_core::InvalidRootPath,
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
    /// [module docs](self).
    ///
    /// `root` is made canonical here (symlinks in it resolved), so it must
    /// exist when this is called: a root that cannot be made canonical is
    /// kept as given, and if it leads through a symlink every path is then
    /// refused. [`startup`](Application::startup) fails with a clear error
    /// if it is not a directory.
    pub fn new(root: impl Into<PathBuf>) -> StaticFiles {
        let root = root.into();
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        let config = Config {
            root,
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
            cache: Arc::new(new_cache(&config)),
            config: Arc::new(config),
        }
    }

    /// The directory served.
    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// Answers only under this URL path prefix (`/static` answers
    /// `/static/app.js` from `ROOT/app.js`). Defaults to none: every path.
    ///
    /// # Panics
    ///
    /// If [`try_prefix`](StaticFiles::try_prefix) would fail: a prefix is
    /// part of the program.
    pub fn prefix(self, prefix: &str) -> StaticFiles {
        match self.try_prefix(prefix) {
            Ok(files) => files,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`prefix`](StaticFiles::prefix), for prefixes from configuration.
    ///
    /// # Errors
    ///
    /// If `prefix` is not empty, `/`, or a valid absolute path.
    ///
    /// ```
    /// use gateway_middleware::StaticFiles;
    /// assert!(StaticFiles::new("public").try_prefix("/assets/").is_ok());
    /// assert!(StaticFiles::new("public").try_prefix("/a/../b").is_err());
    /// ```
    pub fn try_prefix(self, prefix: &str) -> Result<StaticFiles, InvalidPrefix> {
        let trimmed = prefix.trim_end_matches('/');
        let prefix = if trimmed.is_empty() && (prefix.is_empty() || prefix.starts_with('/')) {
            String::new()
        } else {
            gateway_core::RootPath::new(prefix)
                .map_err(|source| InvalidPrefix {
                    prefix: prefix.to_owned(),
                    source,
                })?
                .as_str()
                .to_owned()
        };
        Ok(self.config(|c| c.prefix = prefix))
    }

    /// The file served for a directory (`/docs/` → `docs/index.html`), or
    /// none. Defaults to `index.html`.
    pub fn index_file(self, name: Option<&str>) -> StaticFiles {
        let name = name.map(str::to_owned);
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

    /// Files up to this size are held in memory. Defaults to 256 KiB; 0
    /// holds none.
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
    /// 256 KiB.
    pub fn block_size(self, bytes: usize) -> StaticFiles {
        self.config(|c| c.block_size = bytes.max(1))
    }

    fn config(mut self, change: impl FnOnce(&mut Config)) -> StaticFiles {
        change(Arc::make_mut(&mut self.config));
        // Settings change before serving starts; a new cache keeps every
        // entry consistent with them.
        self.cache = Arc::new(new_cache(&self.config));
        self
    }

    /// `path_info` below the prefix, or `None` when it is not under it.
    fn below_prefix<'a>(&self, path_info: &'a str) -> Option<&'a str> {
        let rest = path_info.strip_prefix(self.config.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }

    /// Answers `env`, or says it is not one for static files.
    async fn answer(&self, env: &Environ) -> Result<Answer, Error> {
        let Some(below) = self.below_prefix(env.path_info()) else {
            return Ok(Answer::Elsewhere);
        };
        if below.is_empty() {
            // The prefix (or the mount point) itself names the root
            // directory, without its `/`.
            return Ok(
                if env.method() != Method::GET && env.method() != Method::HEAD {
                    self.method_not_allowed()
                } else if self.config.redirect_directories {
                    Answer::Response(redirect_to_directory(env))
                } else {
                    Answer::Miss
                },
            );
        }
        let safe = match path::parse(below, self.config.dotfiles) {
            Ok(safe) => safe,
            Err(PathError::BadRequest) => {
                return Ok(Answer::Response(plain(StatusCode::BAD_REQUEST)));
            }
            Err(PathError::NotFound) => return Ok(Answer::Miss),
        };
        let (key, dir) = (safe.as_str(), safe.is_dir_request());
        // A file changed between being remembered and being opened is
        // looked up again, once.
        for _ in 0..2 {
            let entry = match self.cache.get(key, dir) {
                Lookup::Fresh(entry) => entry,
                Lookup::Due(entry) => {
                    let checked = entry.clone();
                    if blocking(move || cache::still_valid(&checked)).await? {
                        entry
                    } else {
                        self.cache.remove(key, dir);
                        match self.find(env, key, dir).await? {
                            Found::File(entry) => entry,
                            Found::Answer(answer) => return Ok(answer),
                        }
                    }
                }
                Lookup::Miss if self.cache.known_missing(key, dir) => return Ok(Answer::Miss),
                Lookup::Miss => match self.find(env, key, dir).await? {
                    Found::File(entry) => entry,
                    Found::Answer(answer) => return Ok(answer),
                },
            };
            match self.serve(&entry, env).await? {
                Some(answer) => return Ok(answer),
                None => self.cache.remove(key, dir),
            }
        }
        Err(Error::new("static file keeps changing while it is opened"))
    }

    /// The slow path: looks `rel` up on disk and remembers what it found.
    async fn find(&self, env: &Environ, rel: &str, dir: bool) -> Result<Found, Error> {
        let config = self.config.clone();
        let owned = rel.to_owned();
        // Only a listing shows it.
        let title = if self.config.listing {
            format!("{}{}", env.script_name(), env.path_info())
        } else {
            String::new()
        };
        let found = blocking(move || find_on_disk(&config, &owned, dir, &title)).await??;
        let other = env.method() != Method::GET && env.method() != Method::HEAD;
        Ok(match found {
            OnDisk::File(entry, index) => {
                let entry = self.cache.insert(rel, index, *entry);
                Found::File(entry)
            }
            OnDisk::Missing => {
                self.cache.insert_missing(rel, dir);
                Found::Answer(Answer::Miss)
            }
            OnDisk::Forbidden => Found::Answer(Answer::Response(plain(StatusCode::FORBIDDEN))),
            _ if other => Found::Answer(self.method_not_allowed()),
            OnDisk::Directory => Found::Answer(Answer::Response(redirect_to_directory(env))),
            OnDisk::Listing(html) => Found::Answer(Answer::Response(listing_response(html))),
        })
    }

    fn method_not_allowed(&self) -> Answer {
        if self.config.other_methods_fall_through {
            return Answer::Miss;
        }
        let mut res = plain(StatusCode::METHOD_NOT_ALLOWED);
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        Answer::Response(res)
    }

    /// Serves a known file; `None` when it changed on disk since it was
    /// remembered.
    async fn serve(&self, entry: &FileEntry, env: &Environ) -> Result<Option<Answer>, Error> {
        let method = env.method();
        let head = method == Method::HEAD;
        if !head && method != Method::GET {
            return Ok(Some(self.method_not_allowed()));
        }
        let request = env.headers();
        let asks = Asks::of(request);
        let encoding = if entry.has_variants() && asks.encoding {
            encoding::negotiate(request, entry.available)
        } else {
            Encoding::Identity
        };
        let variant = entry.variant(encoding);
        let validators = Validators {
            etag: Some(&variant.etag),
            last_modified: Some(variant.stamp.mtime),
        };
        let mut headers = variant.headers.clone();
        if asks.preconditions {
            if let Some(status) = conditional::evaluate(method, request, validators).status() {
                // RFC 9110 §15.4.5: validators, Cache-Control and Vary; no
                // representation metadata.
                for name in [
                    CONTENT_TYPE,
                    ACCEPT_RANGES,
                    X_CONTENT_TYPE_OPTIONS,
                    CONTENT_ENCODING,
                ] {
                    headers.remove(name);
                }
                return Ok(answered(status, headers, Body::empty()));
            }
        }
        let len = variant.stamp.len;
        if head {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
            return Ok(answered(StatusCode::OK, headers, Body::empty()));
        }
        let ranges = match request.get(RANGE).filter(|_| asks.range) {
            Some(value) => {
                let strong =
                    conditional::is_strong_last_modified(variant.stamp.mtime, SystemTime::now());
                if conditional::if_range(request, validators, strong) {
                    range::parse(value, len)
                } else {
                    Ranges::Full
                }
            }
            None => Ranges::Full,
        };
        let (status, pieces) = match ranges {
            Ranges::Partial(ranges) if ranges.len() == 1 => {
                let r = ranges[0];
                headers.insert(CONTENT_RANGE, range::content_range(r, len));
                (
                    StatusCode::PARTIAL_CONTENT,
                    VecDeque::from([Piece::File {
                        start: r.start,
                        end: r.end + 1,
                    }]),
                )
            }
            Ranges::Partial(ranges) => {
                let multipart = Multipart::new(&ranges, len, Some(&entry.content_type));
                // Many small parts, whose framing would make the answer
                // larger than the whole file: send the file.
                if multipart.content_length() > len {
                    (
                        StatusCode::OK,
                        VecDeque::from([Piece::File { start: 0, end: len }]),
                    )
                } else {
                    headers.insert(CONTENT_TYPE, multipart.content_type());
                    let pieces = multipart
                        .segments()
                        .map(|segment| match segment {
                            Segment::Literal(bytes) => Piece::Bytes(Bytes::clone(bytes)),
                            Segment::Range(r) => Piece::File {
                                start: r.start,
                                end: r.end + 1,
                            },
                        })
                        .collect();
                    (StatusCode::PARTIAL_CONTENT, pieces)
                }
            }
            Ranges::Unsatisfiable => {
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_ENCODING);
                headers.insert(CONTENT_RANGE, range::unsatisfied_range(len));
                return Ok(answered(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    headers,
                    Body::empty(),
                ));
            }
            _ => {
                // The common case, from memory.
                if let Some(data) = &variant.data {
                    return Ok(answered(StatusCode::OK, headers, Body::full(data.clone())));
                }
                (
                    StatusCode::OK,
                    VecDeque::from([Piece::File { start: 0, end: len }]),
                )
            }
        };
        let Some(body) = self.body(variant, pieces).await? else {
            return Ok(None);
        };
        Ok(answered(status, headers, body))
    }

    /// The body for `pieces` of `variant`: sliced from memory, or streamed
    /// from the file. `None` when the file changed since it was
    /// remembered.
    async fn body(
        &self,
        variant: &Variant,
        pieces: VecDeque<Piece>,
    ) -> Result<Option<Body>, Error> {
        // One range, or the whole file: no framing around it.
        let single = match (pieces.len(), pieces.front()) {
            (1, Some(&Piece::File { start, end })) => Some((start, end)),
            _ => None,
        };
        if let Some(data) = &variant.data {
            if let Some((start, end)) = single {
                return Ok(Some(Body::full(data.slice(start as usize..end as usize))));
            }
            let mut out = Vec::with_capacity(pieces.iter().map(Piece::len).sum::<u64>() as usize);
            for piece in &pieces {
                match piece {
                    Piece::Bytes(b) => out.extend_from_slice(b),
                    Piece::File { start, end } => {
                        out.extend_from_slice(&data[*start as usize..*end as usize]);
                    }
                }
            }
            return Ok(Some(Body::full(out)));
        }
        let path = variant.path.clone();
        let stamp = variant.stamp;
        let Some(file) = blocking(move || cache::open_checked(&path, stamp)).await?? else {
            return Ok(None);
        };
        let file = Arc::new(file);
        let stream = FileStream::new(file.clone(), pieces, self.config.block_size);
        Ok(Some(match single {
            Some((start, end)) => Body::file(stream, FileHint::new(file, start, end - start)),
            None => Body::new(stream),
        }))
    }

    async fn check_root(&self) -> Result<(), Error> {
        let root = self.config.root.clone();
        let meta = blocking(move || std::fs::metadata(&root)).await?;
        match meta {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(Error::new(format!(
                "static files root {} is not a directory",
                self.config.root.display()
            ))),
            Err(e) => Err(Error::new(format!(
                "static files root {}: {e}",
                self.config.root.display()
            ))),
        }
    }
}

fn new_cache(config: &Config) -> Cache {
    Cache::new(
        config.cache_capacity,
        config.max_entries,
        config.revalidate_after,
    )
}

/// Which of the request's header fields serving a file looks at, found in
/// one pass over the (few) fields instead of a hashed lookup each.
#[derive(Clone, Copy, Default)]
struct Asks {
    preconditions: bool,
    range: bool,
    encoding: bool,
}

impl Asks {
    fn of(request: &HeaderMap) -> Asks {
        use http::header::{
            ACCEPT_ENCODING, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE,
        };
        let mut asks = Asks::default();
        for name in request.keys() {
            if name == IF_NONE_MATCH
                || name == IF_MODIFIED_SINCE
                || name == IF_MATCH
                || name == IF_UNMODIFIED_SINCE
            {
                asks.preconditions = true;
            } else if name == RANGE {
                asks.range = true;
            } else if name == ACCEPT_ENCODING {
                asks.encoding = true;
            }
        }
        asks
    }
}

/// How a request relates to the files.
enum Answer {
    /// Answered here.
    Response(Response),
    /// Under the prefix, but nothing to serve.
    Miss,
    /// Not under the prefix.
    Elsewhere,
}

enum Found {
    File(Arc<FileEntry>),
    Answer(Answer),
}

/// What the disk holds at a path.
enum OnDisk {
    /// A file (for a directory request: its index file, remembered under
    /// the directory).
    File(Box<FileEntry>, bool),
    /// A directory asked for without the trailing slash.
    Directory,
    Listing(Bytes),
    Missing,
    Forbidden,
}

/// Looks `rel` up under the root. Blocking.
fn find_on_disk(config: &Config, rel: &str, dir: bool, title: &str) -> io::Result<OnDisk> {
    let opts = LoadOptions {
        root: &config.root,
        symlinks_outside_root: config.symlinks_outside_root,
        precompressed: config.precompressed,
        max_file: config.max_cached_file,
        cache_control: &config.cache_control,
        html_cache_control: &config.html_cache_control,
        immutable_cache_control: &config.immutable_cache_control,
    };
    let now = SystemTime::now();
    let found = (|| {
        let path = path::resolve(&config.root, rel, config.symlinks_outside_root)?;
        let meta = std::fs::metadata(&path)?;
        if meta.is_file() {
            if dir {
                return Ok(OnDisk::Missing);
            }
            return Ok(OnDisk::File(
                Box::new(cache::load(&opts, rel, path, now)?),
                false,
            ));
        }
        if !meta.is_dir() {
            // FIFOs, sockets, devices: never opened.
            return Ok(OnDisk::Missing);
        }
        if !dir {
            return Ok(if config.redirect_directories {
                OnDisk::Directory
            } else {
                OnDisk::Missing
            });
        }
        if let Some(index) = &config.index {
            let index_rel = if rel.is_empty() {
                index.clone()
            } else {
                format!("{rel}/{index}")
            };
            if let Ok(index_path) =
                path::resolve(&config.root, &index_rel, config.symlinks_outside_root)
            {
                if std::fs::metadata(&index_path).is_ok_and(|m| m.is_file()) {
                    let entry = cache::load(&opts, &index_rel, index_path, now)?;
                    return Ok(OnDisk::File(Box::new(entry), true));
                }
            }
        }
        if config.listing {
            return Ok(OnDisk::Listing(listing::render(
                &path,
                title,
                config.dotfiles,
            )?));
        }
        Ok(OnDisk::Missing)
    })();
    match found {
        Ok(found) => Ok(found),
        Err(e) => classify(e),
    }
}

/// Turns the errors a hostile or stale path can cause into a miss or a
/// `403`; anything else is the server's problem (`500`).
fn classify(e: io::Error) -> io::Result<OnDisk> {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidInput => {
            Ok(OnDisk::Missing)
        }
        io::ErrorKind::PermissionDenied => Ok(OnDisk::Forbidden),
        // A symlink loop, a name too long: no stable `ErrorKind` yet.
        _ if e
            .raw_os_error()
            .is_some_and(|n| LOOP_OR_TOO_LONG.contains(&n)) =>
        {
            Ok(OnDisk::Missing)
        }
        _ => Err(e),
    }
}

/// `ELOOP` and `ENAMETOOLONG`.
#[cfg(any(target_os = "linux", target_os = "android"))]
const LOOP_OR_TOO_LONG: [i32; 2] = [40, 36];
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
const LOOP_OR_TOO_LONG: [i32; 2] = [62, 63];
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)))]
const LOOP_OR_TOO_LONG: [i32; 0] = [];

/// Runs blocking file system work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::new(format!("static files: blocking task failed: {e}")))
}

fn answered(status: StatusCode, headers: HeaderMap, body: Body) -> Option<Answer> {
    Some(Answer::Response(respond(status, headers, body)))
}

fn respond(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A short plain-text response with the status's reason as its body.
fn plain(status: StatusCode) -> Response {
    let mut headers = HeaderMap::with_capacity(2);
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    respond(
        status,
        headers,
        Body::from(status.canonical_reason().unwrap_or("")),
    )
}

/// `301` to the same path with a trailing `/`, the query kept.
fn redirect_to_directory(env: &Environ) -> Response {
    let (script, path, query) = (env.script_name(), env.path_info(), env.query());
    let mut location = String::with_capacity(script.len() + path.len() + query.len() + 2);
    location.push_str(script);
    location.push_str(path);
    location.push('/');
    if !query.is_empty() {
        location.push('?');
        location.push_str(query);
    }
    let Ok(location) = HeaderValue::try_from(location) else {
        return plain(StatusCode::BAD_REQUEST);
    };
    let mut headers = HeaderMap::with_capacity(1);
    headers.insert(LOCATION, location);
    respond(StatusCode::MOVED_PERMANENTLY, headers, Body::empty())
}

fn listing_response(html: Bytes) -> Response {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    respond(StatusCode::OK, headers, Body::full(html))
}

impl Application for StaticFiles {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        match self.answer(&env).await? {
            Answer::Response(res) => Ok(res),
            Answer::Miss | Answer::Elsewhere => Ok(plain(StatusCode::NOT_FOUND)),
        }
    }

    async fn startup(&self) -> Result<(), Error> {
        self.check_root().await
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
        self.files.check_root().await?;
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}
