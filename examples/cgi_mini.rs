//! `cgi_mini`: the mini-framework application as a CGI program.
//!
//! ```text
//! cargo build --example cgi_mini
//! mkdir -p /tmp/site/cgi-bin && cp target/debug/examples/cgi_mini /tmp/site/cgi-bin/
//! python3 -m http.server --cgi --directory /tmp/site 8000
//! curl http://127.0.0.1:8000/cgi-bin/cgi_mini/
//! ```

fn main() -> std::process::ExitCode {
    gateway_examples::init_tracing();
    gateway_examples::cgi::run_cgi(gateway_examples::mini_framework::app())
}
