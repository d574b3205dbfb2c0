//! Streaming a file from tokio's blocking pool, one block ahead.
//!
//! hyper owns the socket writes, so `sendfile` is out of reach: the bytes
//! pass through user space. They are read with positioned reads
//! (`pread`) on the blocking pool, never on an async worker, in blocks of
//! [`StaticFiles::block_size`](super::StaticFiles::block_size). While
//! hyper writes one block the next is being read; no more is read until
//! hyper asks for it, so a slow client holds at most the block hyper is
//! writing plus one block of read-ahead.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// One stretch of the response body.
#[derive(Debug)]
pub(super) enum Piece {
    /// Bytes already in memory (multipart framing).
    Bytes(Bytes),
    /// `start..end` of the file.
    File { start: u64, end: u64 },
}

impl Piece {
    pub(super) fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::File { start, end } => end - start,
        }
    }
}

/// A response body read from `file` piece by piece.
pub(super) struct FileStream {
    /// Where the reads run, whichever thread polls the body.
    runtime: Handle,
    file: Arc<File>,
    pieces: VecDeque<Piece>,
    block: u64,
    /// Bytes not yet yielded, for an exact `size_hint`.
    remaining: u64,
    /// The read in flight, and how many bytes it asked for.
    reading: Option<(JoinHandle<io::Result<Bytes>>, u64)>,
}

impl FileStream {
    /// A body of `pieces` in order; `block` is the largest read.
    pub(super) fn new(
        runtime: Handle,
        file: Arc<File>,
        pieces: VecDeque<Piece>,
        block: usize,
    ) -> FileStream {
        let remaining = pieces.iter().map(Piece::len).sum();
        FileStream {
            runtime,
            file,
            pieces,
            block: block.max(1) as u64,
            remaining,
            reading: None,
        }
    }

    /// Starts reading the next block if the next piece is in the file and
    /// nothing is being read.
    fn read_ahead(&mut self) {
        if self.reading.is_some() {
            return;
        }
        let Some(Piece::File { start, end }) = self.pieces.front_mut() else {
            return;
        };
        let offset = *start;
        let n = (*end - offset).min(self.block);
        *start += n;
        if *start == *end {
            self.pieces.pop_front();
        }
        let file = self.file.clone();
        let handle = self
            .runtime
            .spawn_blocking(move || read_block(&file, offset, n));
        self.reading = Some((handle, n));
    }
}

/// Reads exactly `n` bytes at `offset`: a file that shrank since it was
/// looked at ends the body with an error (the response is aborted, so the
/// client sees a truncated response, never a short complete-looking one).
fn read_block(file: &File, offset: u64, n: u64) -> io::Result<Bytes> {
    let mut buf = vec![0; usize::try_from(n).map_err(io::Error::other)?];
    read_exact_at(file, &mut buf, offset)?;
    Ok(Bytes::from(buf))
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl http_body::Body for FileStream {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if let Some((handle, _)) = this.reading.as_mut() {
            let joined = ready!(Pin::new(handle).poll(cx));
            this.reading = None;
            let block = match joined {
                Ok(Ok(block)) => block,
                Ok(Err(e)) => return fail(this, e),
                Err(e) => return fail(this, io::Error::other(e)),
            };
            this.remaining -= block.len() as u64;
            // The next block is read while hyper writes this one.
            this.read_ahead();
            return Poll::Ready(Some(Ok(Frame::data(block))));
        }
        match this.pieces.front() {
            None => Poll::Ready(None),
            Some(Piece::Bytes(_)) => {
                let Some(Piece::Bytes(bytes)) = this.pieces.pop_front() else {
                    unreachable!("front was a Bytes piece")
                };
                this.remaining -= bytes.len() as u64;
                this.read_ahead();
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Some(Piece::File { .. }) => {
                this.read_ahead();
                // Poll the read just started so its waker is registered.
                self.as_mut().poll_frame(cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0 && self.reading.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Ends the body after an error: nothing more is yielded.
fn fail(this: &mut FileStream, e: io::Error) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
    this.pieces.clear();
    this.remaining = 0;
    Poll::Ready(Some(Err(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn temp_file(content: &[u8]) -> (std::path::PathBuf, Arc<File>) {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!(
            "gateway-stream-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        (path, file)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn yields_pieces_in_order_in_blocks() {
        let content: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let (path, file) = temp_file(&content);
        let pieces = VecDeque::from([
            Piece::Bytes(Bytes::from_static(b"<head>")),
            Piece::File {
                start: 10,
                end: 5000,
            },
            Piece::Bytes(Bytes::from_static(b"<mid>")),
            Piece::File {
                start: 9000,
                end: 10_000,
            },
        ]);
        let mut body = FileStream::new(Handle::current(), file, pieces, 1024);
        let expected_len = 6 + 4990 + 5 + 1000;
        assert_eq!(
            http_body::Body::size_hint(&body).exact(),
            Some(expected_len)
        );
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= 1024, "a block larger than the block size");
            got.extend_from_slice(&data);
            frames += 1;
        }
        assert!(http_body::Body::is_end_stream(&body));
        let mut expected = b"<head>".to_vec();
        expected.extend_from_slice(&content[10..5000]);
        expected.extend_from_slice(b"<mid>");
        expected.extend_from_slice(&content[9000..]);
        assert_eq!(got, expected);
        assert_eq!(frames, 2 + 5 + 1);
        std::fs::remove_file(path).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_file_that_shrank_ends_with_an_error() {
        let (path, file) = temp_file(&[7; 100]);
        let pieces = VecDeque::from([Piece::File { start: 0, end: 200 }]);
        let mut body = FileStream::new(Handle::current(), file, pieces, 64);
        let mut error = None;
        while let Some(frame) = body.frame().await {
            if let Err(e) = frame {
                error = Some(e);
                break;
            }
        }
        assert_eq!(error.unwrap().kind(), io::ErrorKind::UnexpectedEof);
        assert!(body.frame().await.is_none(), "nothing after the error");
        std::fs::remove_file(path).unwrap();
    }
}
