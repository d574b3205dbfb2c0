fn main() {
    use gateway_core::*;
    println!("Environ {}", std::mem::size_of::<Environ>());
    println!("Body {}", std::mem::size_of::<Body>());
    println!("Response {}", std::mem::size_of::<Response>());
    println!("ConnInfo {}", std::mem::size_of::<ConnInfo>());
    println!("Parts {}", std::mem::size_of::<http::request::Parts>());
    println!("Req<Incoming> {}", std::mem::size_of::<http::Request<hyper::body::Incoming>>());
    let app = gateway_examples::hello::app();
    let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    let call = app.call(Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap()));
    println!("Hello::call future {}", std::mem::size_of_val(&call));
    let fut = driver::commit(&app, env);
    println!("commit future {}", std::mem::size_of_val(&fut));
}
