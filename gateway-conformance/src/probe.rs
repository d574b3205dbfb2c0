//! How the kit sees inside the battery: the applications record events
//! ("started", "dropped", "finish completed 12") under the id of the
//! request that caused them, and the rules wait for them.
//!
//! In the kit's own process the events go to memory. An adapter that runs
//! the application in another process (a CGI program) gets a file instead,
//! named by an environment variable; every event is one line appended with
//! one write, so processes running at once do not mix their lines.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The environment variable that names the probe file of a battery run in
/// another process.
pub(crate) const PROBE_VAR: &str = "GATEWAY_CONFORMANCE_PROBE";

/// Where events go; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Probe {
    sink: Arc<Sink>,
}

#[derive(Debug)]
enum Sink {
    /// Events of the kit's own process.
    Memory(Mutex<Vec<(u64, String)>>),
    /// Events of other processes; the kit removes the file at the end.
    File { path: PathBuf, owner: bool },
    /// A battery started without a probe: events are not recorded.
    Nowhere,
}

impl Probe {
    pub(crate) fn memory() -> Probe {
        Probe {
            sink: Arc::new(Sink::Memory(Mutex::new(Vec::new()))),
        }
    }

    /// A new, empty probe file in the temporary directory, writable by
    /// every user (a CGI host may run its programs as `nobody`).
    pub(crate) fn file() -> std::io::Result<Probe> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "gateway-conformance-{}-{}.events",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::File::create(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
        }
        Ok(Probe {
            sink: Arc::new(Sink::File { path, owner: true }),
        })
    }

    /// The probe named by [`PROBE_VAR`] in this process's environment, or
    /// one that records nothing.
    pub(crate) fn from_env() -> Probe {
        let sink = match std::env::var_os(PROBE_VAR) {
            Some(path) if !path.is_empty() => Sink::File {
                path: PathBuf::from(path),
                owner: false,
            },
            _ => Sink::Nowhere,
        };
        Probe {
            sink: Arc::new(sink),
        }
    }

    /// What another process needs to record into this probe.
    pub(crate) fn env(&self) -> Option<(&'static str, OsString)> {
        match &*self.sink {
            Sink::File { path, .. } => Some((PROBE_VAR, path.clone().into_os_string())),
            _ => None,
        }
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        match &*self.sink {
            Sink::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Records `event` for request `id`. Never fails: an event that cannot
    /// be written is missed, and the rule waiting for it says so.
    pub(crate) fn record(&self, id: u64, event: &str) {
        match &*self.sink {
            Sink::Memory(events) => {
                let mut events = events.lock().unwrap_or_else(|p| p.into_inner());
                events.push((id, event.to_owned()));
            }
            Sink::File { path, .. } => {
                let line = format!("{id} {event}\n");
                if let Ok(mut file) = OpenOptions::new().append(true).open(path) {
                    // One write per line: O_APPEND keeps lines whole.
                    let _ = file.write_all(line.as_bytes());
                }
            }
            Sink::Nowhere => {}
        }
    }

    /// The events recorded for request `id`, in order.
    pub(crate) fn events(&self, id: u64) -> Vec<String> {
        match &*self.sink {
            Sink::Memory(events) => {
                let events = events.lock().unwrap_or_else(|p| p.into_inner());
                events
                    .iter()
                    .filter(|(i, _)| *i == id)
                    .map(|(_, e)| e.clone())
                    .collect()
            }
            Sink::File { path, .. } => {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                text.lines()
                    .filter_map(|line| line.split_once(' '))
                    .filter(|(i, _)| i.parse() == Ok(id))
                    .map(|(_, e)| e.to_owned())
                    .collect()
            }
            Sink::Nowhere => Vec::new(),
        }
    }

    /// Waits up to `bound` for an event of request `id` that starts with
    /// `prefix`; returns it, or `None` with every event seen.
    pub(crate) async fn wait_for(
        &self,
        id: u64,
        prefix: &str,
        bound: Duration,
    ) -> Result<String, Vec<String>> {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let events = self.events(id);
            if let Some(found) = events.iter().find(|e| e.starts_with(prefix)) {
                return Ok(found.clone());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(events);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Sink::File { path, owner: true } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
