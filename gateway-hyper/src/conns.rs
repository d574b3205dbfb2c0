//! What the server knows about each live connection: whether it has a
//! request in flight, whether bytes arrived lately, and what it has been
//! told to do (drain, close when idle, abort).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use gateway_core::{fn_app, start};
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // Idle connections close after 75 s; in-flight requests get 10 s at shutdown.
//! gateway_hyper::Server::bind("127.0.0.1:0").await?
//!     .idle_timeout(Duration::from_secs(75))
//!     .drain_timeout(Duration::from_secs(10))
//!     .serve_with_shutdown(app, async {})
//!     .await
//! # }
//! ```
//!
//! One registry per server (HTTP/2 stream tasks are counted in it too, so
//! that the drain waits for them); the idle sweeper and the shutdown walk it
//! instead of every connection polling a timer or a channel on every
//! wake-up.
//!
//! The costs are where they matter least: per connection, one allocation
//! and two short critical sections (register and unregister); per read, one
//! relaxed store; per request, two atomic additions; per wake-up of a
//! connection's task, the waker registration and one load. The sweeper
//! wakes once per quarter of the idle timeout for the whole server, and a
//! connection's task is woken only to be closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::stats::OpenConnection;

/// What a connection has been told to do, in the order it may be told:
/// a later command replaces an earlier one, never the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Command {
    /// Serve requests.
    Run = 0,
    /// Finish the in-flight requests, then close (idle timeout or drain).
    Finish = 1,
    /// Close now, dropping whatever is in flight (past the drain deadline).
    Abort = 2,
}

impl Command {
    /// The command stored as `value` (only ever a `Command as u8`).
    #[inline]
    fn from_u8(value: u8) -> Command {
        match value {
            0 => Command::Run,
            1 => Command::Finish,
            _ => Command::Abort,
        }
    }
}

/// Quarters of the idle timeout a connection must stay quiet to be closed:
/// it closes between 1 and 1.25 idle timeouts after it went quiet.
const QUIET_TICKS: u8 = 4;

/// One connection's shared state.
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    /// Bytes arrived since the sweeper last looked.
    read: AtomicBool,
    /// A response finished since the sweeper last looked.
    finished: AtomicBool,
    /// A [`Command`], stored as its `u8`.
    command: AtomicU8,
    /// The connection task's waker, set when it changes (for a tokio task,
    /// once).
    waker: Mutex<Option<Waker>>,
    /// Its index in the registry's list; changed under the registry lock.
    slot: AtomicUsize,
    /// Consecutive quiet sweeps; only the sweeper touches it.
    quiet: AtomicU8,
    /// The connection was handed to the application by a 101.
    upgraded: AtomicBool,
    /// The socket's place under the connection limit and in the gauge of
    /// open connections, given up when the last holder of this state
    /// drops it (see [`Counted`]).
    _counted: Counted,
}

/// What an accepted socket holds until it closes: its permit of the
/// connection limit (none for the connections a closing listener still
/// had queued) and its count in [`ServerStats::open_connections`].
///
/// Kept in the connection's [`Activity`], whose holders are the
/// connection's task, its io (which a `101` hands to the upgrade handler
/// with the socket) and the marks of its requests in flight (an HTTP/2
/// extended CONNECT stream holds one while its handler runs). So it is
/// given up when the socket is gone and no handler it carries runs: an
/// upgraded connection keeps its place under the limit. The cost is per
/// connection (two more words in its `Activity`), none per request.
///
/// [`ServerStats::open_connections`]: crate::ServerStats::open_connections
pub(crate) struct Counted {
    // Held only to be dropped.
    _permit: Option<OwnedSemaphorePermit>,
    _open: OpenConnection,
}

impl Counted {
    pub(crate) fn new(permit: Option<OwnedSemaphorePermit>, open: OpenConnection) -> Counted {
        Counted {
            _permit: permit,
            _open: open,
        }
    }

    /// No permit, counted in a gauge no server reads.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Counted {
        Counted::new(None, crate::ServerStats::default().connection_opened())
    }
}

impl Activity {
    /// Bytes arrived.
    #[inline]
    pub(crate) fn note_read(&self) {
        self.read.store(true, Relaxed);
    }

    /// Whether a 101 handed the connection to the application.
    pub(crate) fn is_upgraded(&self) -> bool {
        self.upgraded.load(Relaxed)
    }

    /// The command the connection has been given.
    #[inline]
    pub(crate) fn command(&self) -> Command {
        Command::from_u8(self.command.load(Relaxed))
    }

