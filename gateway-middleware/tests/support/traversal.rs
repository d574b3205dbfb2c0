//! The traversal corpus and its fixture, shared by
//! `gateway-middleware/tests/static_traversal.rs` (through `TestClient`)
//! and the workspace's `tests/static_traversal.rs` (over a socket), which
//! includes this file by path.

// Each including test uses a part of what is here.
#![allow(dead_code)]

use std::path::PathBuf;

/// What the files outside the root (and the hidden `.env`) contain; no
/// response to a hostile path may include it.
pub(crate) const CANARY: &str = "CANARY";

/// The contents of `root/a/b.txt`, the positive control.
pub(crate) const B_TXT: &str = "file b\n";

/// The contents of `root/c.txt`, whose precompressed siblings lead out.
pub(crate) const C_TXT: &str = "file c\n";

/// Hostile `path_info`s, all of them valid `http::Uri` paths. Each is
/// refused with 400 or 404 under the default configuration (no dotfiles,
/// no symbolic links out of the root). Shared with `tests/static_traversal.rs`,
/// which sends the same list over a real socket.
pub(crate) const CORPUS: &[&str] = &[
    // Dot segments, raw and encoded in every case.
    "/../canary.txt",
    "/..",
    "/a/..",
    "/a/../../canary.txt",
    "/index.html/../../canary.txt",
    "/a/./b.txt",
    "/.",
    "/./escape.txt",
    "/%2e%2e/canary.txt",
    "/%2E%2E/canary.txt",
    "/%2e%2E/canary.txt",
    "/%2e%2e",
    "/.%2e/canary.txt",
    "/%2e./canary.txt",
    "/a/%2e%2e/%2e%2e/canary.txt",
    "/....//canary.txt",
    "/..;/canary.txt",
    // Encoded separators.
    "/..%2fcanary.txt",
    "/..%2Fcanary.txt",
    "/%2E%2E%2Fcanary.txt",
    "/%2e%2e%2f%2e%2e%2fcanary.txt",
    "/a/..%2f..%2fcanary.txt",
    "/a%2f..%2f..%2fcanary.txt",
    "/%2fetc/passwd",
    "/up%2fcanary.txt",
    "/a/b.txt%2f",
    "/..%5ccanary.txt",
    "/..%5Ccanary.txt",
    "/%2e%2e%5ccanary.txt",
    "/a%5c..%5c..%5ccanary.txt",
    // Backslashes.
    "/..\\canary.txt",
    "/\\..\\canary.txt",
    "/a\\..\\..\\canary.txt",
    // Double encoding.
    "/%252e%252e/canary.txt",
    "/%252E%252E%252Fcanary.txt",
    "/..%252fcanary.txt",
    "/..%255ccanary.txt",
    "/%25%32%65%25%32%65/canary.txt",
    "/a/b.txt%2500",
    // Invalid encodings and overlong UTF-8.
    "/%c0%ae%c0%ae/canary.txt",
    "/..%c0%afcanary.txt",
    "/%e0%80%ae%e0%80%ae/canary.txt",
    "/%u002e%u002e/canary.txt",
    "/%%32%65%%32%65/canary.txt",
    "/a%",
    "/a%2",
    "/%ff/canary.txt",
    // NUL and other controls.
    "/a/b.txt%00.html",
    "/a%00",
    "/..%00/canary.txt",
    "/.env%00",
    "/a/b.txt%0a",
    "/a/b.txt%0d%0aX-Injected:%20yes",
    "/a%7f",
    // Empty segments: absolute paths once joined.
    "//etc/passwd",
    "//canary.txt",
    "/a//b.txt",
    // Windows drive letters, streams, devices, trimmed names.
    "/C:/Windows/win.ini",
    "/c:%5cwindows",
    "/c:canary.txt",
    "/a/b.txt::$DATA",
    "/a/b.txt:Zone.Identifier",
    "/NUL",
    "/con.txt",
    "/aux",
    "/lpt1.txt",
    "/COM%C2%B9",
    "/a/b.txt.",
    "/a/b.txt%20",
    "/a./b.txt",
    // Symbolic links out of the root, in the last component or any other.
    "/escape.txt",
    "/escape.txt/",
    "/a/../escape.txt",
    "/up",
    "/up/",
    "/up/canary.txt",
    "/up/root/../canary.txt",
    "/sibling/canary.txt",
    "/sibling/",
    // Dotfiles.
    "/.env",
    "/.ENV",
    "/a/.env",
    "/%2eenv",
    "/%2E%65%6E%76",
    // A file requested as a directory; a file literally named `%2e%2e`.
    "/a/b.txt/",
    "/%252e%252e",
    // An index file that is a link out of the root.
    "/d",
    "/d/",
    "/d/index.html",
];

