//! One FastCGI connection: reads records, runs each request in its own
//! task through the driver, and writes the responses.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gateway_core::driver::{self, CommitHints};
use gateway_core::http::StatusCode;
use gateway_core::{Application, Body, Environ, Error, RootPath};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use crate::params;
use crate::record::{self, BeginRequest, ProtocolStatus, Record, RecordType, Role};
use crate::respond::{self, Aborted, Out};
use crate::stdin::{self, Flow, StdinTx};

mod slot;
use slot::{Limit, Params};

/// The server's phase, as connections see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// Finish the requests in flight, then close.
    Draining,
    /// The drain deadline passed: close now, dropping every request.
    Abort,
}

/// What a connection needs to know of the server.
#[derive(Debug)]
pub(crate) struct Shared<A> {
    pub(crate) app: A,
    pub(crate) max_head: usize,
    pub(crate) max_body: u64,
    pub(crate) max_requests: usize,
    pub(crate) idle_timeout: Option<Duration>,
    /// From `BEGIN_REQUEST` to the end of `PARAMS` (408 past it).
    pub(crate) header_read_timeout: Option<Duration>,
    pub(crate) root_path: Option<RootPath>,
    /// `FCGI_MAX_CONNS` and `FCGI_MAX_REQS` for `GET_VALUES`.
    pub(crate) max_conns: usize,
}

/// How long a closing connection keeps reading (and discarding) what the
/// web server still sends, so that closing does not reset the connection
/// under a response it has not read yet.
const LINGER: Duration = Duration::from_secs(1);

/// How far off "no deadline" is (a sleep must have one).
const FAR: Duration = Duration::from_secs(86400 * 365);

/// The state of one request id on the connection.
enum Slot {
    /// Receiving `PARAMS`; once they are `complete`, waiting for the
    /// first `STDIN` record, which starts the request (an empty one:
    /// there is no body, and the request gets an empty body without a
    /// queue).
    Params {
        params: Params,
        keep_conn: bool,
        complete: bool,
        /// When the params must be complete (the header-read timeout);
        /// set by [`Conn::head_deadline`] once the records read with the
        /// `BEGIN_REQUEST` have been handled.
        deadline: Option<Instant>,
    },
    /// The request runs; `stdin` feeds its body until the stream
    /// `ended`.
    Running {
        stdin: Option<StdinTx>,
        ended: bool,
        task: AbortHandle,
        keep_conn: bool,
        /// `STDIN` bytes received so far, counted as they arrive.
        received: u64,
        /// The most `STDIN` may hold: `CONTENT_LENGTH` if given, else the
        /// body limit.
        limit: Limit,
        hints: CommitHints,
    },
    /// Answered; the rest of `STDIN` is discarded until its end.
    Answered,
}

/// A request task's result.
struct Done {
    id: u16,
    result: Result<(), Aborted>,
}

type Pending = Pin<Box<dyn Future<Output = (u16, bool)> + Send>>;

struct Conn<A, W> {
    shared: Arc<Shared<A>>,
    out: Arc<Out<W>>,
    slots: HashMap<u16, Slot>,
    tasks: JoinSet<Done>,
    /// A `STDIN` chunk waiting for room in its request's queue; no record
    /// is read meanwhile.
    pending: Option<Pending>,
    /// Close once no request is in flight (a request without
    /// `FCGI_KEEP_CONN` was answered, or the server drains).
    closing: bool,
}

/// Why the record loop stopped.
enum Stop {
    /// Orderly: half-close and linger.
    Close,
    /// Abruptly: a protocol error, an aborted response, the peer gone.
    Drop,
}