    fn tell(&self, command: Command) {
        if self.command.fetch_max(command as u8, Relaxed) < command as u8 {
            let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(waker) = waker.as_ref() {
                waker.wake_by_ref();
            }
        }
    }
}

/// Every live connection of a server, and how many HTTP/2 stream tasks
/// run beside them.
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    /// The number of live connections and stream tasks, for the drain to
    /// wait on.
    count: watch::Sender<usize>,
    /// The latest command given to all, for upgraded connections (which
    /// have left the list: they are tasks of their own).
    command: watch::Sender<Command>,
}

struct Inner {
    list: Vec<Arc<Activity>>,
    /// The command every new connection starts with: once the server
    /// drains, a connection accepted in the same instant is told at once.
    command: Command,
    /// Live HTTP/2 stream tasks (hyper spawns one per stream).
    tasks: usize,
}

impl Inner {
    fn live(&self) -> usize {
        self.list.len() + self.tasks
    }
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            inner: Mutex::new(Inner {
                list: Vec::new(),
                command: Command::Run,
                tasks: 0,
            }),
            count: watch::Sender::new(0),
            command: watch::Sender::new(Command::Run),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The critical sections cannot panic halfway; a poisoned lock still
        // holds a consistent list.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a connection; it leaves the registry when the returned handle
    /// is dropped, and gives up what it `counted` in when its socket is
    /// gone (see [`Counted`]).
    pub(crate) fn register(self: &Arc<Registry>, counted: Counted) -> Registered {
        let mut inner = self.lock();
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            read: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            command: AtomicU8::new(inner.command as u8),
            waker: Mutex::new(None),
            slot: AtomicUsize::new(inner.list.len()),
            quiet: AtomicU8::new(0),
            upgraded: AtomicBool::new(false),
            _counted: counted,
        });
        inner.list.push(activity.clone());
        let n = inner.live();
        drop(inner);
        self.count.send_replace(n);
        Registered {
            registry: self.clone(),
            activity,
        }
    }

    /// Tells every connection, and every later one, `command`.
    pub(crate) fn tell_all(&self, command: Command) {
        let mut inner = self.lock();
        inner.command = inner.command.max(command);
        for activity in &inner.list {
            activity.tell(command);
        }
        self.command.send_if_modified(|current| {
            let changed = *current < command;
            *current = (*current).max(command);
            changed
        });
    }

    /// Follows the commands given to all (the drain's): what an upgraded
    /// connection's task watches.
    pub(crate) fn commands(&self) -> watch::Receiver<Command> {
        self.command.subscribe()
    }

    /// Counts a task until the returned handle is dropped.
    pub(crate) fn enter_task(self: &Arc<Registry>) -> Task {
        let mut inner = self.lock();
        inner.tasks += 1;
        let n = inner.live();
        drop(inner);
        self.count.send_replace(n);
        Task(self.clone())
    }

    /// Waits until no connection or stream task is left.
    pub(crate) async fn empty(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Closes connections that stayed idle for `timeout`: no request in
    /// flight and no byte received since the last response finished. Runs
    /// until the registry is dropped.
    pub(crate) async fn sweep_idle(self: Arc<Registry>, timeout: Duration) {
        let tick = (timeout / u32::from(QUIET_TICKS)).max(Duration::from_millis(1));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        loop {
            interval.tick().await;
            let inner = self.lock();
            for activity in &inner.list {
                let busy = activity.in_flight.load(Relaxed) > 0;
                // Both flags are cleared every sweep, busy or not.
                let read = activity.read.swap(false, Relaxed);
                let finished = activity.finished.swap(false, Relaxed);
                if busy || read || finished {
                    activity.quiet.store(0, Relaxed);
                    continue;
                }
                let quiet = activity.quiet.load(Relaxed) + 1;
                activity.quiet.store(quiet.min(QUIET_TICKS), Relaxed);
                if quiet >= QUIET_TICKS {
                    activity.tell(Command::Finish);
                }
            }
        }
    }
}

/// A connection's place in the registry.
pub(crate) struct Registered {
    registry: Arc<Registry>,
    activity: Arc<Activity>,
}

impl Registered {
    pub(crate) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut inner = self.registry.lock();
        let slot = self.activity.slot.load(Relaxed);
        if slot < inner.list.len() && Arc::ptr_eq(&inner.list[slot], &self.activity) {
            inner.list.swap_remove(slot);
            if let Some(moved) = inner.list.get(slot) {
                moved.slot.store(slot, Relaxed);
            }
        }
        let n = inner.live();
        drop(inner);
        self.registry.count.send_replace(n);
    }
}