/// A fresh directory under the system's temporary directory, removed with
/// everything in it when dropped (std only).
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gateway-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The tree every test serves from; `root` is the static root:
///
/// ```text
/// outer/canary.txt               CANARY-SECRET
/// outer/root-sibling/canary.txt  CANARY-SIBLING (shares root's name as a prefix)
/// outer/root/index.html
/// outer/root/a/b.txt             the positive control
/// outer/root/.env                CANARY-DOT (hidden by default)
/// outer/root/%2e%2e              a file literally named so, if allowed
/// outer/root/escape.txt -> ../canary.txt
/// outer/root/up -> ..
/// outer/root/sibling -> ../root-sibling
/// outer/root/inside.txt -> a/b.txt
/// outer/root/d/index.html -> ../../canary.txt
/// outer/root/c.txt               the control for precompressed siblings
/// outer/root/c.txt.{br,zst,gz} -> ../canary.txt
/// outer/root/a/.hidden           CANARY-HIDDEN (never listed)
/// ```
pub(crate) struct Fixture {
    outer: TempDir,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let outer = TempDir::new("static-traversal");
        let dir = &outer.0;
        let root = dir.join("root");
        let write = |path: PathBuf, text: &str| std::fs::write(path, text).expect("write fixture");
        std::fs::create_dir_all(root.join("a")).expect("mkdir root/a");
        std::fs::create_dir(dir.join("root-sibling")).expect("mkdir root-sibling");
        write(dir.join("canary.txt"), "CANARY-SECRET\n");
        write(dir.join("root-sibling/canary.txt"), "CANARY-SIBLING\n");
        write(root.join("index.html"), "<h1>index</h1>\n");
        write(root.join("a/b.txt"), B_TXT);
        write(root.join(".env"), "CANARY-DOT\n");
        write(root.join("c.txt"), C_TXT);
        write(root.join("a/.hidden"), "CANARY-HIDDEN\n");
        // Some file systems refuse `%` in names; the case is moot there.
        let _ = std::fs::write(root.join("%2e%2e"), "literal\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("../canary.txt", root.join("escape.txt")).expect("symlink escape.txt");
            symlink("..", root.join("up")).expect("symlink up");
            symlink("../root-sibling", root.join("sibling")).expect("symlink sibling");
            symlink("a/b.txt", root.join("inside.txt")).expect("symlink inside.txt");
            for ext in ["br", "zst", "gz"] {
                symlink("../canary.txt", root.join(format!("c.txt.{ext}")))
                    .expect("symlink c.txt sibling");
            }
            std::fs::create_dir(root.join("d")).expect("mkdir root/d");
            symlink("../../canary.txt", root.join("d/index.html")).expect("symlink d/index.html");
        }
        Fixture { outer }
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.outer.0.join("root")
    }
}

/// Asserts that a redirect answering the hostile `what` stays under
/// `prefix` and names no hostile path; returns the path it points to.
pub(crate) fn assert_safe_redirect<'a>(
    what: &str,
    prefix: &str,
    location: &'a str,
    host: &str,
) -> &'a str {
    let path = location.strip_prefix(host).unwrap_or(location);
    let lower = path.to_ascii_lowercase();
    assert!(
        path.starts_with(&format!("{prefix}/"))
            && !path.contains("//")
            && !path.contains("..")
            && !path.contains('\\')
            && !["%2e", "%2f", "%5c", "%00"]
                .iter()
                .any(|bad| lower.contains(bad)),
        "{what}: redirects outside {prefix}/ or to a hostile path: {location}"
    );
    path
}
