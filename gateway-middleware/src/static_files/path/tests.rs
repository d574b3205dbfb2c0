#[test]
fn the_fast_path_accepts_nothing_the_full_checks_refuse() {
    let names = [
        "index.html",
        "css/site.3f2a9c1e.css",
        "a/b/c.txt",
        "a-b_c~d.e",
        "A/B.TXT",
        ".env",
        "a/.env",
        ".",
        "..",
        "a/..",
        "a/.",
        "a.",
        "a/b.",
        "...",
        "a..b",
        "con",
        "CON.txt",
        "nul",
        "aux.js",
        "com1",
        "LPT9.log",
        "prn",
        "conin$",
        "console",
        "company",
        "comm",
        "lpt",
        "auxiliary.js",
        "a//b",
        "/a",
        "a/",
        "x".repeat(255).as_str(),
        "x".repeat(256).as_str(),
        "a b",
        "a%2e",
        "a:b",
        "a\\b",
        "é",
        "",
    ]
    .map(str::to_owned);
    for name in &names {
        if is_plain(name) {
            assert_eq!(
                check_segments(name, false),
                Ok(()),
                "{name:?} took the fast path"
            );
        }
    }
    assert!(is_plain("css/site.3f2a9c1e.css") && is_plain("index.html"));
}

use super::*;

fn ok(path: &str) -> (String, bool) {
    let safe = parse(path, false).unwrap_or_else(|e| panic!("{path:?}: {e:?}"));
    (safe.as_str().to_owned(), safe.is_dir_request())
}

fn err(path: &str) -> PathError {
    match parse(path, false) {
        Ok(safe) => panic!("{path:?} accepted as {safe:?}"),
        Err(e) => e,
    }
}

fn all_bad(paths: &[&str]) {
    for path in paths {
        assert_eq!(err(path), PathError::BadRequest, "{path:?}");
    }
}

fn all_not_found(paths: &[&str]) {
    for path in paths {
        assert_eq!(err(path), PathError::NotFound, "{path:?}");
    }
}

#[test]
fn plain_paths_are_relative_and_borrowed() {
    assert_eq!(ok(""), (String::new(), true));
    assert_eq!(ok("/"), (String::new(), true));
    assert_eq!(ok("/index.html"), ("index.html".into(), false));
    assert_eq!(ok("/a/b.txt"), ("a/b.txt".into(), false));
    assert_eq!(ok("/a/"), ("a".into(), true));
    assert_eq!(ok("/a/b/"), ("a/b".into(), true));
    assert_eq!(ok("/a.b/c-d_e~f;g=h"), ("a.b/c-d_e~f;g=h".into(), false));
    assert!(matches!(
        parse("/a/b.txt", false).unwrap().rel,
        Cow::Borrowed(_)
    ));
}

#[test]
fn percent_encoding_is_decoded_once() {
    assert_eq!(ok("/a%20b.txt"), ("a b.txt".into(), false));
    assert_eq!(ok("/caf%C3%A9/"), ("café".into(), true));
    assert_eq!(ok("/100%25.txt"), ("100%.txt".into(), false));
    assert_eq!(ok("/%61/b.txt"), ("a/b.txt".into(), false));
    assert_eq!(ok("/caf\u{e9}"), ("café".into(), false));
}

#[test]
fn not_below_the_mount_point_is_bad() {
    all_bad(&["*", "a", "a/b"]);
}

#[test]
fn dot_segments_are_bad_in_every_spelling() {
    all_bad(&[
        "/..",
        "/../canary.txt",
        "/a/../../canary.txt",
        "/a/..",
        "/a/../",
        "/.",
        "/./",
        "/a/./b.txt",
        "/%2e%2e/canary.txt",
        "/%2E%2E/canary.txt",
        "/%2e%2E/",
        "/.%2e/canary.txt",
        "/%2e./canary.txt",
        "/%2e",
        "/a/%2e/b.txt",
    ]);
    // Even with dotfiles served.
    assert_eq!(parse("/../x", true).unwrap_err(), PathError::BadRequest);
    assert_eq!(parse("/%2e/x", true).unwrap_err(), PathError::BadRequest);
}

#[test]
fn encoded_separators_are_bad() {
    all_bad(&[
        "/..%2fcanary.txt",
        "/..%2Fcanary.txt",
        "/%2E%2E%2Fcanary.txt",
        "/%2fetc/passwd",
        "/a%2fb.txt",
        "/..%5ccanary.txt",
        "/..%5Ccanary.txt",
        "/a%5cb.txt",
        "/c:%5cwindows",
    ]);
}

#[test]
fn double_encoding_is_bad() {
    all_bad(&[
        "/%252e%252e/canary.txt",
        "/%252E%252E/canary.txt",
        "/..%252fcanary.txt",
        "/..%252Fcanary.txt",
        "/..%255ccanary.txt",
        "/%25252e",
        "/a%2525b",
    ]);
}

#[test]
fn invalid_escapes_and_utf8_are_bad() {
    all_bad(&[
        "/%",
        "/a%",
        "/a%2",
        "/a%zz",
        "/a%g0",
        "/%u002e%u002e/canary.txt",
        "/%c0%ae%c0%ae/canary.txt",
        "/%c0%af",
        "/%e0%80%ae",
        "/%ff",
        "/a%80",
    ]);
}

#[test]
fn backslashes_and_controls_are_bad() {
    all_bad(&[
        "/..\\canary.txt",
        "/a\\b.txt",
        "/a/b.txt%00.html",
        "/a%00",
        "/%00",
        "/a%0d%0aSet-Cookie:x",
        "/a%09b",
        "/a%7f",
        "/a%c2%85", // NEL, a C1 control
        "/a\u{0}b",
        "/a\tb",
    ]);
}

