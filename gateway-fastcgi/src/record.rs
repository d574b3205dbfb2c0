//! The FastCGI record layer (FastCGI 1.0 specification, §3 and §5): the
//! 8-byte header, the record types, `BEGIN_REQUEST` and `END_REQUEST`
//! bodies, and name-value pairs. It does no I/O: [`decode`] takes records
//! out of a buffer, the `put_*` functions append records to one. The
//! server uses it; it is public for tests and for clients that speak
//! FastCGI to a gateway application (a test harness, a load generator).
//!
//! ```
//! use bytes::BytesMut;
//! use gateway_fastcgi::record::{self, RecordType};
//!
//! // A web server's PARAMS record for request 1, then an empty one (the end).
//! let mut pairs = Vec::new();
//! record::put_pair(&mut pairs, b"REQUEST_METHOD", b"GET");
//! let mut wire = Vec::new();
//! record::put_record(&mut wire, RecordType::Params, 1, &pairs);
//! record::put_record(&mut wire, RecordType::Params, 1, b"");
//!
//! let mut buf = BytesMut::from(&wire[..]);
//! let first = record::decode(&mut buf).unwrap().expect("a whole record");
//! assert_eq!((first.kind(), first.request_id()), (RecordType::Params, 1));
//! let pairs: Vec<_> = record::pairs(first.content()).collect::<Result<_, _>>().unwrap();
//! assert_eq!(pairs, [(&b"REQUEST_METHOD"[..], &b"GET"[..])]);
//! assert!(record::decode(&mut buf).unwrap().unwrap().content().is_empty());
//! assert!(record::decode(&mut buf).unwrap().is_none()); // needs more bytes
//! ```
//!
//! # Hostile input
//!
//! Every length comes from the peer and is checked before it is used:
//! a record is at most 8 + 65,535 + 255 bytes by construction, so
//! [`decode`] never buffers more than that for one record; a name-value
//! pair whose lengths run past its record's content is a
//! [`ProtocolError::TruncatedPair`], a `BEGIN_REQUEST` body that is not 8
//! bytes a [`ProtocolError::BadBeginRequest`], a version other than 1 a
//! [`ProtocolError::UnsupportedVersion`]. Nothing here panics on any input
//! (the unit tests feed it every truncation of valid records and random
//! bytes).

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

/// The length of a record header, in bytes.
pub const HEADER_LEN: usize = 8;

/// The largest content of one record, in bytes (a `u16` length).
pub const MAX_CONTENT_LEN: usize = u16::MAX as usize;

/// The protocol version this crate speaks (`FCGI_VERSION_1`).
pub const VERSION_1: u8 = 1;

/// The request id of management records (`FCGI_NULL_REQUEST_ID`).
pub const NULL_REQUEST_ID: u16 = 0;

/// `BEGIN_REQUEST`'s flag asking the application to keep the connection
/// open after the request (`FCGI_KEEP_CONN`).
pub const KEEP_CONN: u8 = 1;

/// A record type (`FCGI_BEGIN_REQUEST` …). Types this crate does not know
/// are kept as [`RecordType::Other`], so that the server can answer
/// `UNKNOWN_TYPE` with the type's number.
///
/// Equality is by number: `RecordType::Other(1) == RecordType::BeginRequest`
/// (an `Other` built by hand with a known number is the same type;
/// [`RecordType::from_u8`] never builds one).
///
/// ```
/// use gateway_fastcgi::record::RecordType;
/// assert_eq!(RecordType::Other(1), RecordType::BeginRequest);
/// assert_eq!(RecordType::from_u8(1), RecordType::BeginRequest);
/// assert!(matches!(RecordType::from_u8(200), RecordType::Other(200)));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RecordType {
    /// 1: starts a request, with its role and flags.
    BeginRequest,
    /// 2: the web server abandons a request.
    AbortRequest,
    /// 3: the application has finished a request.
    EndRequest,
    /// 4: the request's name-value pairs (CGI meta-variables); an empty
    /// record ends them.
    Params,
    /// 5: the request body; an empty record ends it.
    Stdin,
    /// 6: the response (CGI response: header fields, blank line, body).
    Stdout,
    /// 7: error output, logged by the web server.
    Stderr,
    /// 8: the filter role's second input stream.
    Data,
    /// 9: a management query (`FCGI_MAX_CONNS`, `FCGI_MAX_REQS`,
    /// `FCGI_MPXS_CONNS`).
    GetValues,
    /// 10: the answer to `GET_VALUES`.
    GetValuesResult,
    /// 11: the application did not understand a management record.
    UnknownType,
    /// Any other number.
    Other(u8),
}

