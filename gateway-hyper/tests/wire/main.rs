//! gateway-hyper over real sockets: what a client sees on the wire, and
//! what becomes of the application.

mod app_lifetime;
mod chunked;
mod head_limit;
mod slow_clients;
mod support;