#[test]
fn empty_segments_are_bad() {
    all_bad(&["//", "//etc/passwd", "/a//b.txt", "/a//", "///"]);
}

#[test]
fn colons_are_not_found() {
    all_not_found(&[
        "/C:/Windows/win.ini",
        "/c:",
        "/c:foo",
        "/a/b.txt::$DATA",
        "/a/b.txt:stream",
        "/a%3ab",
        "/a%3Ab",
    ]);
}

#[test]
fn windows_devices_are_not_found() {
    all_not_found(&[
        "/CON",
        "/con",
        "/Con.txt",
        "/con.txt",
        "/a/PRN",
        "/aux.tar.gz",
        "/NUL",
        "/nul.txt",
        "/nul%20.txt",
        "/COM1",
        "/com9.log",
        "/COM0",
        "/LPT1",
        "/lpt9.txt",
        "/COM%C2%B9",
        "/lpt\u{b3}.txt",
        "/CONIN$",
        "/conout$.txt",
    ]);
    // Only whole stems are devices.
    for path in [
        "/console",
        "/nulls.txt",
        "/com10",
        "/lpt",
        "/com",
        "/a.con",
        "/xnul",
        "/ab\u{e9}",
        "/co\u{e9}",
        "/\u{e9}\u{e9}\u{e9}",
    ] {
        assert!(parse(path, false).is_ok(), "{path:?}");
    }
}

#[test]
fn trailing_dots_and_spaces_are_not_found() {
    all_not_found(&[
        "/a/b.txt.",
        "/a/b.txt%20",
        "/a./b.txt",
        "/a%20/b.txt",
        "/....",
        "/a..",
    ]);
}

#[test]
fn dotfiles_are_not_found_unless_enabled() {
    all_not_found(&[
        "/.env",
        "/a/.env",
        "/%2eenv",
        "/.git/config",
        "/.well-known/x",
    ]);
    for path in ["/.env", "/a/.env", "/%2eenv", "/.well-known/x"] {
        assert!(parse(path, true).is_ok(), "{path:?}");
    }
    assert_eq!(parse("/%2eenv", true).unwrap().as_str(), ".env");
    // The other rules still hold with dotfiles on.
    assert_eq!(parse("/.env.", true).unwrap_err(), PathError::NotFound);
    assert_eq!(parse("/.env%00", true).unwrap_err(), PathError::BadRequest);
}

#[test]
fn long_names_are_not_found() {
    let name = "a".repeat(NAME_MAX);
    assert!(parse(&format!("/{name}"), false).is_ok());
    let name = "a".repeat(NAME_MAX + 1);
    assert_eq!(err(&format!("/{name}")), PathError::NotFound);
}

#[test]
fn bad_request_wins_over_not_found() {
    all_bad(&["/.env/..", "/con/%00", "/c:/a//b", "/.git/%2e%2e"]);
    // And a 404 only when nothing is malformed.
    all_not_found(&["/.env/a", "/a/con"]);
}

/// A directory removed when dropped (std only).
struct Dir(PathBuf);

impl Dir {
    fn new(what: &str) -> Dir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gateway-path-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).unwrap();
        Dir(std::fs::canonicalize(&dir).unwrap())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn resolve_stays_inside_the_root() {
    let outer = Dir::new("resolve");
    let root = outer.0.join("root");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(outer.0.join("canary.txt"), "CANARY").unwrap();
    std::fs::write(root.join("a/b.txt"), "b").unwrap();

    assert_eq!(
        resolve(&root, "a/b.txt", false).unwrap(),
        root.join("a/b.txt")
    );
    assert_eq!(resolve(&root, "", false).unwrap(), root);
    assert_eq!(resolve(&root, "a", false).unwrap(), root.join("a"));

    let kind = |rel: &str, outside: bool| resolve(&root, rel, outside).unwrap_err().kind();
    assert_eq!(kind("missing.txt", false), io::ErrorKind::NotFound);
    assert_eq!(kind("a/b.txt/c", false), io::ErrorKind::NotFound);
    let long = "a/".repeat(PATH_MAX / 2);
    assert_eq!(kind(&long, false), io::ErrorKind::NotFound);

    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("../canary.txt", root.join("escape.txt")).unwrap();
        symlink("..", root.join("up")).unwrap();
        symlink("a/b.txt", root.join("inside.txt")).unwrap();
        symlink("a", root.join("alias")).unwrap();
        symlink("loop", root.join("loop")).unwrap();

        // Links that stay inside are followed.
        assert_eq!(
            resolve(&root, "inside.txt", false).unwrap(),
            root.join("a/b.txt")
        );
        assert_eq!(
            resolve(&root, "alias/b.txt", false).unwrap(),
            root.join("a/b.txt")
        );
        // Links out are refused, in the last component or any other.
        assert_eq!(kind("escape.txt", false), io::ErrorKind::NotFound);
        assert_eq!(kind("up", false), io::ErrorKind::NotFound);
        assert_eq!(kind("up/canary.txt", false), io::ErrorKind::NotFound);
        // Out and back in is the same file, inside: served.
        assert_eq!(
            resolve(&root, "up/root/a/b.txt", false).unwrap(),
            root.join("a/b.txt")
        );
        // ... unless opted in.
        let canary = outer.0.join("canary.txt");
        assert_eq!(resolve(&root, "escape.txt", true).unwrap(), canary);
        assert_eq!(resolve(&root, "up/canary.txt", true).unwrap(), canary);
        // A loop is the owner's problem: passed through, not NotFound.
        assert_ne!(kind("loop", false), io::ErrorKind::NotFound);
    }
}
