//! `cargo run --example demo -- [--listen ADDR] [--unix PATH] [--redis URL] [--name NAME]`
//!
//! The whole stack (see `examples/demo/mod.rs`): static files, login and
//! sessions, CSRF-protected forms, a mounted notes API, a WebSocket echo
//! and a trusted proxy's headers. With no arguments it serves on 127.0.0.1:8000, sessions
//! in memory; `--help` lists the options. `deploy/` runs it as two
//! instances behind nginx.
//!
//! ```text
//! cargo run --example demo
//! # then open http://127.0.0.1:8000/ (log in as ada / lovelace), or:
//! curl http://127.0.0.1:8000/whoami
//! curl -c jar -b jar http://127.0.0.1:8000/login          # the form, with its csrf_token
//! curl -c jar -b jar -d 'user=ada&password=lovelace&csrf_token=…' http://127.0.0.1:8000/login
//! curl -b jar http://127.0.0.1:8000/whoami                # user: ada
//! curl -H 'content-type: application/json' -d '{"title":"milk"}' http://127.0.0.1:8000/api/notes
//! python3 -m websockets ws://127.0.0.1:8000/ws                # the echo: "demo: …"
//! ```

fn main() -> std::process::ExitCode {
    gateway_examples::demo::main()
}
