//! The adapter conformance kit (`gateway-conformance`) against every
//! adapter in this repository: gateway-hyper over TCP (HTTP/1.1 and HTTP/2
//! prior knowledge on one port), TLS (ALPN) and a Unix socket, and the CGI
//! adapter example under Python's CGI host, gateway-fastcgi behind nginx
//! (TCP and Unix), each declaring what it really
//! can do. A failed rule fails the test with the kit's report.

mod cgi;
mod fastcgi;
mod hyper;
