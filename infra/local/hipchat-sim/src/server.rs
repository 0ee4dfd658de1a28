//! Accept loop: hyper HTTP/1 over the axum router, so a response marked [`DropConnection`] can close
//! the connection without a single byte of answer (the `Drop` fault).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::v2::DropConnection;

/// The error that makes hyper close the connection without answering.
#[derive(Debug)]
struct ConnectionDropped;

impl fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for ConnectionDropped {}

#[derive(Clone)]
struct Service {
    app: Router,
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Body>;
    type Error = ConnectionDropped;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, ConnectionDropped>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let mut app = self.app.clone();
        Box::pin(async move {
            // `Router` is always ready, so calling without `poll_ready` is fine.
            let response = match tower_service::Service::call(&mut app, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() { Err(ConnectionDropped) } else { Ok(response) }
        })
    }
}

/// Serve `app` on `listener` until the returned future is dropped (which also drops every connection).
pub(crate) async fn serve(listener: TcpListener, app: Router) {
    let service = Service { app };
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let service = service.clone();
                    connections.spawn(async move {
                        let result = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        if let Err(error) = result {
                            tracing::debug!(%peer, %error, "connection closed");
                        }
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
