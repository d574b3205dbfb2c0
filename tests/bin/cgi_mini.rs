//! `cgi_mini`: the mini-framework example as a CGI program, for the `cgi`
//! test (which runs it under a real CGI host).

fn main() -> std::process::ExitCode {
    gateway_examples::cgi::run_cgi(gateway_examples::mini_framework::app())
}