/// A task's place in the registry's count (an HTTP/2 stream's, an
/// upgraded connection's).
pub(crate) struct Task(Arc<Registry>);

impl Drop for Task {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.tasks -= 1;
        let n = inner.live();
        drop(inner);
        self.0.count.send_replace(n);
    }
}

/// hyper's executor for HTTP/2 stream tasks: each counts in the registry
/// until it ends, so that the drain waits for it and for the application
/// it holds. Past the drain deadline the connections are dropped, and h2
/// then ends their streams' tasks.
#[derive(Clone)]
pub(crate) struct StreamTasks {
    registry: Arc<Registry>,
}

impl StreamTasks {
    pub(crate) fn new(registry: Arc<Registry>) -> StreamTasks {
        StreamTasks { registry }
    }
}

impl<F> hyper::rt::Executor<F> for StreamTasks
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let task = self.registry.enter_task();
        tokio::spawn(async move {
            let out = fut.await;
            drop(task);
            out
        });
    }
}

/// Marks a request in flight on its connection until dropped: the adapter
/// keeps it in the response body, which hyper drops when the response is
/// sent (or abandoned).
pub(crate) struct InFlight(Arc<Activity>, bool);

impl InFlight {
    /// A request on the connection of `activity`, over HTTP/1 when
    /// `http1`.
    #[inline]
    pub(crate) fn new(activity: &Arc<Activity>, http1: bool) -> InFlight {
        activity.in_flight.fetch_add(1, Relaxed);
        InFlight(activity.clone(), http1)
    }

    /// Whether the response must say `Connection: close`: an HTTP/1
    /// connection told to finish (see [`Drive`]).
    #[inline]
    pub(crate) fn closes(&self) -> bool {
        self.1 && self.0.command() != Command::Run
    }
}

impl InFlight {
    /// The request's response is a 101: the connection becomes the
    /// application's.
    #[cold]
    pub(crate) fn upgraded(&self) {
        self.0.upgraded.store(true, Relaxed);
    }

    /// One more mark on the same connection: an HTTP/2 extended CONNECT
    /// stream holds one while it is open, so that the connection carrying
    /// it is never idle.
    #[cold]
    pub(crate) fn tunnel(&self) -> InFlight {
        InFlight::new(&self.0, self.1)
    }
}

impl Drop for InFlight {
    #[inline]
    fn drop(&mut self) {
        self.0.finished.store(true, Relaxed);
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// A connection's whole task: completes with it, or at once when told
    /// to abort (dropping it and its requests: that is how applications
    /// learn).
    pub(crate) struct Watched<F> {
        #[pin]
        fut: F,
        registered: Registered,
        // The waker last given to the registry.
        waker: Option<Waker>,
    }
}

impl<F> Watched<F> {
    pub(crate) fn new(fut: F, registered: Registered) -> Watched<F> {
        Watched {
            fut,
            registered,
            waker: None,
        }
    }
}

impl<F: Future> Future for Watched<F> {
    type Output = Option<F::Output>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let activity = &this.registered.activity;
        // Registered before the command is read, so that a command given
        // in between still wakes this task; a tokio task's waker does not
        // change, so this locks once.
        if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let waker = cx.waker().clone();
            *activity.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(waker.clone());
            *this.waker = Some(waker);
        }
        if activity.command() == Command::Abort {
            return Poll::Ready(None);
        }
        this.fut.poll(cx).map(Some)
    }
}

/// A hyper connection that can be asked to finish its in-flight requests
/// and close. Not hyper-util's `graceful::GracefulConnection`: that trait is
/// sealed and not implemented for `http1::UpgradeableConnection`.
pub(crate) trait GracefulConnection: Future {
    /// Whether an idle connection, told to finish, first waits
    /// [`LINGER`] for a request already on its way (HTTP/1, see [`Drive`]).
    const LINGERS: bool;

    fn shut_down(self: Pin<&mut Self>);
}

/// How long an idle HTTP/1 connection told to finish (drain or idle
/// timeout) stays open for a request that may already be on its way.
pub(crate) const LINGER: Duration = Duration::from_millis(500);