impl RecordType {
    /// The type of a record header's type byte.
    pub fn from_u8(n: u8) -> RecordType {
        match n {
            1 => RecordType::BeginRequest,
            2 => RecordType::AbortRequest,
            3 => RecordType::EndRequest,
            4 => RecordType::Params,
            5 => RecordType::Stdin,
            6 => RecordType::Stdout,
            7 => RecordType::Stderr,
            8 => RecordType::Data,
            9 => RecordType::GetValues,
            10 => RecordType::GetValuesResult,
            11 => RecordType::UnknownType,
            n => RecordType::Other(n),
        }
    }

    /// The type byte.
    pub fn as_u8(self) -> u8 {
        match self {
            RecordType::BeginRequest => 1,
            RecordType::AbortRequest => 2,
            RecordType::EndRequest => 3,
            RecordType::Params => 4,
            RecordType::Stdin => 5,
            RecordType::Stdout => 6,
            RecordType::Stderr => 7,
            RecordType::Data => 8,
            RecordType::GetValues => 9,
            RecordType::GetValuesResult => 10,
            RecordType::UnknownType => 11,
            RecordType::Other(n) => n,
        }
    }
}

impl PartialEq for RecordType {
    fn eq(&self, other: &RecordType) -> bool {
        self.as_u8() == other.as_u8()
    }
}

impl Eq for RecordType {}

impl std::hash::Hash for RecordType {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_u8().hash(state);
    }
}

/// A malformed record or record body. The server closes the connection
/// on any of them (the stream can no longer be trusted to be in step)
/// after logging the error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The header's version byte is not 1.
    UnsupportedVersion(u8),
    /// A `BEGIN_REQUEST` body that is not exactly 8 bytes long.
    BadBeginRequest(usize),
    /// A name-value pair whose lengths run past the end of its content.
    TruncatedPair,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnsupportedVersion(v) => {
                write!(f, "unsupported FastCGI version {v} (only 1 exists)")
            }
            ProtocolError::BadBeginRequest(n) => {
                write!(f, "BEGIN_REQUEST body of {n} bytes (must be 8)")
            }
            ProtocolError::TruncatedPair => {
                f.write_str("a name-value pair runs past the end of its stream")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// One record: its header fields and content (padding removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    kind: RecordType,
    request_id: u16,
    content: Bytes,
}

impl Record {
    /// The record's content, without padding. Shares the read buffer's
    /// memory: a `STDIN` record becomes a body chunk without a copy.
    pub fn content(&self) -> &Bytes {
        &self.content
    }

    /// The content, taken out of the record (no copy).
    pub fn into_content(self) -> Bytes {
        self.content
    }

    /// The record's type.
    pub fn kind(&self) -> RecordType {
        self.kind
    }

    /// The request the record belongs to; 0 for management records.
    pub fn request_id(&self) -> u16 {
        self.request_id
    }
}

/// Takes the first whole record out of `buf`. Returns `Ok(None)` — and
/// leaves `buf` as it was — when `buf` holds less than a whole record
/// (header, content and padding); read more and call again.
///
/// Fails on a version other than 1; `buf` is then left as it was too, and
/// the stream is unusable.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Record>, ProtocolError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    if header[0] != VERSION_1 {
        return Err(ProtocolError::UnsupportedVersion(header[0]));
    }
    let kind = RecordType::from_u8(header[1]);
    let request_id = u16::from_be_bytes([header[2], header[3]]);
    let content_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let padding_len = usize::from(header[6]);
    if buf.len() < HEADER_LEN + content_len + padding_len {
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    let content = buf.split_to(content_len).freeze();
    buf.advance(padding_len);
    Ok(Some(Record {
        kind,
        request_id,
        content,
    }))
}

