//! `cgi_conformance`: the conformance kit's battery as a CGI program, for
//! the `conformance` tests (which run it under a real CGI host). It
//! records what happens to it in the file the kit names in the
//! environment.

fn main() -> std::process::ExitCode {
    gateway_examples::cgi::Cgi::new()
        .max_body_size(64 * 1024)
        .run(gateway_conformance::Battery::from_env())
}
