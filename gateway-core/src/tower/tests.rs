use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ::tower::ServiceExt as _;
use http::{Method, Request};
use http_body::Body as _;
use http_body_util::BodyExt as _;

use super::*;
use crate::environ::GatewayContext;
use crate::{Addr, ConnInfo, RootPath, Scheme};
use crate::{ApplicationExt, fn_app, start};

async fn text(res: Response) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn commit(app: &impl Application, env: Environ) -> Response {
    let Ok(res) = driver::commit(app, env).await;
    res
}

fn hello() -> impl Application + Clone {
    fn_app(|env: Environ| async move {
        match env.path_info() {
            "/fail" => Err(Error::with_status(StatusCode::NOT_FOUND, "no such thing")),
            "/panic" => panic!("boom"),
            _ => start(200, [("content-type", "text/plain"), ("keep-alive", "5")]).body("hello"),
        }
    })
}

#[tokio::test]
async fn app_service_runs_the_driver() {
    let svc = hello().into_service();
    let get = |m: Method, path: &str| {
        Request::builder()
            .method(m)
            .uri(path)
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap()
    };
    let res = svc.clone().oneshot(get(Method::HEAD, "/")).await.unwrap();
    assert_eq!(res.headers()["content-length"], "5");
    assert!(res.body().is_end_stream());
    assert!(!res.headers().contains_key("keep-alive"));

    let res = svc
        .clone()
        .oneshot(get(Method::GET, "/fail"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = svc
        .clone()
        .oneshot(get(Method::GET, "/panic"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let res = svc.oneshot(get(Method::GET, "/")).await.unwrap();
    assert_eq!(text(res).await, "hello");
}

#[test]
fn request_bodies_are_not_boxed_when_they_need_not_be() {
    let empty = into_body(http_body_util::Empty::<Bytes>::new());
    assert!(empty.is_in_memory() && empty.is_end_stream());
    let full = into_body(Body::from("x"));
    assert!(full.is_in_memory() && !full.is_end_stream());
    let streamed = into_body(http_body_util::Full::new(Bytes::from_static(b"x")));
    assert!(!streamed.is_in_memory());
    assert_eq!(streamed.size_hint().exact(), Some(1));
}

#[tokio::test]
async fn app_service_streams_a_foreign_request_body() {
    let echo = fn_app(|mut env: Environ| async move {
        start(200, [("content-type", "text/plain")]).body(env.take_body())
    });
    let req = Request::post("/")
        .body(http_body_util::Full::new(Bytes::from_static(b"ping")))
        .unwrap();
    let res = echo.into_service().oneshot(req).await.unwrap();
    assert_eq!(text(res).await, "ping");
}

fn mounted_env(target: &str) -> Environ {
    let mut env = Environ::from_request(
        Request::get(target)
            .header("host", "example.com")
            .body(Body::empty())
            .unwrap(),
    );
    env.set_root_path(Some(RootPath::from_static("/outer")));
    assert!(env.mount("/app"));
    *env.conn_mut() = ConnInfo::new(
        Addr::Tcp("10.0.0.1:1234".parse().unwrap()),
        Addr::Tcp("10.0.0.2:443".parse().unwrap()),
    )
    .with_scheme(Scheme::Https, true);
    env
}

/// What an application saw, as one line.
fn describe(env: &Environ) -> String {
    format!(
        "{} {} {} {} {} {} context:{}",
        env.script_name(),
        env.path_info(),
        env.query(),
        env.conn().peer(),
        env.conn().local(),
        env.scheme(),
        env.extensions().get::<GatewayContext>().is_some(),
    )
}

#[tokio::test]
async fn a_layer_round_trip_loses_nothing() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let layer = ::tower::layer::layer_fn(move |inner: AppService<_>| {
        let log = log.clone();
        ::tower::service_fn(move |req: http::Request<Body>| {
            let context = req.extensions().get::<GatewayContext>().unwrap();
            log.lock().unwrap().push(format!(
                "{} {} {}",
                req.uri(),
                context.script_name(),
                context.original_uri()
            ));
            inner.clone().oneshot(req)
        })
    });
    let app = fn_app(|env: Environ| async move {
        start(200, [("content-type", "text/plain")]).body(describe(&env))
    })
    .with(from_layer(layer));

    let res = commit(&app, mounted_env("/app/a%2Fb?x=1&y")).await;
    assert_eq!(
        text(res).await,
        "/outer/app /a%2Fb x=1&y 10.0.0.1:1234 10.0.0.2:443 https context:false"
    );
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["/a%2Fb?x=1&y /outer/app /app/a%2Fb?x=1&y"]
    );
}

#[tokio::test]
async fn a_rewriting_layer_rewrites_below_the_mount_point() {
    let layer = ::tower::util::MapRequestLayer::new(|mut req: http::Request<Body>| {
        *req.uri_mut() = "/rewritten?z".parse().unwrap();
        req
    });
    let app = fn_app(|env: Environ| async move {
        start(200, [("content-type", "text/plain")]).body(format!(
            "{} {}",
            describe(&env),
            env.uri()
        ))
    })
    .with(from_layer(layer));
    let res = commit(&app, mounted_env("/app/x")).await;
    assert_eq!(
        text(res).await,
        "/outer/app /rewritten z 10.0.0.1:1234 10.0.0.2:443 https context:false /app/rewritten?z"
    );
}

#[tokio::test]
async fn layer_middleware_forwards_startup_and_shutdown() {
    struct Counted(Arc<AtomicUsize>);
    impl Application for Counted {
        async fn call(&self, _env: Environ) -> Result<Response, Error> {
            start(204, crate::response::NO_HEADERS).empty()
        }
        async fn startup(&self) -> Result<(), Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn shutdown(&self) {
            self.0.fetch_add(10, Ordering::SeqCst);
        }
    }
    let count = Arc::new(AtomicUsize::new(0));
    let app = Counted(count.clone()).with(from_layer(::tower::layer::util::Identity::new()));
    app.startup().await.unwrap();
    app.shutdown().await;
    assert_eq!(count.load(Ordering::SeqCst), 11);
}

fn env(target: &str) -> Environ {
    Environ::from_request(Request::get(target).body(Body::empty()).unwrap())
}

#[tokio::test]
async fn service_errors_map_to_statuses() {
    // Never answers: the timeout fires.
    let pending = ::tower::service_fn(|_req: http::Request<Body>| {
        std::future::pending::<Result<http::Response<Body>, Infallible>>()
    });
    let timed = from_service(::tower::timeout::Timeout::new(
        pending,
        Duration::from_millis(1),
    ));
    let res = commit(&timed, env("/")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Never ready: the load shedder refuses.
    #[derive(Clone)]
    struct Busy;
    impl Service<http::Request<Body>> for Busy {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<http::Response<Body>, Infallible>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Pending
        }
        fn call(&mut self, _req: http::Request<Body>) -> Self::Future {
            unreachable!("never ready")
        }
    }
    let shed = from_service(::tower::load_shed::LoadShed::new(Busy));
    let res = commit(&shed, env("/")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    let failing = |err: fn() -> BoxError| {
        from_service(::tower::service_fn(move |_req: http::Request<Body>| {
            std::future::ready(Err::<http::Response<Body>, _>(err()))
        }))
    };
    let res = commit(&failing(|| "plain failure".into()), env("/")).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let res = commit(
        &failing(|| Error::with_status(StatusCode::FORBIDDEN, "not yours").into()),
        env("/"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = commit(
        &failing(|| Box::new(::tower::timeout::error::Elapsed::new())),
        env("/"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn hosted_service_sees_path_info_and_returns_its_body() {
    let svc = ::tower::service_fn(|req: http::Request<Body>| async move {
        let body = http_body_util::Full::new(Bytes::from(req.uri().to_string()));
        Ok::<_, Infallible>(http::Response::new(body))
    });
    let app = from_service(::tower::util::BoxCloneSyncService::new(svc));
    let res = commit(&app, mounted_env("/app?q")).await;
    assert_eq!(text(res).await, "/?q");

    let empty = from_service(::tower::service_fn(|_req: http::Request<Body>| async {
        Ok::<_, Infallible>(http::Response::new(http_body_util::Empty::<Bytes>::new()))
    }));
    let res = commit(&empty, env("/")).await;
    assert!(res.body().is_in_memory(), "an ended body is not boxed");
}