/// A role a web server asks the application to play (`BEGIN_REQUEST`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Role {
    /// 1: the request in, a response out (what nginx's `fastcgi_pass`
    /// asks for, and the only role the server plays).
    Responder,
    /// 2: decides whether a request is authorised.
    Authorizer,
    /// 3: filters a file (`DATA`) into a response.
    Filter,
    /// Any other number.
    Other(u16),
}

impl Role {
    /// The role of a `BEGIN_REQUEST`'s role field.
    pub fn from_u16(n: u16) -> Role {
        match n {
            1 => Role::Responder,
            2 => Role::Authorizer,
            3 => Role::Filter,
            n => Role::Other(n),
        }
    }

    /// The role field.
    pub fn as_u16(self) -> u16 {
        match self {
            Role::Responder => 1,
            Role::Authorizer => 2,
            Role::Filter => 3,
            Role::Other(n) => n,
        }
    }
}

/// Equality is by number, as for [`RecordType`]: `Role::Other(1) ==
/// Role::Responder`.
impl PartialEq for Role {
    fn eq(&self, other: &Role) -> bool {
        self.as_u16() == other.as_u16()
    }
}

impl Eq for Role {}

impl std::hash::Hash for Role {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_u16().hash(state);
    }
}

/// A `BEGIN_REQUEST` record's body: the role and the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeginRequest {
    /// The role asked for.
    pub role: Role,
    /// The flags byte ([`KEEP_CONN`]; other bits are reserved).
    pub flags: u8,
}

impl BeginRequest {
    /// Parses a `BEGIN_REQUEST` body: exactly 8 bytes (role, flags, five
    /// reserved bytes, which are ignored).
    pub fn parse(content: &[u8]) -> Result<BeginRequest, ProtocolError> {
        match content {
            [r1, r0, flags, _, _, _, _, _] => Ok(BeginRequest {
                role: Role::from_u16(u16::from_be_bytes([*r1, *r0])),
                flags: *flags,
            }),
            _ => Err(ProtocolError::BadBeginRequest(content.len())),
        }
    }

    /// Whether the web server asked to keep the connection open.
    pub fn keep_conn(&self) -> bool {
        self.flags & KEEP_CONN != 0
    }

    /// Appends this as a `BEGIN_REQUEST` record for request `id` (the web
    /// server's side; for tests and clients).
    pub fn put(&self, out: &mut Vec<u8>, id: u16) {
        let [r1, r0] = self.role.as_u16().to_be_bytes();
        put_record(
            out,
            RecordType::BeginRequest,
            id,
            &[r1, r0, self.flags, 0, 0, 0, 0, 0],
        );
    }
}

/// `END_REQUEST`'s protocol status: how the request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolStatus {
    /// 0: the request was served (or aborted by the web server).
    RequestComplete,
    /// 1: the application does not take a second request on this
    /// connection while one is in flight.
    CantMpxConn,
    /// 2: the application is out of a resource (here: requests per
    /// connection, or draining for shutdown).
    Overloaded,
    /// 3: the role asked for is not played.
    UnknownRole,
}

impl ProtocolStatus {
    /// The status of an `END_REQUEST` body's status byte; `None` for a
    /// number the specification does not define.
    ///
    /// ```
    /// use gateway_fastcgi::record::ProtocolStatus;
    /// assert_eq!(ProtocolStatus::from_u8(3), Some(ProtocolStatus::UnknownRole));
    /// assert_eq!(ProtocolStatus::from_u8(4), None);
    /// ```
    pub fn from_u8(n: u8) -> Option<ProtocolStatus> {
        match n {
            0 => Some(ProtocolStatus::RequestComplete),
            1 => Some(ProtocolStatus::CantMpxConn),
            2 => Some(ProtocolStatus::Overloaded),
            3 => Some(ProtocolStatus::UnknownRole),
            _ => None,
        }
    }

