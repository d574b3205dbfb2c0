//! `demo_server`: the demo example (`gateway_examples::demo`), the same
//! program as `cargo run --example demo`, as a binary of this package so
//! that the deploy tests can start, SIGKILL and SIGTERM real processes.
//! It prints `listening on http://ADDR` or `listening on unix:PATH` once
//! per listener, then serves until SIGTERM.

fn main() -> std::process::ExitCode {
    gateway_examples::demo::main()
}
