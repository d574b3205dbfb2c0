//! The bounded pool: N threads, a bounded queue, a drain on shutdown.
//!
//! ```
//! use gateway_core::blocking::Blocking;
//! use gateway_core::start;
//!
//! let app = Blocking::new(|_req| start(200, [("content-type", "text/plain")]).body("hi"))
//!     .threads(2)
//!     .queue(8);
//! assert_eq!((app.running(), app.queued()), (0, 0)); // no thread yet
//! ```

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use crate::environ_impl::Environ;
use crate::error::Error;

use super::BlockingApplication;
use super::job::Job;
use super::request::BlockingRequest;
use super::writer::BlockingWriter;

/// A request waiting for a thread.
pub(super) struct Queued {
    pub(super) job: Arc<Job>,
    pub(super) env: Environ,
}

pub(super) struct Pool<A> {
    pub(super) app: A,
    pub(super) threads: usize,
    pub(super) queue: usize,
    state: Mutex<PoolState>,
    /// Idle threads wait here for a job.
    work: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Queued>,
    /// Threads running a job.
    busy: usize,
    /// Threads started and not yet exited.
    alive: usize,
    started: bool,
    stopping: bool,
    handles: Vec<JoinHandle<()>>,
    /// The shutdown future, waiting for the last thread to exit.
    drained: Option<Waker>,
}

/// Why a job was not queued.
pub(super) enum Refused {
    /// Every thread busy and the queue full.
    Full,
    /// The pool is shut down.
    Stopped,
    /// The threads could not be started.
    Spawn(std::io::Error),
}

impl<A> Pool<A> {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a job that was cancelled before a thread took it out of the
    /// queue, freeing its place.
    pub(super) fn withdraw(&self, job: &Arc<Job>) {
        let mut st = self.lock();
        let position = st.jobs.iter().position(|q| Arc::ptr_eq(&q.job, job));
        let removed = position.and_then(|i| st.jobs.remove(i));
        drop(st);
        drop(removed);
    }

    pub(super) fn counts(&self) -> (usize, usize) {
        let st = self.lock();
        (st.busy, st.jobs.len())
    }

    /// Stops taking jobs; threads exit once the queue is empty.
    pub(super) fn stop(&self) {
        self.lock().stopping = true;
        self.work.notify_all();
    }

    /// Ready when every thread has exited (and is joined).
    pub(super) fn poll_drained(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        if st.alive > 0 {
            st.drained = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let handles = std::mem::take(&mut st.handles);
        drop(st);
        for handle in handles {
            // Each has left its loop: joining waits for its last few
            // instructions at most.
            let _ = handle.join();
        }
        Poll::Ready(())
    }
}

impl<A: BlockingApplication> Pool<A> {
    pub(super) fn new(app: A, threads: usize, queue: usize) -> Pool<A> {
        Pool {
            app,
            threads,
            queue,
            state: Mutex::new(PoolState::default()),
            work: Condvar::new(),
        }
    }

    /// Starts the threads unless they run already.
    pub(super) fn start(self: &Arc<Self>) -> Result<(), Refused> {
        let mut st = self.lock();
        self.start_locked(&mut st)
    }

    fn start_locked(self: &Arc<Self>, st: &mut PoolState) -> Result<(), Refused> {
        if st.stopping {
            return Err(Refused::Stopped);
        }
        if st.started {
            return Ok(());
        }
        for i in 0..self.threads {
            let pool = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("gateway-blocking-{i}"))
                .spawn(move || pool.work());
            match spawned {
                Ok(handle) => {
                    st.handles.push(handle);
                    st.alive += 1;
                }
                // The threads started so far serve; the next call retries.
                Err(e) if i == 0 => return Err(Refused::Spawn(e)),
                Err(_) => break,
            }
        }
        st.started = true;
        Ok(())
    }

    /// Queues a job: at most `threads` run and `queue` wait.
    pub(super) fn submit(self: &Arc<Self>, job: Queued) -> Result<(), Refused> {
        let mut st = self.lock();
        self.start_locked(&mut st)?;
        if st.jobs.len() + st.busy >= self.threads + self.queue {
            return Err(Refused::Full);
        }
        st.jobs.push_back(job);
        drop(st);
        self.work.notify_one();
        Ok(())
    }

    /// A pool thread's loop.
    fn work(&self) {
        loop {
            let job = {
                let mut st = self.lock();
                loop {
                    if let Some(job) = st.jobs.pop_front() {
                        st.busy += 1;
                        break Some(job);
                    }
                    if st.stopping {
                        break None;
                    }
                    st = self.work.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            };
            let Some(job) = job else { break };
            // `run` catches the application's panics; this is for ours.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| self.run(job)));
            self.lock().busy -= 1;
        }
        let mut st = self.lock();
        st.alive -= 1;
        if st.alive == 0 {
            if let Some(w) = st.drained.take() {
                w.wake();
            }
        }
    }

    /// Runs one job: the application, then its streamed body if any.
    fn run(&self, Queued { job, env }: Queued) {
        if job.is_cancelled() {
            // The client left while the job waited: skip it.
            return;
        }
        let req = BlockingRequest::new(env, job.clone());
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.app.call(req)))
            .unwrap_or_else(|payload| Err(Error::from_panic(&*payload)));
        let Some((produce, writer)) = job.respond(result) else {
            return;
        };
        let writer = BlockingWriter::new(writer, job.clone());
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| produce(writer)))
            .unwrap_or_else(|payload| Err(Error::from_panic(&*payload)));
        job.stream_done(result);
    }
}