    /// The status byte.
    pub fn as_u8(self) -> u8 {
        match self {
            ProtocolStatus::RequestComplete => 0,
            ProtocolStatus::CantMpxConn => 1,
            ProtocolStatus::Overloaded => 2,
            ProtocolStatus::UnknownRole => 3,
        }
    }
}

/// Appends a record header for `len` bytes of content and no padding.
///
/// # Panics
///
/// If `len` is over [`MAX_CONTENT_LEN`] (a bug in the caller: content is
/// split before it gets here).
pub fn put_header(out: &mut Vec<u8>, kind: RecordType, id: u16, len: usize) {
    let len = u16::try_from(len).expect("record content over 65,535 bytes");
    let [i1, i0] = id.to_be_bytes();
    let [l1, l0] = len.to_be_bytes();
    out.extend_from_slice(&[VERSION_1, kind.as_u8(), i1, i0, l1, l0, 0, 0]);
}

/// Appends `content` as records of type `kind` for request `id`, split
/// into records of at most [`MAX_CONTENT_LEN`] bytes. Empty content
/// appends one empty record (which ends a stream).
pub fn put_record(out: &mut Vec<u8>, kind: RecordType, id: u16, content: &[u8]) {
    if content.is_empty() {
        put_header(out, kind, id, 0);
        return;
    }
    for chunk in content.chunks(MAX_CONTENT_LEN) {
        put_header(out, kind, id, chunk.len());
        out.extend_from_slice(chunk);
    }
}

/// Appends an `END_REQUEST` record for request `id`.
pub fn put_end_request(out: &mut Vec<u8>, id: u16, app_status: u32, status: ProtocolStatus) {
    put_header(out, RecordType::EndRequest, id, 8);
    out.extend_from_slice(&app_status.to_be_bytes());
    out.extend_from_slice(&[status.as_u8(), 0, 0, 0]);
}

/// Appends an `UNKNOWN_TYPE` record naming `kind` (a management record
/// the application did not understand).
pub fn put_unknown_type(out: &mut Vec<u8>, kind: u8) {
    put_header(out, RecordType::UnknownType, NULL_REQUEST_ID, 8);
    out.extend_from_slice(&[kind, 0, 0, 0, 0, 0, 0, 0]);
}

/// Appends one name-value pair: each length in 1 byte when under 128,
/// else in 4 (high bit set).
///
/// # Panics
///
/// If a name or value is 2 GiB or longer (the format cannot say it).
pub fn put_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    for len in [name.len(), value.len()] {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let len = u32::try_from(len)
                .ok()
                .filter(|n| *n <= 0x7fff_ffff)
                .expect("a name or value of 2 GiB or more");
            out.extend_from_slice(&(len | 0x8000_0000).to_be_bytes());
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

/// The name-value pairs in `content` (a whole `PARAMS` stream, or a
/// `GET_VALUES` body), in order. Yields [`ProtocolError::TruncatedPair`]
/// once, then nothing, when a pair runs past the end.
pub fn pairs(content: &[u8]) -> Pairs<'_> {
    Pairs { rest: content }
}

/// The iterator of [`pairs`].
#[derive(Debug, Clone)]
pub struct Pairs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), ProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let pair = next_pair(self.rest);
        match pair {
            Some((name, value, rest)) => {
                self.rest = rest;
                Some(Ok((name, value)))
            }
            None => {
                self.rest = &[];
                Some(Err(ProtocolError::TruncatedPair))
            }
        }
    }
}

/// One pair and the rest, or `None` if the input is too short.
fn next_pair(input: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (name_len, input) = read_len(input)?;
    let (value_len, input) = read_len(input)?;
    let name = input.get(..name_len)?;
    let input = &input[name_len..];
    let value = input.get(..value_len)?;
    Some((name, value, &input[value_len..]))
}

fn read_len(input: &[u8]) -> Option<(usize, &[u8])> {
    let first = *input.first()?;
    if first < 0x80 {
        return Some((usize::from(first), &input[1..]));
    }
    let bytes: [u8; 4] = input.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(bytes) & 0x7fff_ffff;
    Some((usize::try_from(len).ok()?, &input[4..]))
}

#[cfg(test)]
mod tests;
