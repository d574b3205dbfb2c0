//! The programs run directly, with the meta-variables a host would set.

use super::*;

/// Runs `program` as a CGI host would: only the given meta-variables,
/// `stdin` as the body. Returns the exit status and stdout.
fn run_direct(program: &str, vars: &[(&str, &str)], stdin: &[u8]) -> (bool, Vec<u8>) {
    let mut child = Command::new(program)
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the CGI program");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.success(), out.stdout)
}

#[test]
fn the_programs_write_rfc_3875_responses() {
    let (ok, out) = run_direct(
        HELLO,
        &[
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/cgi-bin/cgi_hello"),
            ("PATH_INFO", "/"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SERVER_NAME", "localhost"),
            ("SERVER_PORT", "80"),
        ],
        b"",
    );
    assert!(ok);
    let expected = format!(
        "Status: 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\r\n{GREETING}",
        GREETING.len()
    );
    assert_eq!(String::from_utf8_lossy(&out), expected);

    let (ok, out) = run_direct(
        HELLO,
        &[("REQUEST_METHOD", "PUT"), ("PATH_INFO", "/echo")],
        b"",
    );
    assert!(ok);
    let (head, body) = split_head(&out);
    assert!(
        head.starts_with("Status: 405 Method Not Allowed\r\n"),
        "{head}"
    );
    assert_eq!(body, b"Method Not Allowed");

    // A body cut short of CONTENT_LENGTH after the commit: the output
    // stops and the program fails, so the host can tell.
    let vars = [
        ("REQUEST_METHOD", "POST"),
        ("PATH_INFO", "/echo"),
        ("CONTENT_LENGTH", "10"),
    ];
    let (ok, out) = run_direct(HELLO, &vars, b"12345");
    assert!(!ok, "an aborted response is a failed run");
    let (head, body) = split_head(&out);
    assert!(head.contains("content-length: 10"), "{head}");
    assert_eq!(body, b"12345");

    // Not started by a CGI host.
    let (_, out) = run_direct(MINI, &[], b"");
    assert!(out.starts_with(b"Status: 500 Internal Server Error\r\n"));
}
