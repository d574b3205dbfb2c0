//! `cgi_hello`: the hello application as a CGI program.
//!
//! ```text
//! cargo build --example cgi_hello
//! mkdir -p /tmp/site/cgi-bin && cp target/debug/examples/cgi_hello /tmp/site/cgi-bin/
//! python3 -m http.server --cgi --directory /tmp/site 8000
//! curl http://127.0.0.1:8000/cgi-bin/cgi_hello/
//! ```
//!
//! Run by hand, it behaves as a CGI host would make it:
//!
//! ```text
//! REQUEST_METHOD=GET PATH_INFO=/ target/debug/examples/cgi_hello
//! ```

fn main() -> std::process::ExitCode {
    gateway_examples::init_tracing();
    gateway_examples::cgi::run_cgi(gateway_examples::hello::app())
}
