//! Writing a committed response as `STDOUT` records, then `END_REQUEST`.

use bytes::Bytes;
use futures_util::FutureExt as _;
use gateway_core::Response;
use gateway_core::driver::CommitHints;
use gateway_core::http::StatusCode;
use gateway_core::http::header::CONTENT_LENGTH;
use http_body::Body as _;
use http_body_util::BodyExt as _;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::record::{self, ProtocolStatus, RecordType};

/// Records are gathered in a buffer up to this size before a write.
const COALESCE: usize = 64 * 1024;

/// Body chunks this long are written from their own memory after their
/// record header rather than copied into the buffer.
const NO_COPY: usize = 16 * 1024;

/// The connection's write half, shared by its requests. Each write is of
/// whole records under the lock, so records of multiplexed requests never
/// interleave within a record.
///
/// Writes are cancel-safe: the bytes of a write move into the shared
/// state before the first byte goes out, with how far they went, so a
/// write dropped half-way (a request task aborted by `ABORT_REQUEST`, a
/// loop write past its deadline) leaves its records to the next write,
/// which finishes them before anything else. The record stream stays
/// whole.
#[derive(Debug)]
pub(crate) struct Out<W> {
    w: Mutex<Unsent<W>>,
}

/// The write half and what is still owed to it.
#[derive(Debug)]
struct Unsent<W> {
    w: W,
    /// Whole records, written from `at` on.
    buf: Vec<u8>,
    at: usize,
    /// Written after `buf` (a large body chunk, without a copy).
    tail: Option<Bytes>,
}

impl<W: AsyncWrite + Unpin> Unsent<W> {
    /// Writes what is owed. Each step is one `write`, which either writes
    /// some bytes (counted at once) or none: cancelling between steps or
    /// during one loses nothing.
    async fn flush(&mut self) -> std::io::Result<()> {
        while self.at < self.buf.len() {
            let n = self.w.write(&self.buf[self.at..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.at += n;
        }
        while let Some(tail) = &mut self.tail {
            if tail.is_empty() {
                self.tail = None;
                break;
            }
            let n = self.w.write(tail).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            bytes::Buf::advance(tail, n);
        }
        self.buf.clear();
        self.at = 0;
        Ok(())
    }
}

/// The response could not be finished: the connection must close without
/// the request's `END_REQUEST` (see the crate docs, "errors after the
/// commit").
#[derive(Debug)]
pub(crate) struct Aborted;

impl<W: AsyncWrite + Unpin> Out<W> {
    pub(crate) fn new(w: W) -> Out<W> {
        Out {
            w: Mutex::new(Unsent {
                w,
                buf: Vec::new(),
                at: 0,
                tail: None,
            }),
        }
    }

    /// Writes `buf` (whole records), then `tail` if any, and clears `buf`
    /// (at once, even if the write is cancelled later: the records are
    /// then owed, and the next write sends them first).
    pub(crate) async fn write(
        &self,
        buf: &mut Vec<u8>,
        tail: Option<&Bytes>,
    ) -> Result<(), Aborted> {
        let mut w = self.w.lock().await;
        let mut result = w.flush().await;
        if result.is_ok() {
            // The owed buffer is empty: swap, keeping both allocations.
            std::mem::swap(&mut w.buf, buf);
            w.tail = tail.cloned();
            result = w.flush().await;
        }
        buf.clear();
        result.map_err(|e| {
            tracing::debug!(error = %e, "FastCGI connection: write failed");
            Aborted
        })
    }

    /// Finishes what is owed, then half-closes the connection (no more
    /// records from us).
    pub(crate) async fn shutdown(&self) {
        let mut w = self.w.lock().await;
        if w.flush().await.is_ok() {
            let _ = w.w.shutdown().await;
        }
    }
}

/// Writes `response` for request `id`: one `STDOUT` stream (the CGI
/// response: `Status:`, the header fields, a blank line, the body), an
/// empty `STDOUT` record and `END_REQUEST`. Records are coalesced while
/// the body has frames ready and written before waiting for the next one,
/// so a body writer produces exactly as fast as the web server reads.
pub(crate) async fn respond<W: AsyncWrite + Unpin>(
    out: &Out<W>,
    id: u16,
    response: Response,
    hints: CommitHints,
) -> Result<(), Aborted> {
    let (parts, mut body) = response.into_parts();
    let status = parts.status;
    let bodiless = hints.is_head()
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || (hints.is_connect() && status.is_success());

    // The head goes straight into the first STDOUT record, after a
    // header whose length is filled in once the head is written.
    let mut buf = Vec::with_capacity(512);
    record::put_header(&mut buf, RecordType::Stdout, id, 0);
    let head = &mut buf;
    head.extend_from_slice(b"Status: ");
    head.extend_from_slice(status.as_str().as_bytes());
    if let Some(reason) = status.canonical_reason() {
        head.push(b' ');
        head.extend_from_slice(reason.as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        // A `Status` field would be read as the status line (RFC 3875
        // §6.3.3): the committed status is the one sent.
        if name.as_str() == "status" {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if !bodiless && !parts.headers.contains_key(CONTENT_LENGTH) {
        if let Some(n) = body.size_hint().exact() {
            head.extend_from_slice(b"content-length: ");
            head.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"\r\n");

    let len = buf.len() - record::HEADER_LEN;
    if let Ok(len) = u16::try_from(len) {
        buf[4..6].copy_from_slice(&len.to_be_bytes());
    } else {
        // A head over 64 KiB: split into records.
        let head = buf.split_off(record::HEADER_LEN);
        buf.clear();
        record::put_record(&mut buf, RecordType::Stdout, id, &head);
    }
    if !bodiless {
        loop {
            let frame = match body.frame().now_or_never() {
                Some(frame) => frame,
                None => {
                    // Nothing ready: send what is gathered, then wait.
                    if !buf.is_empty() {
                        out.write(&mut buf, None).await?;
                    }
                    body.frame().await
                }
            };
            let data = match frame {
                None => break,
                Some(Err(e)) => {
                    // Rule 7: the head is gone; abort (no END_REQUEST).
                    // What was produced goes out first, as it would
                    // have without coalescing.
                    tracing::warn!(error = %e, request_id = id, "response body failed after the commit: closing the FastCGI connection");
                    if !buf.is_empty() {
                        out.write(&mut buf, None).await?;
                    }
                    return Err(Aborted);
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    // Trailers cannot be sent through FastCGI.
                    Err(_) => continue,
                },
            };
            if data.is_empty() {
                continue;
            }
            if data.len() >= NO_COPY {
                for chunk in chunks(&data) {
                    record::put_header(&mut buf, RecordType::Stdout, id, chunk.len());
                    out.write(&mut buf, Some(&chunk)).await?;
                }
            } else {
                record::put_record(&mut buf, RecordType::Stdout, id, &data);
                if buf.len() >= COALESCE {
                    out.write(&mut buf, None).await?;
                }
            }
        }
    }
    record::put_record(&mut buf, RecordType::Stdout, id, b"");
    record::put_end_request(&mut buf, id, 0, ProtocolStatus::RequestComplete);
    out.write(&mut buf, None).await
}

/// `data` in record-sized pieces, sharing its memory.
fn chunks(data: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    (0..data.len())
        .step_by(record::MAX_CONTENT_LEN)
        .map(|start| data.slice(start..data.len().min(start + record::MAX_CONTENT_LEN)))
}
