//! The slow path: what the disk holds at a path, looked at on the blocking
//! pool.

use std::io;
use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use gateway_core::Error;

use super::cache::{self, FileEntry, LoadOptions};
use super::{StaticFiles, listing, path};

impl StaticFiles {
    /// The root to look under: canonical once it could be made so, else as
    /// given (then every path through a symlink in it is refused). Blocking.
    pub(super) fn disk_root(&self) -> &Path {
        if let Some(root) = self.state.root.get() {
            return root;
        }
        match std::fs::canonicalize(&self.config.root) {
            Ok(root) => self.state.root.get_or_init(|| root),
            // Not there yet: the next look tries again.
            Err(_) => &self.config.root,
        }
    }

    /// Makes the root canonical and checks it is a directory. Blocking.
    pub(super) fn check_root(&self) -> Result<(), Error> {
        let shown = self.config.root.display();
        let root = std::fs::canonicalize(&self.config.root)
            .map_err(|e| Error::new(format!("static files root {shown}: {e}")))?;
        match std::fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {
                let _ = self.state.root.set(root);
                Ok(())
            }
            Ok(_) => Err(Error::new(format!(
                "static files root {shown} is not a directory"
            ))),
            Err(e) => Err(Error::new(format!("static files root {shown}: {e}"))),
        }
    }
}

/// What the disk holds at a path.
pub(super) enum OnDisk {
    /// A file (for a directory request: its index file, remembered under
    /// the directory).
    File(Box<FileEntry>, bool),
    /// A directory asked for without the trailing slash.
    Directory,
    Listing(Bytes),
    Missing,
    Forbidden,
}

/// Looks `rel` up under the root; `dir` when the request ended in `/`,
/// `title` for a listing. Blocking.
pub(super) fn find_on_disk(
    files: &StaticFiles,
    rel: &str,
    dir: bool,
    title: &str,
) -> io::Result<OnDisk> {
    let (config, root) = (&*files.config, files.disk_root());
    let opts = LoadOptions {
        root,
        symlinks_outside_root: config.symlinks_outside_root,
        precompressed: config.precompressed,
        max_file: config.max_cached_file,
        cache_control: &config.cache_control,
        html_cache_control: &config.html_cache_control,
        immutable_cache_control: &config.immutable_cache_control,
    };
    let now = SystemTime::now();
    let found = (|| {
        let path = path::resolve(root, rel, config.symlinks_outside_root)?;
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
            if let Ok(index_path) = path::resolve(root, &index_rel, config.symlinks_outside_root) {
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

/// `ELOOP` and `ENAMETOOLONG`, where their numbers are known.
const LOOP_OR_TOO_LONG: &[i32] = if cfg!(any(target_os = "linux", target_os = "android")) {
    &[40, 36]
} else if cfg!(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)) {
    &[62, 63]
} else {
    &[]
};