pin_project_lite::pin_project! {
    /// Drives a hyper connection; once told to finish (idle timeout or
    /// drain), asks it to complete its in-flight requests and close. Runs
    /// inside [`Watched`], which registers the task's waker.
    ///
    /// An idle HTTP/1 connection is not closed the instant it is told:
    /// HTTP/1 cannot say "no more requests" to a client that may be
    /// writing one (a proxy reusing a kept-alive connection), and closing
    /// a socket with a request unread resets it — a request the proxy
    /// will not send again if it is a `POST`. So it stays open for
    /// [`LINGER`]: a request that comes is answered with `Connection:
    /// close` (the service adds it once the connection is told), after
    /// which hyper closes; one that does not come leaves nothing to lose.
    /// HTTP/2 says it with GOAWAY and closes at once.
    pub(crate) struct Drive<C> {
        #[pin]
        connection: C,
        activity: Arc<Activity>,
        shut: bool,
        linger: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

impl<C> Drive<C> {
    pub(crate) fn new(connection: C, activity: Arc<Activity>) -> Drive<C> {
        Drive {
            connection,
            activity,
            shut: false,
            linger: None,
        }
    }
}

impl<C: GracefulConnection> Future for Drive<C> {
    type Output = C::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let mut this = self.project();
        if !*this.shut {
            match this.activity.command() {
                Command::Run => {}
                Command::Finish if C::LINGERS && this.activity.in_flight.load(Relaxed) == 0 => {
                    let linger = this
                        .linger
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(LINGER)));
                    if linger.as_mut().poll(cx).is_pending() {
                        return this.connection.poll(cx);
                    }
                    *this.shut = true;
                    this.connection.as_mut().shut_down();
                }
                Command::Finish | Command::Abort => {
                    *this.shut = true;
                    this.connection.as_mut().shut_down();
                }
            }
        }
        this.connection.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerStats;
    use tokio::sync::Semaphore;

    /// Registers a connection counted in `stats`, without a permit.
    fn register(registry: &Arc<Registry>, stats: &ServerStats) -> Registered {
        registry.register(Counted::new(None, stats.connection_opened()))
    }

    #[test]
    fn the_permit_lives_as_long_as_the_activity() {
        let registry = Arc::new(Registry::new());
        let stats = ServerStats::default();
        let limit = Arc::new(Semaphore::new(1));
        let permit = limit.clone().try_acquire_owned().unwrap();
        let registered = registry.register(Counted::new(Some(permit), stats.connection_opened()));
        // The upgraded socket's io holds the activity past the task.
        let io = registered.activity().clone();
        drop(registered);
        assert_eq!(*registry.count.borrow(), 0);
        assert_eq!(
            (limit.available_permits(), stats.open_connections()),
            (0, 1)
        );
        drop(io);
        assert_eq!(
            (limit.available_permits(), stats.open_connections()),
            (1, 0)
        );
    }

    #[tokio::test]
    async fn unregistering_keeps_the_slots_right() {
        let stats = ServerStats::default();
        let registry = Arc::new(Registry::new());
        let a = register(&registry, &stats);
        let b = register(&registry, &stats);
        let c = register(&registry, &stats);
        drop(a);
        // `c` moved into slot 0.
        assert_eq!(c.activity().slot.load(Relaxed), 0);
        assert_eq!(*registry.count.borrow(), 2);
        drop(c);
        drop(b);
        assert_eq!(*registry.count.borrow(), 0);
        registry.empty().await;
    }

    #[test]
    fn commands_only_move_forward() {
        let stats = ServerStats::default();
        let registry = Arc::new(Registry::new());
        let a = register(&registry, &stats);
        registry.tell_all(Command::Abort);
        registry.tell_all(Command::Finish);
        assert_eq!(a.activity().command(), Command::Abort);
        // A connection registered after the drain started is told at once.
        let b = register(&registry, &stats);
        assert_eq!(b.activity().command(), Command::Abort);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_connection_is_told_to_finish_after_the_timeout() {
        let stats = ServerStats::default();
        let registry = Arc::new(Registry::new());
        let quiet = register(&registry, &stats);
        let busy = register(&registry, &stats);
        let chatty = register(&registry, &stats);
        let request = InFlight::new(busy.activity(), true);
        tokio::spawn(registry.clone().sweep_idle(Duration::from_secs(4)));
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(900)).await;
            chatty.activity().read.store(true, Relaxed);
        }
        // 3.6 s: nobody has been quiet for 4 s.
        assert_eq!(quiet.activity().command(), Command::Run);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // 5.1 s: the quiet one was seen quiet at 1, 2, 3 and 4 s (then 5).
        assert_eq!(quiet.activity().command(), Command::Finish);
        assert_eq!(busy.activity().command(), Command::Run);
        assert_eq!(chatty.activity().command(), Command::Run);
        // A finished response restarts the clock.
        drop(request);
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(busy.activity().command(), Command::Run);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(busy.activity().command(), Command::Finish);
    }
}