/// Serves one connection, split into its read and write halves (owned
/// halves: no lock between them), until it closes.
pub(crate) async fn serve<A, R, W>(
    mut rd: R,
    wr: W,
    shared: Arc<Shared<A>>,
    mut phase: watch::Receiver<Phase>,
) where
    A: Application,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = Conn {
        shared,
        out: Arc::new(Out::new(wr)),
        slots: HashMap::new(),
        tasks: JoinSet::new(),
        pending: None,
        closing: false,
    };
    let stop = conn.run(&mut rd, &mut phase).await;
    // Dropping the tasks drops every request still in flight (their
    // application futures and bodies): the connection is gone.
    conn.tasks.shutdown().await;
    if let Stop::Close = stop {
        // Bounded: a peer that does not read cannot hold the connection
        // (nor the server's drain) open.
        let _ = tokio::time::timeout(LINGER, conn.out.shutdown()).await;
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(LINGER, async {
            while matches!(rd.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

impl<A: Application, W: AsyncWrite + Unpin + Send + 'static> Conn<A, W> {
    async fn run<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        phase: &mut watch::Receiver<Phase>,
    ) -> Stop {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let idle = self.shared.idle_timeout;
        let sleep = tokio::time::sleep(idle.unwrap_or(FAR));
        tokio::pin!(sleep);
        // The earliest head deadline of the requests still receiving
        // params, and the one `head` is set to.
        let head_timeout = self.shared.header_read_timeout;
        let head = tokio::time::sleep(FAR);
        tokio::pin!(head);
        let mut head_set = None;
        if *phase.borrow() != Phase::Running {
            self.closing = true;
        }
        loop {
            // Handle every whole record already read, unless one waits
            // for room in a request's queue.
            while self.pending.is_none() {
                match record::decode(&mut buf) {
                    Ok(Some(rec)) => {
                        // The loop's own writes (GET_VALUES answers,
                        // UNKNOWN_TYPE, refusals, ABORT's END_REQUEST) wait
                        // for a peer that may never read: they are raced
                        // against the idle timeout and the drain deadline
                        // (writes are cancel-safe, see `Out`).
                        let mut abort = phase.clone();
                        let stop = tokio::select! {
                            biased;
                            handled = self.record(rec) => handled.err(),
                            _ = abort.wait_for(|p| *p == Phase::Abort) => Some(Stop::Drop),
                            () = tokio::time::sleep(idle.unwrap_or(FAR)) => {
                                tracing::debug!("FastCGI connection: the peer does not read; dropping it");
                                Some(Stop::Drop)
                            }
                        };
                        if let Some(stop) = stop {
                            return stop;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "FastCGI protocol error: closing the connection");
                        return Stop::Drop;
                    }
                }
            }
            if self.closing && self.tasks.is_empty() && !self.has_open_requests() {
                return Stop::Close;
            }
            let head_due = match head_timeout {
                Some(timeout) if !self.slots.is_empty() => self.head_deadline(timeout),
                _ => None,
            };
            if let Some(due) = head_due.filter(|due| head_set != Some(*due)) {
                head_set = Some(due);
                head.as_mut().reset(due);
            }
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(16 * 1024);
            }
            // The idle timer runs while no request is in flight, and while
            // one waits for `STDIN` that the peer owes (not while the
            // reading pauses for an application's queue).
            let owed = self.pending.is_none()
                && self.slots.values().any(|s| {
                    matches!(
                        s,
                        Slot::Params { complete: true, .. }
                            | Slot::Running { ended: false, .. }
                            | Slot::Answered
                    )
                });
            let timed = idle.is_some() && (self.tasks.is_empty() || owed);
            tokio::select! {
                biased;
                done = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    match done {
                        Some(Ok(done)) => {
                            if let Err(stop) = self.finished(done) {
                                return stop;
                            }
                            // Idle from the answer on, not from the last
                            // read: a long request must not leave the
                            // connection to close just as nginx reuses it.
                            if let Some(idle) = idle {
                                sleep.as_mut().reset(Instant::now() + idle);
                            }
                        }
                        Some(Err(e)) if e.is_cancelled() => {}
                        Some(Err(e)) => {
                            tracing::error!(error = %e, "FastCGI request task failed: closing the connection");
                            return Stop::Drop;
                        }
                        None => {}
                    }
                }
                changed = phase.changed() => {
                    match changed.map(|()| *phase.borrow()) {
                        Ok(Phase::Running) => {}
                        Ok(Phase::Draining) => self.closing = true,
                        Ok(Phase::Abort) | Err(_) => return Stop::Drop,
                    }
                }
                () = &mut head, if head_due.is_some() => {
                    // Set again next time round, even to the same instant.
                    head_set = None;
                    self.heads_timed_out();
                }
                sent = async { self.pending.as_mut().expect("guarded").await }, if self.pending.is_some() => {
                    self.pending = None;
                    let _ = sent;
                }
                read = rd.read_buf(&mut buf), if self.pending.is_none() => {
                    match read {
                        Ok(0) => {
                            if !buf.is_empty() {
                                tracing::debug!(bytes = buf.len(), "FastCGI connection closed inside a record");
                            }
                            return Stop::Drop;
                        }
                        Ok(_) => {
                            if let Some(idle) = idle {
                                sleep.as_mut().reset(Instant::now() + idle);
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "FastCGI connection: read failed");
                            return Stop::Drop;
                        }
                    }
                }
                () = &mut sleep, if timed => {
                    if self.tasks.is_empty() {
                        tracing::debug!("FastCGI connection idle: closing");
                        return Stop::Close;
                    }
                    tracing::debug!("FastCGI connection: no STDIN within the idle timeout; dropping its requests");
                    return Stop::Drop;
                }
            }
        }
    }

    /// The earliest deadline of the requests whose params are not
    /// complete, starting the clock of those that have none yet. A
    /// request's clock starts here, after the records read with its
    /// `BEGIN_REQUEST` have been handled: params that came in the same
    /// read (nginx writes them together) cost no clock reading.
    fn head_deadline(&mut self, timeout: Duration) -> Option<Instant> {
        let mut now = None;
        let mut earliest: Option<Instant> = None;
        for slot in self.slots.values_mut() {
            if let Slot::Params {
                complete: false,
                deadline,
                ..
            } = slot
            {
                let due = *deadline.get_or_insert_with(|| {
                    let now = *now.get_or_insert_with(Instant::now);
                    now.checked_add(timeout).unwrap_or(now + FAR)
                });
                earliest = Some(earliest.map_or(due, |e| e.min(due)));
            }
        }
        earliest
    }

    /// Answers 408 to every request whose params missed their deadline;
    /// the connection then closes after its requests in flight, as after
    /// any answer given before the request's end (see [`Conn::finished`]).
    #[cold]
    fn heads_timed_out(&mut self) {
        let now = Instant::now();
        let late: Vec<u16> = self
            .slots
            .iter()
            .filter_map(|(id, slot)| match slot {
                Slot::Params {
                    complete: false,
                    deadline: Some(due),
                    ..
                } if *due <= now => Some(*id),
                _ => None,
            })
            .collect();
        for id in late {
            if let Some(Slot::Params { keep_conn, .. }) = self.slots.remove(&id) {
                tracing::debug!(
                    request_id = id,
                    "FastCGI params not complete within the header-read timeout: 408"
                );
                let err = Error::with_status(
                    StatusCode::REQUEST_TIMEOUT,
                    "the FastCGI params did not arrive within the header-read timeout",
                );
                let hints = params::fallback_hints();
                let task = self.spawn(id, Job::Refuse(err), hints);
                self.slots.insert(
                    id,
                    Slot::Running {
                        stdin: None,
                        ended: false,
                        task,
                        keep_conn,
                        received: 0,
                        limit: Limit::Max(u64::MAX),
                        hints,
                    },
                );
            }
        }
    }

    /// Whether a request is between `BEGIN_REQUEST` and its answer.
    fn has_open_requests(&self) -> bool {
        self.slots.values().any(|s| !matches!(s, Slot::Answered))
    }

    fn active_requests(&self) -> usize {
        self.slots
            .values()
            .filter(|s| !matches!(s, Slot::Answered))
            .count()
    }

    async fn record(&mut self, rec: Record) -> Result<(), Stop> {
        let id = rec.request_id();
        match rec.kind() {
            RecordType::BeginRequest => self.begin(id, rec.content()).await,
            RecordType::Params => {
                self.params(id, rec.into_content());
                Ok(())
            }
            RecordType::Stdin => {
                self.stdin(id, rec.into_content());
                Ok(())
            }
            RecordType::AbortRequest => self.abort(id).await,
            RecordType::GetValues if id == record::NULL_REQUEST_ID => {
                self.get_values(rec.content()).await
            }
            // Records only an application sends, and DATA (the filter
            // role's): ignored, as the specification says of records it
            // does not expect.
            RecordType::EndRequest
            | RecordType::Stdout
            | RecordType::Stderr
            | RecordType::Data
            | RecordType::GetValuesResult
            | RecordType::UnknownType
            | RecordType::GetValues => Ok(()),
            other => {
                let mut buf = Vec::with_capacity(16);
                record::put_unknown_type(&mut buf, other.as_u8());
                self.out
                    .write(&mut buf, None)
                    .await
                    .map_err(|Aborted| Stop::Drop)
            }
        }
    }

    async fn begin(&mut self, id: u16, content: &[u8]) -> Result<(), Stop> {
        if id == record::NULL_REQUEST_ID {
            tracing::warn!("FastCGI BEGIN_REQUEST with request id 0: closing the connection");
            return Err(Stop::Drop);
        }
        let begin = BeginRequest::parse(content).map_err(|e| {
            tracing::warn!(error = %e, "FastCGI protocol error: closing the connection");
            Stop::Drop
        })?;
        match self.slots.get(&id) {
            None | Some(Slot::Answered) => {}
            Some(_) => {
                tracing::warn!(
                    request_id = id,
                    "FastCGI BEGIN_REQUEST for a request id in use: closing the connection"
                );
                return Err(Stop::Drop);
            }
        }
        let refusal = if begin.role != Role::Responder {
            Some(ProtocolStatus::UnknownRole)
        } else if self.active_requests() >= self.shared.max_requests {
            Some(ProtocolStatus::Overloaded)
        } else {
            None
        };
        if let Some(status) = refusal {
            self.slots.remove(&id);
            let mut buf = Vec::with_capacity(16);
            record::put_end_request(&mut buf, id, 0, status);
            self.out
                .write(&mut buf, None)
                .await
                .map_err(|Aborted| Stop::Drop)?;
            if !begin.keep_conn() {
                self.closing = true;
            }
            return Ok(());
        }
        self.slots.insert(
            id,
            Slot::Params {
                params: Params::Empty,
                keep_conn: begin.keep_conn(),
                complete: false,
                deadline: None,
            },
        );
        Ok(())
    }

    fn params(&mut self, id: u16, content: Bytes) {
        let Some(Slot::Params {
            params, complete, ..
        }) = self.slots.get_mut(&id)
        else {
            return; // not a request in its params: ignored
        };
        if *complete {
            return;
        }
        if content.is_empty() {
            *complete = true;
            return;
        }
        params.push(content, self.shared.max_head);
        if matches!(params, Params::TooLarge) {
            tracing::debug!(
                request_id = id,
                limit = self.shared.max_head,
                "FastCGI params over the head limit: 431"
            );
        }
    }

    /// The params are complete and the first `STDIN` record is here:
    /// build the environ and run the request.
    fn start(&mut self, id: u16, params: Params, keep_conn: bool, first: Bytes) {
        let shared = self.shared.clone();
        let built = match &params {
            Params::TooLarge => Err((
                Error::with_status(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "FastCGI params over the head limit",
                ),
                params::fallback_hints(),
            )),
            Params::Empty => params::head(&[], shared.max_body),
            Params::One(p) => params::head(p, shared.max_body),
            Params::Many(p) => params::head(p, shared.max_body),
        };
        // The read buffer is whole again before the next read.
        drop(params);
        let ended = first.is_empty();
        let received = first.len() as u64;
        let mut limit = Limit::Max(u64::MAX);
        let (stdin, job, hints): (Option<StdinTx>, Job, CommitHints) = match built {
            Err((err, hints)) => (None, Job::Refuse(err), hints),
            Ok(head) => {
                limit = match head.content_length {
                    Some(n) => Limit::Exact(n),
                    None => Limit::Max(shared.max_body),
                };
                let (stdin, body, flow) = if ended && head.content_length.unwrap_or(0) == 0 {
                    // No body: nothing to queue, nothing to wait for.
                    (None, Body::empty(), None)
                } else {
                    let (tx, body, flow) = stdin::queue(head.content_length);
                    let body = Body::new(body);
                    let body = if head.content_length.is_none() {
                        body.with_limit(shared.max_body)
                    } else {
                        body
                    };
                    if received <= limit.bytes() {
                        let _ = tx.send(first);
                    }
                    if ended {
                        tx.end();
                        (None, body, Some(flow))
                    } else {
                        (Some(tx), body, Some(flow))
                    }
                };
                let hints = head.hints;
                let mut env = Environ::from_parts(head.parts, body, head.conn);
                if let Some(root) = &shared.root_path {
                    env.set_root_path(Some(root.clone()));
                }
                if let Some(script) = head.script_name.as_deref() {
                    env.mount(script);
                }
                (stdin, Job::Run(env, flow), hints)
            }
        };
        let task = self.spawn(id, job, hints);
        self.slots.insert(
            id,
            Slot::Running {
                stdin,
                ended,
                task,
                keep_conn,
                received,
                limit,
                hints,
            },
        );
        if received > limit.bytes() {
            self.overflow(id);
        }
    }

    /// Runs `job` for request `id` in its own task.
    fn spawn(&mut self, id: u16, job: Job, hints: CommitHints) -> AbortHandle {
        let shared = self.shared.clone();
        let out = self.out.clone();
        self.tasks.spawn(async move {
            let result = match job {
                Job::Refuse(err) => {
                    let response = driver::error_response(&err, hints);
                    respond::respond(&out, id, response, hints).await
                }
                Job::Run(env, flow) => {
                    let Ok(response) = driver::commit(&shared.app, env).await;
                    // Nothing is written before the request's body has
                    // arrived: nginx stops sending the body once the
                    // response begins (see the crate docs).
                    if let Some(flow) = flow {
                        flow.commit();
                        flow.ended().await;
                    }
                    respond::respond(&out, id, response, hints).await
                }
            };
            Done { id, result }
        })
    }

    /// Request `id` sent more `STDIN` than its limit: nothing more is
    /// queued, the application is dropped (nothing of its response has
    /// been written: that waits for the end of `STDIN`), and the answer
    /// is 413 (or 400 past `CONTENT_LENGTH`). The rest of `STDIN` is
    /// discarded; as for every answer given before the end of `STDIN`,
    /// the connection closes after it unless that end has come by then
    /// (see [`Conn::finished`]).
    fn overflow(&mut self, id: u16) {
        let Some(Slot::Running {
            stdin,
            task,
            limit,
            hints,
            ..
        }) = self.slots.get_mut(&id)
        else {
            return;
        };
        tracing::debug!(
            request_id = id,
            limit = limit.bytes(),
            "FastCGI STDIN over its limit: refused"
        );
        task.abort();
        *stdin = None;
        let (err, hints) = (limit.error(), *hints);
        let new = self.spawn(id, Job::Refuse(err), hints);
        if let Some(Slot::Running { task, .. }) = self.slots.get_mut(&id) {
            *task = new;
        }
    }

    fn stdin(&mut self, id: u16, content: Bytes) {
        let end = content.is_empty();
        match self.slots.get_mut(&id) {
            Some(Slot::Params { complete: true, .. }) => {
                if let Some(Slot::Params {
                    params, keep_conn, ..
                }) = self.slots.remove(&id)
                {
                    self.start(id, params, keep_conn, content);
                }
            }
            Some(Slot::Running {
                stdin,
                ended,
                received,
                limit,
                ..
            }) => {
                if stdin.is_some() {
                    *received += content.len() as u64;
                    if *received > limit.bytes() {
                        if end {
                            *ended = true;
                        }
                        self.overflow(id);
                        return;
                    }
                }
                if let Some(tx) = stdin.as_ref() {
                    // A body that is gone discards what follows.
                    if tx.send(content).is_ok() && tx.is_full() {
                        let room = tx.room();
                        self.pending = Some(Box::pin(async move { (id, room.await) }));
                    }
                    if end {
                        // The body sees its end (the empty chunk); the
                        // response may start.
                        tx.end();
                        *stdin = None;
                    }
                }
                if end {
                    *ended = true;
                }
            }
            Some(Slot::Answered) if end => {
                self.slots.remove(&id);
            }
            // Before the params end, after the answer, or unknown: ignored.
            _ => {}
        }
    }

    async fn abort(&mut self, id: u16) -> Result<(), Stop> {
        let keep_conn = match self.slots.remove(&id) {
            Some(Slot::Running {
                task, keep_conn, ..
            }) => {
                // Drops the application's future (or body) at once.
                task.abort();
                keep_conn
            }
            Some(Slot::Params { keep_conn, .. }) => keep_conn,
            Some(Slot::Answered) | None => return Ok(()),
        };
        tracing::debug!(request_id = id, "FastCGI ABORT_REQUEST: request dropped");
        let mut buf = Vec::with_capacity(16);
        record::put_end_request(&mut buf, id, 1, ProtocolStatus::RequestComplete);
        self.out
            .write(&mut buf, None)
            .await
            .map_err(|Aborted| Stop::Drop)?;
        if !keep_conn {
            self.closing = true;
        }
        Ok(())
    }

    fn finished(&mut self, done: Done) -> Result<(), Stop> {
        if done.result.is_err() {
            return Err(Stop::Drop);
        }
        let keep_conn = match self.slots.get(&done.id) {
            Some(Slot::Running {
                ended, keep_conn, ..
            }) => {
                let keep_conn = *keep_conn;
                if *ended {
                    self.slots.remove(&done.id);
                    keep_conn
                } else {
                    // Answered before its body ended (a refusal): nginx
                    // stops sending a body once the response has begun,
                    // so the rest may never come.
                    self.slots.insert(done.id, Slot::Answered);
                    false
                }
            }
            _ => true,
        };
        if !keep_conn {
            self.closing = true;
        }
        Ok(())
    }

    async fn get_values(&mut self, content: &[u8]) -> Result<(), Stop> {
        let mut pairs = Vec::new();
        for pair in record::pairs(content) {
            let Ok((name, _)) = pair else {
                tracing::warn!("malformed FastCGI GET_VALUES: closing the connection");
                return Err(Stop::Drop);
            };
            let value = match name {
                b"FCGI_MAX_CONNS" => self.shared.max_conns.to_string(),
                b"FCGI_MAX_REQS" => self
                    .shared
                    .max_conns
                    .saturating_mul(self.shared.max_requests)
                    .to_string(),
                // Requests are multiplexed: each runs in its own task.
                b"FCGI_MPXS_CONNS" => "1".to_owned(),
                _ => continue,
            };
            record::put_pair(&mut pairs, name, value.as_bytes());
        }
        let mut buf = Vec::with_capacity(pairs.len() + 8);
        record::put_record(
            &mut buf,
            RecordType::GetValuesResult,
            record::NULL_REQUEST_ID,
            &pairs,
        );
        self.out
            .write(&mut buf, None)
            .await
            .map_err(|Aborted| Stop::Drop)
    }
}

/// What a request task does. Built once and moved into its task, so the
/// size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Job {
    /// Answer with the driver's error response, without the application.
    Refuse(Error),
    Run(Environ, Option<Arc<Flow>>),
}
