//! Answering one request: from `path_info` to a file entry (memory first,
//! the disk when due or missing), then the response for it, step by step:
//! the method, the representation, the preconditions, the ranges, the
//! body.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use gateway_core::body::FileHint;
use gateway_core::{Body, Environ, Error, Response};
use http::header::{
    ACCEPT_ENCODING, ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH,
    CONTENT_RANGE, CONTENT_TYPE, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE,
    RANGE, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::StaticFiles;
use super::cache::{self, FileEntry, Lookup, Variant};
use super::disk::{OnDisk, find_on_disk};
use super::encoding::{self, Encoding};
use super::path::{self, PathError};
use super::range::{self, Multipart, Ranges, Segment};
use super::runtime;
use super::stream::{FileStream, Piece};
use crate::conditional;
use crate::redirect;

/// How a request relates to the files.
pub(super) enum Answer {
    /// Answered here.
    Response(Response),
    /// Under the prefix, but nothing to serve.
    Miss,
    /// Not under the prefix.
    Elsewhere,
}

/// A file entry to serve, or the answer when there is none.
type Found = Result<Arc<FileEntry>, Answer>;

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

impl StaticFiles {
    /// Answers `env`, or says it is not one for static files.
    pub(super) async fn answer(&self, env: &Environ) -> Result<Answer, Error> {
        let Some(below) = self.below_prefix(env.path_info()) else {
            return Ok(Answer::Elsewhere);
        };
        if below.is_empty() {
            // The prefix (or the mount point) itself names the root
            // directory, without its `/`.
            return Ok(if !is_get_or_head(env.method()) {
                self.method_not_allowed()
            } else if self.config.redirect_directories {
                Answer::Response(redirect::add_slash(env))
            } else {
                Answer::Miss
            });
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
            let entry = match self.entry(env, key, dir).await? {
                Ok(entry) => entry,
                Err(answer) => return Ok(answer),
            };
            match self.serve(&entry, env).await? {
                Some(answer) => return Ok(answer),
                None => self.cache().remove(key, dir),
            }
        }
        Err(Error::new("static file keeps changing while it is opened"))
    }

    /// `path_info` below the prefix, or `None` when it is not under it.
    fn below_prefix<'a>(&self, path_info: &'a str) -> Option<&'a str> {
        let rest = path_info.strip_prefix(self.config.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }

    /// The entry for `key`: remembered and fresh, remembered and still
    /// valid on disk, or looked up anew. `Err` when there is no file to
    /// serve and the answer is already known.
    async fn entry(&self, env: &Environ, key: &str, dir: bool) -> Result<Found, Error> {
        let cache = self.cache();
        match cache.get(key, dir) {
            Lookup::Fresh(entry) => Ok(Ok(entry)),
            Lookup::Due(entry) => {
                let checked = entry.clone();
                if runtime::blocking(move || cache::still_valid(&checked)).await? {
                    return Ok(Ok(entry));
                }
                cache.remove(key, dir);
                self.find(env, key, dir).await
            }
            Lookup::Miss if cache.known_missing(key, dir) => Ok(Err(Answer::Miss)),
            Lookup::Miss => self.find(env, key, dir).await,
        }
    }

    /// The slow path: looks `rel` up on disk and remembers what it found.
    async fn find(&self, env: &Environ, rel: &str, dir: bool) -> Result<Found, Error> {
        let files = self.clone();
        let owned = rel.to_owned();
        // Only a listing shows it.
        let title = if self.config.listing {
            format!("{}{}", env.script_name(), env.path_info())
        } else {
            String::new()
        };
        let found = runtime::blocking(move || find_on_disk(&files, &owned, dir, &title)).await??;
        let other = !is_get_or_head(env.method());
        Ok(match found {
            OnDisk::File(entry, index) => Ok(self.cache().insert(rel, index, *entry)),
            OnDisk::Missing => {
                self.cache().insert_missing(rel, dir);
                Err(Answer::Miss)
            }
            OnDisk::Forbidden => Err(Answer::Response(plain(StatusCode::FORBIDDEN))),
            _ if other => Err(self.method_not_allowed()),
            OnDisk::Directory => Err(Answer::Response(redirect::add_slash(env))),
            OnDisk::Listing(html) => Err(Answer::Response(listing_response(html))),
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
        if !is_get_or_head(method) {
            return Ok(Some(self.method_not_allowed()));
        }
        let request = env.headers();
        let asks = Asks::of(request);
        let variant = representation(entry, request, asks);
        let mut headers = variant.headers.clone();
        if asks.preconditions {
            if let Some(status) = precondition(method, request, variant) {
                return Ok(answered(status, without_metadata(headers), Body::empty()));
            }
        }
        let len = variant.stamp.len;
        if method == Method::HEAD {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
            return Ok(answered(StatusCode::OK, headers, Body::empty()));
        }
        let ranges = if asks.range {
            requested_ranges(request, variant)
        } else {
            Ranges::Full
        };
        if let (Ranges::Full, Some(data)) = (&ranges, &variant.data) {
            // The common case, from memory.
            return Ok(answered(StatusCode::OK, headers, Body::full(data.clone())));
        }
        let Some((status, pieces)) = pieces(ranges, entry, len, &mut headers) else {
            headers.remove(CONTENT_TYPE);
            headers.remove(CONTENT_ENCODING);
            headers.insert(CONTENT_RANGE, range::unsatisfied_range(len));
            return Ok(answered(
                StatusCode::RANGE_NOT_SATISFIABLE,
                headers,
                Body::empty(),
            ));
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
        let (path, stamp) = (variant.path.clone(), variant.stamp);
        let Some(file) = runtime::blocking(move || cache::open_checked(&path, stamp)).await??
        else {
            return Ok(None);
        };
        let file = Arc::new(file);
        // The stream keeps the runtime, so it reads on its blocking pool
        // wherever the body is polled.
        let stream = FileStream::new(
            runtime::current()?,
            file.clone(),
            pieces,
            self.config.block_size,
        );
        Ok(Some(match single {
            Some((start, end)) => Body::file(stream, FileHint::new(file, start, end - start)),
            None => Body::new(stream),
        }))
    }
}

fn is_get_or_head(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// The representation to send: a precompressed sibling the request
/// accepts, or the file itself.
fn representation<'e>(entry: &'e FileEntry, request: &HeaderMap, asks: Asks) -> &'e Variant {
    let encoding = if entry.has_variants() && asks.encoding {
        encoding::negotiate(request, entry.available)
    } else {
        Encoding::Identity
    };
    entry.variant(encoding)
}

/// `304` or `412` instead of the representation, when a precondition
/// says so (RFC 9110 §13.2.2).
fn precondition(method: &Method, request: &HeaderMap, variant: &Variant) -> Option<StatusCode> {
    let validators = variant.validators();
    conditional::evaluate(method, request, validators).status()
}

/// RFC 9110 §15.4.5: a `304` keeps the validators, `Cache-Control` and
/// `Vary`, not the representation's metadata.
fn without_metadata(mut headers: HeaderMap) -> HeaderMap {
    for name in [
        CONTENT_TYPE,
        ACCEPT_RANGES,
        X_CONTENT_TYPE_OPTIONS,
        CONTENT_ENCODING,
    ] {
        headers.remove(name);
    }
    headers
}

/// The request's `Range`, if `If-Range` lets it apply.
fn requested_ranges(request: &HeaderMap, variant: &Variant) -> Ranges {
    let Some(value) = request.get(RANGE) else {
        return Ranges::Full;
    };
    let validators = variant.validators();
    let strong = conditional::is_strong_last_modified(variant.stamp.mtime, SystemTime::now());
    if conditional::if_range(request, validators, strong) {
        range::parse(value, variant.stamp.len)
    } else {
        Ranges::Full
    }
}

/// The status and the stretches of a `GET` for `ranges` of a
/// representation of `len` bytes, with the headers they need; `None`
/// when the ranges are unsatisfiable.
fn pieces(
    ranges: Ranges,
    entry: &FileEntry,
    len: u64,
    headers: &mut HeaderMap,
) -> Option<(StatusCode, VecDeque<Piece>)> {
    let whole = || {
        (
            StatusCode::OK,
            VecDeque::from([Piece::File { start: 0, end: len }]),
        )
    };
    Some(match ranges {
        Ranges::Full => whole(),
        Ranges::Unsatisfiable => return None,
        Ranges::Partial(ranges) if ranges.len() == 1 => {
            let r = ranges[0];
            headers.insert(CONTENT_RANGE, range::content_range(r, len));
            let piece = Piece::File {
                start: r.start,
                end: r.end + 1,
            };
            (StatusCode::PARTIAL_CONTENT, VecDeque::from([piece]))
        }
        Ranges::Partial(ranges) => {
            let multipart = Multipart::new(&ranges, len, Some(&entry.content_type));
            // Many small parts, whose framing would make the answer
            // larger than the whole file: send the file.
            if multipart.content_length() > len {
                return Some(whole());
            }
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
    })
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
pub(super) fn plain(status: StatusCode) -> Response {
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
