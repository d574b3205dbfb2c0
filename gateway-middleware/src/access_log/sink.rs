//! Where lines go: `tracing`, or a writer fed by a background thread from
//! an in-memory buffer, so that the request path never does I/O and never
//! waits for it.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How often the background thread writes what has accumulated.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

/// How much accumulated text wakes the background thread early.
const WAKE_AT: usize = 64 * 1024;

/// The default bound of the in-memory buffer.
pub(crate) const DEFAULT_LIMIT: usize = 1024 * 1024;

/// The least time between two reports of write errors or dropped lines.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A line's destination.
#[derive(Clone, Debug, Default)]
pub(crate) enum Sink {
    /// One `tracing` event per line, target `access`, level INFO.
    #[default]
    Tracing,
    /// A writer behind the buffer.
    Writer(Arc<WriterSink>),
}

impl Sink {
    /// Hands over one line (ASCII, ending in `\n`).
    pub(crate) fn emit(&self, line: &[u8]) {
        match self {
            Sink::Tracing => {
                let text = std::str::from_utf8(line.strip_suffix(b"\n").unwrap_or(line));
                tracing::info!(target: "access", "{}", text.unwrap_or_default());
            }
            Sink::Writer(w) => w.push(line),
        }
    }
}

/// The handle to a buffered writer. When the last one drops, what is
/// buffered is written and the background thread ends.
pub(crate) struct WriterSink {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// The writer and a spare buffer; held while writing, so writes keep
    /// the lines' order.
    out: Mutex<Out>,
    limit: AtomicUsize,
    dropped_total: AtomicU64,
    thread: OnceLock<()>,
}

struct State {
    buf: Vec<u8>,
    /// Lines dropped since the last report.
    dropped: u64,
    closed: bool,
}

struct Out {
    writer: Box<dyn Write + Send>,
    spare: Vec<u8>,
    last_report: Option<Instant>,
    unreported_errors: u64,
}

impl fmt::Debug for WriterSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterSink").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WriterSink {
    /// A sink for `writer`; no thread yet, no I/O.
    pub(crate) fn new(writer: Box<dyn Write + Send>, limit: usize) -> WriterSink {
        WriterSink {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    buf: Vec::new(),
                    dropped: 0,
                    closed: false,
                }),
                wake: Condvar::new(),
                out: Mutex::new(Out {
                    writer,
                    spare: Vec::new(),
                    last_report: None,
                    unreported_errors: 0,
                }),
                limit: AtomicUsize::new(limit),
                dropped_total: AtomicU64::new(0),
                thread: OnceLock::new(),
            }),
        }
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        self.shared.limit.store(limit, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// Appends `line` to the buffer, or drops and counts it past the
    /// limit. A short critical section: a length check and a copy.
    fn push(&self, line: &[u8]) {
        let shared = &self.shared;
        shared.thread.get_or_init(|| shared.start());
        let limit = shared.limit.load(Ordering::Relaxed);
        let mut state = lock(&shared.state);
        if state.buf.len() + line.len() > limit {
            state.dropped += 1;
            drop(state);
            shared.dropped_total.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_below = state.buf.len() < WAKE_AT;
        state.buf.extend_from_slice(line);
        let wake = was_below && state.buf.len() >= WAKE_AT;
        drop(state);
        if wake {
            shared.wake.notify_one();
        }
    }

    /// Writes out and flushes what is buffered, on the calling thread.
    pub(crate) fn flush(&self) {
        self.shared.write_out();
    }
}

impl Drop for WriterSink {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.wake.notify_one();
        self.shared.write_out();
    }
}

impl Shared {
    /// Starts the background writer. Should the thread not start, lines
    /// wait for [`WriterSink::flush`] or the last handle's drop (and are
    /// dropped past the limit).
    fn start(self: &Arc<Shared>) {
        let shared = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name("access-log".to_owned())
            .spawn(move || shared.run());
        if let Err(e) = started {
            tracing::error!(error = %e, "AccessLog: could not start its writer thread");
        }
    }

    fn run(&self) {
        loop {
            let mut state = lock(&self.state);
            while !state.closed && state.buf.len() < WAKE_AT {
                let (s, timeout) = self
                    .wake
                    .wait_timeout(state, INTERVAL)
                    .unwrap_or_else(|e| e.into_inner());
                state = s;
                if timeout.timed_out() {
                    break;
                }
            }
            if state.closed {
                return;
            }
            drop(state);
            self.write_out();
        }
    }

    /// Swaps the buffer out under the state lock (held for a swap only)
    /// and writes it under the writer's lock.
    fn write_out(&self) {
        let mut out = lock(&self.out);
        let mut batch = std::mem::take(&mut out.spare);
        let dropped = {
            let mut state = lock(&self.state);
            std::mem::swap(&mut state.buf, &mut batch);
            std::mem::take(&mut state.dropped)
        };
        let mut failed = None;
        if !batch.is_empty() {
            if let Err(e) = out.writer.write_all(&batch) {
                failed = Some(e);
            }
        }
        if failed.is_none() {
            failed = out.writer.flush().err();
        }
        batch.clear();
        out.spare = batch;
        out.report(failed, dropped);
    }
}

impl Out {
    /// Reports write errors and dropped lines through `tracing`, at most
    /// once every [`REPORT_EVERY`], with counts of what was held back.
    fn report(&mut self, failed: Option<io::Error>, dropped: u64) {
        if failed.is_none() && dropped == 0 {
            return;
        }
        self.unreported_errors += u64::from(failed.is_some());
        let now = Instant::now();
        if self
            .last_report
            .is_some_and(|at| now.duration_since(at) < REPORT_EVERY)
        {
            return;
        }
        self.last_report = Some(now);
        if let Some(e) = failed {
            tracing::error!(
                error = %e,
                failures = self.unreported_errors,
                "AccessLog: writing the log failed; those lines are lost"
            );
            self.unreported_errors = 0;
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "AccessLog: lines dropped, the writer is behind and the buffer full"
            );
        }
    }
}

/// A writer that keeps what is written in memory, for tests: clones share
/// the same bytes.
///
/// ```
/// use gateway_middleware::access_log::MemoryLog;
/// use std::io::Write;
///
/// let log = MemoryLog::new();
/// log.clone().write_all(b"one\ntwo\n").unwrap();
/// assert_eq!(log.lines(), ["one", "two"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryLog(Arc<Mutex<Vec<u8>>>);

impl MemoryLog {
    /// An empty log.
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    /// Everything written, as text (bytes that are not UTF-8 replaced;
    /// the access log writes ASCII only).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }

    /// The complete lines written, without their `\n`.
    pub fn lines(&self) -> Vec<String> {
        let text = self.text();
        text.split_terminator('\n').map(str::to_owned).collect()
    }

    /// Everything written, as bytes.
    pub fn bytes(&self) -> Vec<u8> {
        lock(&self.0).clone()
    }
}

impl Write for MemoryLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
