//! A server out of file descriptors (EMFILE on `accept`) backs off: it
//! neither exits nor spins, and serves again once descriptors are free.
//!
//! The server runs as its own process under `ulimit -n 64`, so the limit
//! does not touch the test process.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use gateway_tests::spawn_listening;

/// User plus system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server is alive");
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 of the whole line.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn get(addr: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[test]
fn accept_backs_off_at_the_descriptor_limit() {
    let binary = env!("CARGO_BIN_EXE_hello_server");
    let (mut server, addr) = spawn_listening(
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n 64 && exec '{binary}'")),
    );
    let child = &mut server.0;
    let pid = child.id();
    assert!(get(&addr).unwrap().starts_with("HTTP/1.1 200"));

    // More connections than the server has descriptors for, yet within
    // the listen queue (128), so that the kernel completes every one of
    // them: the server's accept fails with EMFILE once its table is full.
    let flood: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    assert!(
        flood.len() > 64,
        "the flood must exceed the limit ({})",
        flood.len()
    );
    std::thread::sleep(Duration::from_millis(300));

    // Backing off, not spinning: well under half a CPU over a second.
    let ticks_per_second = 100; // USER_HZ on Linux
    let before = cpu_ticks(pid);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    let elapsed_ticks = (start.elapsed().as_secs_f64() * f64::from(ticks_per_second)) as u64;
    assert!(
        used * 2 < elapsed_ticks,
        "the server used {used} of {elapsed_ticks} ticks while out of descriptors: spinning"
    );
    assert!(child.try_wait().unwrap().is_none(), "the server exited");

    // Descriptors free again: it serves new clients.
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get(&addr) {
            Ok(response) if response.starts_with("HTTP/1.1 200") => break,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("not serving after the flood: {other:?}"),
        }
    }

    // Stopped by its PID.
    Command::new("kill").arg(pid.to_string()).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}
